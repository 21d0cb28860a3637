import { spawn, type ChildProcess } from 'node:child_process';

/** How a command run by `runShell` ended. */
export interface ShellExit {
  /** Exit code, or null when a signal ended it (or it never started). */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why it could not be started (one line), else null. */
  error: string | null;
}

/** A command running in a process group of its own. */
export interface ShellRun {
  /** The shell's pid (also its process group's id), or null when it could not be started. */
  readonly pid: number | null;
  /** Resolves once the shell exited (never rejects). */
  readonly exited: Promise<ShellExit>;
  /** The last line the command wrote on stderr (at most 200 characters), for an exit's log line. */
  lastLine(): string;
  /** Signals the whole group: the shell and everything it started. Idempotent after the exit. */
  kill(signal: NodeJS.Signals): void;
}

/** Our own variables that may hold a secret: never handed to a command we did not give them to. */
const SECRET_ENV = /^FRAMECAST_\w*(TOKEN|PASSWORD|SECRET|KEY)\w*$/;

/**
 * The environment of a command the server starts: its own, less the server's secrets, plus `extra`
 * (values are only ever passed this way, never put into the command's text).
 */
export function commandEnv(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!SECRET_ENV.test(k)) env[k] = v;
  return { ...env, ...extra };
}

/** Process groups of commands still running: killed if this process exits before they end. */
const live = new Set<number>();
let exitHook = false;

function track(pid: number): void {
  if (!exitHook) {
    exitHook = true;
    // A detached group outlives us: a server that exits (even forced) leaves no command behind.
    process.once('exit', () => {
      for (const p of live) killGroup(p, 'SIGKILL');
    });
  }
  live.add(pid);
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    // The group outlives the shell when it started children: they are signalled even then.
    process.kill(-pid, signal);
  } catch {
    // Nobody left in the group.
  }
}

/** How long a command's exit waits for the rest of its stderr. */
const STDERR_DRAIN_MS = 200;

/**
 * Runs `command` with /bin/sh -c in a new process group (so a timeout can end the shell and its
 * children at once). Its output is not kept, but for the last line of stderr.
 */
export function runShell(command: string, env: NodeJS.ProcessEnv): ShellRun {
  let last = '';
  let child: ChildProcess;
  try {
    // A NUL anywhere in the environment makes spawn throw: a value a peer shaped must not do that.
    const clean = Object.fromEntries(
      Object.entries(env).map(([k, v]) => [k, v === undefined ? v : v.replaceAll('\0', '')]),
    );
    child = spawn('/bin/sh', ['-c', command], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: clean,
    });
  } catch (err) {
    const error = (err as Error).message.split('\n')[0] ?? 'spawn failed';
    return {
      pid: null,
      exited: Promise.resolve({ code: null, signal: null, error }),
      lastLine: () => '',
      kill: () => {},
    };
  }
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-4096);
    const lines = tail.split('\n').filter((l) => l.trim() !== '');
    last = (lines[lines.length - 1] ?? '').trim().slice(0, 200);
  });
  const exited = new Promise<ShellExit>((resolve) => {
    child.once('error', (err) => {
      resolve({ code: null, signal: null, error: err.message.split('\n')[0] ?? 'spawn failed' });
    });
    child.once('exit', (code, signal) => {
      // 'exit' may come before the last of stderr is read (its last line names why the command
      // failed): wait for stderr's end, at most STDERR_DRAIN_MS (a child the command left running
      // may hold it open).
      const stderr = child.stderr;
      if (!stderr || stderr.readableEnded) return resolve({ code, signal, error: null });
      const done = (): void => {
        clearTimeout(timer);
        resolve({ code, signal, error: null });
      };
      const timer = setTimeout(done, STDERR_DRAIN_MS);
      stderr.once('end', done);
      stderr.once('close', done);
    });
  });
  const pid = child.pid ?? null;
  if (pid !== null) {
    track(pid);
    void exited.then(() => live.delete(pid));
  }
  return {
    pid,
    exited,
    lastLine: () => last,
    kill(signal) {
      if (pid !== null) killGroup(pid, signal);
    },
  };
}
