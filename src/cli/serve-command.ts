import { serve } from '../app/serve.js';
import { UsageError } from '../errors.js';
import { watchConfig } from './serve-config.js';
import { Logger } from './output.js';
import { parseServeArgs, SERVE_HELP } from './serve-help.js';
import { serveOptionsFromFlags } from './serve-flags.js';
import { reportStart } from './serve-report.js';
import { runUntilSignal } from './serve-run.js';

export { SERVE_HELP } from './serve-help.js';

/** `framecast serve`: runs until SIGINT/SIGTERM; returns the exit code. */
export async function serveCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseServeArgs(argv);
  if (values.help) {
    process.stdout.write(SERVE_HELP + '\n');
    return 0;
  }
  const { options: serveOpts, streamFlags, configPath } = serveOptionsFromFlags(values, positionals);
  const log = new Logger(values.json ?? false);
  const server = await serve(serveOpts).catch((err: unknown) => {
    // A bad value (in the file, the streams it gives, or the options) is a usage error: one line,
    // naming the file when there is one, never an internal error with a stack trace.
    if (err instanceof RangeError)
      throw new UsageError(configPath !== undefined ? `${configPath}: ${err.message}` : err.message);
    throw err;
  });
  const unwatch = configPath !== undefined ? watchConfig(server, configPath, streamFlags, log) : () => {};
  // Signal handlers go in before the 'listening' line: a supervisor may stop us as soon as it reads it.
  const done = runUntilSignal(server, log);
  reportStart(server, log);
  const code = await done;
  unwatch();
  return code;
}
