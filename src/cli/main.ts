import { createRequire } from 'node:module';
import { isFramecastError } from '../errors.js';
import { playCommand, PLAY_HELP } from './play-command.js';
import { serveCommand, SERVE_HELP } from './serve-command.js';
import { publishCommand } from './publish-command.js';
import { edgeCommand } from './edge-command.js';
import { hashPasswordCommand } from './hash-password-command.js';
import { signCommand } from './sign-command.js';

const HELP = `Usage: framecast <command> [options]

Commands:
  serve [SOURCE]        stream a file, URL, webcam or the test pattern (default) on TCP 9999
  play [HOST[:PORT]]    receive a stream (framecast's or the seed's servidor.py)
  publish SOURCE HOST[:PORT]/NAME   push a source's frames into a server's publisher stream
  edge --bus nats://HOST:PORT       serve origins' streams from a NATS frame bus
  hash-password         print a password's hash for the config file's auth.users (password on stdin)
  sign --stream NAME --expires 15m  make a signed link: a token for one stream, for a while

Run 'framecast <command> --help' for a command's options.
framecast --version prints the version.`;

/** Runs the CLI and exits with its code: 0 ok, 1 runtime error, 2 usage error. */
export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  let code: number;
  try {
    switch (command) {
      case 'serve':
        code = await serveCommand(rest);
        break;
      case 'play':
        code = await playCommand(rest);
        break;
      case 'publish':
        code = await publishCommand(rest);
        break;
      case 'edge':
        code = await edgeCommand(rest);
        break;
      case 'hash-password':
        code = await hashPasswordCommand(rest);
        break;
      case 'sign':
        code = signCommand(rest);
        break;
      case '--version':
      case '-v': {
        const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
        process.stdout.write(pkg.version + '\n');
        code = 0;
        break;
      }
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(`${HELP}\n`);
        code = command === undefined ? 2 : 0;
        break;
      default:
        process.stderr.write(
          `framecast: unknown command '${command}' (expected serve, play, publish, edge, hash-password or sign)\n${HELP}\n`,
        );
        code = 2;
    }
  } catch (err) {
    if (isFramecastError(err)) {
      process.stderr.write(`framecast: ${err.message}\n`);
      code = err.exitCode;
    } else {
      process.stderr.write(`framecast: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
      code = 1;
    }
  }
  // Let stdout/stderr flush, then exit: a lingering handle must never keep the CLI alive.
  process.exitCode = code;
  setTimeout(() => process.exit(code), 50).unref();
}

export { PLAY_HELP, SERVE_HELP };
