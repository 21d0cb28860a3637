import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** Kernel clock ticks per second (USER_HZ); 100 on every Linux this runs on. */
const TICKS = 100;
const PAGE = 4096;

/** CPU time (user + system, ms) and resident memory (bytes) of one process, from /proc. */
export interface ProcSample {
  cpuMs: number;
  /** CPU of children it has already reaped (e.g. an ffmpeg that ended). */
  reapedChildrenCpuMs: number;
  rssBytes: number;
}

/** Reads /proc/<pid>/stat; null when the process is gone. */
export function procSample(pid: number): ProcSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself contain spaces and parentheses.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(f[11]);
    const stime = Number(f[12]);
    const cutime = Number(f[13]);
    const cstime = Number(f[14]);
    const rssPages = Number(f[21]);
    return {
      cpuMs: ((utime + stime) * 1000) / TICKS,
      reapedChildrenCpuMs: ((cutime + cstime) * 1000) / TICKS,
      rssBytes: rssPages * PAGE,
    };
  } catch {
    return null;
  }
}

/** Direct children of a process (e.g. the server's ffmpeg). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Sums CPU of a process and all its descendants (those still alive). */
export function treeCpuMs(pid: number): number {
  let total = procSample(pid)?.cpuMs ?? 0;
  for (const c of childPids(pid)) total += treeCpuMs(c);
  return total;
}

/** Open files wanted by the server and the load generator (2000 viewers need 2000+ each). */
export const FD_LIMIT = 65536;

/** Runs `cmd args` through bash with the open-file limit raised to FD_LIMIT, or the hard limit if lower. */
export function spawnWithFds(
  cmd: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
  cwd?: string,
): ChildProcess {
  const quoted = [cmd, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return spawn(
    'bash',
    ['-c', `ulimit -n ${FD_LIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${quoted}`],
    { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env, cwd },
  );
}

/** Resolves with the first stdout line matching `re` (its match), or rejects on exit/timeout. */
export function waitForLine(child: ChildProcess, re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const stdout = child.stdout;
    if (!stdout) {
      reject(new Error('child has no stdout'));
      return;
    }
    const rl = createInterface({ input: stdout });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    const timer = setTimeout(() => finish(new Error(`timed out waiting for ${re}: ${stderr}`)), timeoutMs);
    const onExit = (code: number | null): void =>
      finish(new Error(`exited (${code}) before ${re}: ${stderr}`));
    const finish = (err: Error | null, m?: RegExpMatchArray): void => {
      clearTimeout(timer);
      rl.off('line', onLine);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m as RegExpMatchArray);
    };
    const onLine = (line: string): void => {
      const m = re.exec(line);
      if (m) finish(null, m);
    };
    rl.on('line', onLine);
    child.once('exit', onExit);
  });
}

/** Collects a child's whole stdout and resolves when it exits (rejecting after timeoutMs, killing it). */
export function runToEnd(
  child: ChildProcess,
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out after ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`exit ${code}: ${stderr}`));
      else resolve({ code, stdout });
    });
  });
}

/** Sends SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export function stop(child: ChildProcess, graceMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Milliseconds to wait. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Nanoseconds on CPU of every thread of `pid` alive now (the sum of /proc/PID/task/TID/schedstat's
 * first field): far finer than /proc/PID/stat's 10 ms ticks, for costs of microseconds per event.
 * Threads that ended are not counted (node's main thread and its pool live as long as it does).
 */
export function threadsCpuNs(pid: number): number {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  let total = 0;
  for (const t of tids) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return total;
}
