/**
 * Runs the real CLI (`node bin/framecast ...`, i.e. the built dist/) as child processes: one-shot
 * commands, a `serve` that stays up (port 0, port read from its 'listening' line), `play --json`
 * returning its parsed summary, and commands inside a pseudo-terminal (for the 'q' key).
 * Every process is tracked: call `killTracked()` (from ./processes.js) in afterEach/afterAll.
 */
import type { ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnTracked, waitExit, type Exit } from './processes.js';

/** Repository root (where package.json is). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The CLI entry point the tests run. */
export const BIN = join(REPO_ROOT, 'bin', 'framecast');

/** A finished CLI run. */
export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
  /** Wall-clock duration of the run. */
  ms: number;
}

/** Options for running a CLI command. */
export interface RunOptions {
  /** Kill the process after this long (default 20 s); the result then has timedOut: true. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Collects a child's output as text, line by line. */
class Output {
  text = '';
  readonly lines: string[];
  #partial = '';
  readonly #listeners = new Set<(line: string) => void>();

  constructor(lines: string[] = []) {
    this.lines = lines;
  }

  attach(stream: NodeJS.ReadableStream | null): void {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      this.text += chunk;
      const parts = (this.#partial + chunk).split('\n');
      this.#partial = parts.pop() ?? '';
      for (const line of parts) {
        this.lines.push(line);
        for (const l of this.#listeners) l(line);
      }
    });
  }

