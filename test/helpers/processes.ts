/**
 * Child-process bookkeeping for tests: every process spawned through `spawnTracked` is remembered and
 * killed (with its process group) by `killTracked()`, and on exit of the test worker as a last resort.
 * Call `killTracked()` in afterEach/afterAll so no ffmpeg, python or server outlives its test.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

const tracked = new Set<ChildProcess>();
let hookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Detached children lead their own group: kill it so grandchildren (ffmpeg) go too.
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/**
 * Spawns a process that `killTracked()` will clean up. It runs detached in its own process group
 * (so the whole tree can be killed); pass `detached: false` to keep it in ours (e.g. for `script`).
 */
export function spawnTracked(command: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  if (!hookInstalled) {
    hookInstalled = true;
    process.once('exit', () => {
      for (const c of tracked) killGroup(c, 'SIGKILL');
    });
  }
  const child = spawn(command, args, { detached: true, ...opts });
  tracked.add(child);
  child.once('exit', () => tracked.delete(child));
  return child;
}

/** Result of a finished process. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when waitExit gave up and killed it. */
  timedOut: boolean;
}

/**
 * Waits for a child to exit; after `timeoutMs` kills it (SIGKILL, whole group) and resolves with
 * `timedOut: true` so a test can assert "it did not hang" instead of hanging itself.
 */
export function waitExit(child: ChildProcess, timeoutMs: number): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode, timedOut: false });
  }
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGKILL');
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut });
    });
  });
}

/** Kills every tracked process (SIGKILL to its group) and waits until they are gone. */
export async function killTracked(): Promise<void> {
  const all = [...tracked];
  for (const c of all) killGroup(c, 'SIGKILL');
  await Promise.all(all.map((c) => waitExit(c, 2000)));
}

/** Pids of the direct children of `pid` (via `pgrep -P`); [] when none. */
export function childPids(pid: number): number[] {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** True while a process with this pid exists (and is not a zombie). */
export function isAlive(pid: number): boolean {
  const r = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' });
  const stat = r.stdout.trim();
  return stat !== '' && !stat.startsWith('Z');
}

/** Pids of live processes whose command line contains `needle` (for "no ffmpeg left" checks). */
export function pidsMatching(needle: string): number[] {
  const r = spawnSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' });
  const out: number[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    if (m && !m[2]!.startsWith('Z') && m[3]!.includes(needle)) out.push(Number(m[1]));
  }
  return out;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
