import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SourceStatus } from '../../../src/hub/producer.js';
import type { ServeOptions } from '../../../src/app/serve.js';

/** What the server child reports about itself (memory after a forced GC). */
export interface ChildStats {
  framesIn: number;
  transmissions: number;
  clientsServed: number;
  clients: number;
  waiting: number;
  rss: number;
  heapUsed: number;
  external: number;
  fds: number;
  /** Frames dropped so far for the clients connected now (latest frame wins). */
  drops: number;
  /** 'idle' without a transmission, else the source's signal state ('live' when it has none). */
  state: string;
  status: SourceStatus | null;
}

/** A framecast server running in a child process (see server-child.mjs). */
export interface ServerProcess {
  pid: number;
  port: number;
  /** The HTTP port, or null when HTTP is off. */
  httpPort: number | null;
  child: ChildProcess;
  stats(): Promise<ChildStats>;
  events(): Promise<Array<Record<string, unknown>>>;
  /** Open file descriptors, read from /proc/<pid>/fd from outside. */
  fds(): number;
  /** Resident set size in bytes, from /proc/<pid>/status. */
  rss(): number;
  stop(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./server-child.mjs', import.meta.url));

function request<T>(child: ChildProcess, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server child did not answer '${what}'`)), 10_000);
    const onMessage = (m: { type: string } & Record<string, unknown>): void => {
      if (m.type !== what) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(m[what] as T);
    };
    child.on('message', onMessage);
    child.send(what);
  });
}

/** Starts `serve(options)` in a child process with --expose-gc; resolves once it listens. */
export async function startServerProcess(
  options: ServeOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ServerProcess> {
  const child = fork(CHILD, [JSON.stringify({ port: 0, ...options })], {
    execArgv: ['--expose-gc'],
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let httpPort: number | null = null;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server child did not start')), 15_000);
    child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
    child.on('message', (m: { type: string; port?: number; httpPort?: number | null }) => {
      if (m.type === 'ready') {
        httpPort = m.httpPort ?? null;
        clearTimeout(timer);
        resolve(m.port as number);
      }
    });
  });
  const pid = child.pid as number;
  return {
    pid,
    port,
    httpPort,
    child,
    stats: () => request<ChildStats>(child, 'stats'),
    events: () => request<Array<Record<string, unknown>>>(child, 'events'),
    fds: () => readdirSync(`/proc/${pid}/fd`).length,
    rss: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        if (child.connected) child.send('close');
        else child.kill('SIGTERM');
      }),
  };
}

/** Pids of every live descendant of `pid` (children, grandchildren...), from /proc. */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Field 4 (ppid) follows the command name, which is in parentheses and may hold spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(name), ppid);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [child, parent] of parentOf) {
      if (parent === p) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}