  onLine(fn: (line: string) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
}

/** Spawns `node bin/framecast ...args` (tracked, stdin a pipe). */
export function spawnCli(args: string[], opts: RunOptions = {}): ChildProcess {
  return spawnTracked(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Runs `framecast ...args` to completion and returns exit code, output and duration. */
export async function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  const t0 = Date.now();
  const child = spawnCli(args, opts);
  const out = new Output();
  const err = new Output();
  out.attach(child.stdout);
  err.attach(child.stderr);
  const exit = await waitExit(child, opts.timeoutMs ?? 20_000);
  await streamsClosed(child);
  return { ...exit, stdout: out.text, stderr: err.text, ms: Date.now() - t0 };
}

function streamsClosed(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (child.stdout?.readableEnded !== false && child.stderr?.readableEnded !== false) return r();
    child.once('close', () => r());
    setTimeout(r, 500).unref();
  });
}

/** A JSON log event of `serve --json`. */
export interface ServeEvent {
  event: string;
  [key: string]: unknown;
}

/** A running `framecast serve`. */
export interface ServeHandle {
  child: ChildProcess;
  pid: number;
  port: number;
  /** Every stdout line so far. */
  lines: string[];
  /** Every stdout line that parsed as JSON (with --json, all of them). */
  events: ServeEvent[];
  stderr: () => string;
  /** Resolves with the first event named `name` (past or future) for which `match` holds. */
  waitForEvent: (name: string, timeoutMs?: number, match?: (e: ServeEvent) => boolean) => Promise<ServeEvent>;
  /** Resolves with the number of events named `name` once there are at least `count`. */
  waitForEvents: (name: string, count: number, timeoutMs?: number) => Promise<ServeEvent[]>;
  /** Sends `signal` (default SIGTERM) and waits for the exit. */
  stop: (signal?: NodeJS.Signals, timeoutMs?: number) => Promise<Exit>;
}

/** Options of startServe. */
export interface ServeStartOptions extends RunOptions {
  /** Add --json (default true): the port is read from the JSON 'listening' event. */
  json?: boolean;
}

/**
 * Starts `framecast serve ...args` on port 0 (unless args give --port) and resolves once it listens,
 * with the port it chose. Rejects with the process's stderr if it exits first or does not listen in time.
 */
export async function startServe(args: string[], opts: ServeStartOptions = {}): Promise<ServeHandle> {
  const json = opts.json ?? true;
  const full = ['serve', ...args];
  const has = (flag: string): boolean => args.some((a) => a === flag || a.startsWith(`${flag}=`));
  if (!has('--port')) full.push('--port', '0');
  if (json && !has('--json')) full.push('--json');
  const child = spawnCli(full, opts);
  const out = new Output();
  const err = new Output();
  out.attach(child.stdout);
  err.attach(child.stderr);
  const events: ServeEvent[] = [];
  out.onLine((line) => {
    try {
      const v = JSON.parse(line) as unknown;
      if (v && typeof v === 'object' && 'event' in v) events.push(v as ServeEvent);
    } catch {
      /* a human line */
    }
  });

  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`serve did not listen within ${opts.timeoutMs ?? 15_000} ms: ${err.text}`));
    }, opts.timeoutMs ?? 15_000);
    const check = (line: string): void => {
      let p: number | null = null;
      if (json) {
        try {
          const v = JSON.parse(line) as { event?: string; port?: number };
          if (v.event === 'listening' && typeof v.port === 'number') p = v.port;
        } catch {
          /* not JSON */
        }
      } else {
        const m = /tcp:\/\/(?:\[[^\]]+\]|[^\s:]+):(\d+)/.exec(line);
        if (m) p = Number(m[1]);
      }
      if (p !== null) {
        clearTimeout(timer);
        off();
        resolvePort(p);
      }
    };
    const off = out.onLine(check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before listening: ${err.text.trim()}`));
    });
  });

  const waitForEvent = (
    name: string,
    timeoutMs = 15_000,
    match: (e: ServeEvent) => boolean = () => true,
  ): Promise<ServeEvent> =>
    new Promise((res, rej) => {
      const found = events.find((e) => e.event === name && match(e));
      if (found) return res(found);
      const timer = setTimeout(() => {
        off();
        rej(new Error(`no '${name}' event within ${timeoutMs} ms; got: ${out.text.slice(-2000)}`));
      }, timeoutMs);
      const off = out.onLine(() => {
        const e = events.find((x) => x.event === name && match(x));
        if (e) {
          clearTimeout(timer);
          off();
          res(e);
        }
      });
    });

  const waitForEvents = async (name: string, count: number, timeoutMs = 15_000): Promise<ServeEvent[]> => {
    let n = 0;
    await waitForEvent(name, timeoutMs, () => ++n >= count);
    return events.filter((e) => e.event === name);
  };

  return {
    child,
    pid: child.pid as number,
    port,
    lines: out.lines,
    events,
    stderr: () => err.text,
    waitForEvent,
    waitForEvents,
    stop: async (signal = 'SIGTERM', timeoutMs = 5000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return waitExit(child, timeoutMs);
    },
  };
}

/** The summary `framecast play --json` prints (the fields the tests rely on). */
export interface PlaySummary {
  frames: number;
  bytes: number;
  seconds: number;
  fps: number;
  width: number | null;
  height: number | null;
  badFrames: number;
  protocol: string;
  latencyMs: { p50: number; p99: number } | null;
  error?: { code: string; message: string };
}

/** A finished `play --json` run: the process result and its parsed summary (null if none printed). */
export interface PlayResult extends CliResult {
  summary: PlaySummary | null;
}

/** Parses the last JSON line of a `play --json` stdout. */
export function parsePlaySummary(stdout: string): PlaySummary | null {
  const lines = stdout.trim().split('\n').filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      return JSON.parse(lines[i] as string) as PlaySummary;
    } catch {
      /* not JSON */
    }
  }
  return null;
}

/** Runs `framecast play ADDRESS --json ...args` (ADDRESS a port on 127.0.0.1, or HOST:PORT). */
export async function runPlay(
  address: number | string,
  args: string[] = [],
  opts: RunOptions = {},
): Promise<PlayResult> {
  const addr = typeof address === 'number' ? `127.0.0.1:${address}` : address;
  const r = await runCli(['play', addr, '--json', ...args], opts);
  return { ...r, summary: parsePlaySummary(r.stdout) };
}

/** Quotes one argument for /bin/sh. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs `framecast ...args` inside a pseudo-terminal via util-linux `script`, so its stdin is a TTY and
 * single keys work: write a key with `child.stdin.write('q')`. The output is the terminal's (with \r).
 * The process stays in our process group: `script` forwards SIGTERM/SIGKILL handling to its child.
 */
export function spawnCliInPty(args: string[], opts: RunOptions = {}): ChildProcess {
  const cmd = [process.execPath, BIN, ...args].map(shellQuote).join(' ');
  return spawnTracked('script', ['-qfec', cmd, '/dev/null'], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Attaches a line collector to a child's stdout (and stderr) for processes spawned by hand. */
export function collectOutput(child: ChildProcess): {
  text: () => string;
  lines: string[];
  onLine: (fn: (line: string) => void) => () => void;
} {
  // One collector per stream (a shared partial line would interleave them); lines go to one list.
  const lines: string[] = [];
  const out = new Output(lines);
  const err = new Output(lines);
  out.attach(child.stdout);
  err.attach(child.stderr);
  return {
    text: () => out.text + err.text,
    lines,
    onLine: (fn) => {
      const a = out.onLine(fn);
      const b = err.onLine(fn);
      return () => {
        a();
        b();
      };
    },
  };
}
