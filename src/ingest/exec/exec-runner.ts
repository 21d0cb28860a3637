import { SafeEmitter } from '../../util/safe-emitter.js';
import { redactCredentials } from '../../util/redact.js';
import { commandEnv, runShell, type ShellExit, type ShellRun } from '../../util/shell.js';

/** Events of an exec source's command. */
export interface ExecRunnerEvents {
  /** The command was started (its shell's pid). */
  started: [pid: number];
  /** The command ended: one line for the log (how, and whether it is restarted). */
  exit: [line: string];
  'listener-error': [event: string, err: unknown];
}

/** Timings of an exec source's command. */
export interface ExecTimings {
  /** After SIGTERM, the command has this long to end before SIGKILL. Default 5 s. */
  graceMs?: number;
  /** First restart delay after the command exited while wanted; doubled each time up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/** A command that ran this long before it exited starts its next restart from the first delay again. */
const STEADY_MS = 30_000;

/**
 * The command of an `exec:` stream: started while the stream's source is wanted (its hub transmits:
 * someone watches or records), stopped (SIGTERM to its process group, SIGKILL after a grace) when
 * not; restarted with a bounded backoff when it exits while still wanted. It outlives transmissions
 * (like the publisher slot); `close()` ends it for good.
 */
export class ExecRunner extends SafeEmitter<ExecRunnerEvents> {
  readonly #command: string;
  readonly #env: () => Readonly<Record<string, string>> | null;
  readonly #graceMs: number;
  readonly #minBackoffMs: number;
  readonly #maxBackoffMs: number;
  #run: ShellRun | null = null;
  /** Runs that were told to stop (their exit is not a failure). */
  readonly #stopped = new WeakSet<ShellRun>();
  #wanted = false;
  #closed = false;
  #backoffMs: number;
  #restart: NodeJS.Timeout | null = null;
  #kill: NodeJS.Timeout | null = null;
  /** Starts and exits so far, for /stats and tests. */
  starts = 0;

  constructor(
    command: string,
    env: () => Readonly<Record<string, string>> | null,
    timings: ExecTimings = {},
  ) {
    super();
    this.#command = command;
    this.#env = env;
    this.#graceMs = timings.graceMs ?? 5000;
    this.#minBackoffMs = timings.minBackoffMs ?? 1000;
    this.#maxBackoffMs = timings.maxBackoffMs ?? 30_000;
    this.#backoffMs = this.#minBackoffMs;
  }

  /** The running command's pid (its process group), or null. */
  get pid(): number | null {
    return this.#run?.pid ?? null;
  }

  /** The source is wanted: the command runs (now, or once the one being stopped has ended). */
  start(): void {
    if (this.#closed) return;
    this.#wanted = true;
    if (this.#run === null && this.#restart === null) this.#spawn();
  }

  /** The source is not wanted: the command is stopped. */
  stop(): void {
    this.#wanted = false;
    if (this.#restart) clearTimeout(this.#restart);
    this.#restart = null;
    const run = this.#run;
    if (run === null || this.#stopped.has(run)) return;
    this.#stopped.add(run);
    run.kill('SIGTERM');
    this.#kill = setTimeout(() => run.kill('SIGKILL'), this.#graceMs);
  }

  /** The stream is gone: the command is stopped and never started again. Idempotent. */
  close(): void {
    this.#closed = true;
    this.stop();
  }

  #spawn(): void {
    const env = this.#env();
    if (env === null) {
      // The server does not listen yet (a preloaded stream starts before): the command would not
      // know where to publish. Asked again shortly.
      this.#restart = setTimeout(() => {
        this.#restart = null;
        if (this.#wanted && !this.#closed && this.#run === null) this.#spawn();
      }, 50);
      return;
    }
    const run = runShell(this.#command, commandEnv(env));
    this.#run = run;
    this.starts++;
    const startedAt = Date.now();
    if (run.pid !== null) this.emit('started', run.pid);
    void run.exited.then((exit) => this.#exited(run, exit, Date.now() - startedAt));
  }

  #exited(run: ShellRun, exit: ShellExit, ranMs: number): void {
    if (this.#run !== run) return;
    this.#run = null;
    if (this.#kill) clearTimeout(this.#kill);
    this.#kill = null;
    // The group may hold the command's children still (a pipeline whose shell was killed).
    run.kill('SIGKILL');
    const line = run.lastLine();
    const how = `${exit.error ?? (exit.code !== null ? `exit code ${exit.code}` : `ended by ${exit.signal}`)}${line ? `: ${redactCredentials(line)}` : ''}`;
    if (this.#stopped.has(run)) {
      this.emit('exit', `command stopped (${how})`);
      // Wanted again while it was stopping: start anew now that it is gone.
      if (this.#wanted && !this.#closed) this.#spawn();
      return;
    }
    if (!this.#wanted || this.#closed) {
      this.emit('exit', `command exited (${how})`);
      return;
    }
    if (ranMs >= STEADY_MS) this.#backoffMs = this.#minBackoffMs;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#maxBackoffMs);
    this.emit(
      'exit',
      `command exited (${how}) while the stream is watched: restarting in ${(delay / 1000).toFixed(1)} s`,
    );
    this.#restart = setTimeout(() => {
      this.#restart = null;
      if (this.#wanted && !this.#closed && this.#run === null) this.#spawn();
    }, delay);
  }
}
