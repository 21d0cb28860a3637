import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { childPids } from './proc.js';

/** Kernel clock ticks per second (USER_HZ). */
const TICKS = 100;

/** CPU (user + system, ms) of one thread, with its name (`comm`) and the process it belongs to. */
export interface ThreadCpu {
  pid: number;
  tid: number;
  comm: string;
  cpuMs: number;
}

function statCpu(path: string): { comm: string; cpuMs: number } | null {
  try {
    const stat = readFileSync(path, 'utf8');
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const f = stat.slice(close + 2).split(' ');
    return { comm: stat.slice(open + 1, close), cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / TICKS };
  } catch {
    return null;
  }
}

/** Every thread of `pid` now (/proc/PID/task/TID/stat: utime + stime, comm). */
export function threadsOf(pid: number): ThreadCpu[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: ThreadCpu[] = [];
  for (const t of tids) {
    const s = statCpu(`/proc/${pid}/task/${t}/stat`);
    if (s) out.push({ pid, tid: Number(t), ...s });
  }
  return out;
}

/** Every thread of `pid` and of its descendants now. */
export function treeThreads(pid: number): ThreadCpu[] {
  const out = threadsOf(pid);
  for (const c of childPids(pid)) out.push(...treeThreads(c));
  return out;
}

/**
 * Polls the threads of a process and of its descendants every `everyMs`, keeping each thread's last
 * reading: a thread (or a child such as ffmpeg) that ends between polls keeps what it had at the poll
 * before, so a child's total should come from its parent's reaped counters when exactness matters.
 */
export class ThreadWatch {
  readonly #root: number;
  readonly #seen = new Map<string, ThreadCpu>();
  readonly #timer: NodeJS.Timeout;

  constructor(root: number, everyMs = 50) {
    this.#root = root;
    this.poll();
    this.#timer = setInterval(() => this.poll(), everyMs);
  }

  /** Reads every thread of the tree now. */
  poll(): void {
    for (const t of treeThreads(this.#root)) this.#seen.set(`${t.pid}/${t.tid}`, t);
  }

  /** Stops polling (after one last poll) and returns every thread seen. */
  stop(): ThreadCpu[] {
    clearInterval(this.#timer);
    this.poll();
    return [...this.#seen.values()];
  }
}

/** The difference of two thread lists (threads absent before count from zero). */
export function threadDelta(before: ThreadCpu[], after: ThreadCpu[]): ThreadCpu[] {
  const base = new Map(before.map((t) => [`${t.pid}/${t.tid}`, t.cpuMs]));
  return after.map((t) => ({ ...t, cpuMs: t.cpuMs - (base.get(`${t.pid}/${t.tid}`) ?? 0) }));
}

/** Sum of the CPU of the threads that pass `keep`. */
export function sumCpu(threads: ThreadCpu[], keep: (t: ThreadCpu) => boolean): number {
  return threads.filter(keep).reduce((s, t) => s + t.cpuMs, 0);
}

/** A command running under a measuring shell; `done` gives its exit code and exact CPU. */
export interface MeasuredRun {
  child: ChildProcess;
  done: Promise<{ code: number | null; cpuMs: number; stderr: string }>;
}

/**
 * Runs `cmd args` under a bash that, once the command exits, writes its own reaped-children CPU from
 * /proc/$$/stat to fd 3: exact to the clock tick, where polling misses the last interval. stdout and
 * stderr stay the command's own.
 */
export function spawnMeasured(cmd: string, args: string[], env?: NodeJS.ProcessEnv): MeasuredRun {
  const script = '"$@"; rc=$?; read -r s < /proc/$$/stat; echo "$s" >&3; exit $rc';
  const child = spawn('bash', ['-c', script, 'bash', cmd, ...args], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    env: env ?? process.env,
  });
  let stat = '';
  let stderr = '';
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => (stat += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const done = new Promise<{ code: number | null; cpuMs: number; stderr: string }>((resolve) => {
    child.once('close', (code) => {
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpuMs = ((Number(f[13]) + Number(f[14])) * 1000) / TICKS;
      resolve({ code, cpuMs: Number.isFinite(cpuMs) ? cpuMs : 0, stderr });
    });
  });
  return { child, done };
}

/** Kills what a measuring shell runs (its children), so that the shell itself exits. */
export function killMeasured(run: MeasuredRun): void {
  const pid = run.child.pid;
  if (pid === undefined) return;
  for (const c of childPids(pid)) {
    try {
      process.kill(c, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
