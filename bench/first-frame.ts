/**
 * Time to first frame for a seed-framed client (connect to the first whole frame), framecast against
 * the seed's own servidor.py on the same clip, runs interleaved so both see the same machine:
 * - seed: servidor.py opens the video once a client is accepted (its only mode: cold);
 * - framecast cold: an idle server (the source starts at accept), on the main port (a seed client
 *   is recognised by 100 ms of silence) and on --legacy-port (no wait);
 * - framecast warm: --preload (the source is already decoding), main port and --legacy-port.
 */
import net from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Percentiles } from './loadgen.js';
import { freePort } from '../test/helpers/net.js';
import { sleep, spawnWithFds, stop, waitForLine } from './lib/proc.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FRAMECAST = `${ROOT}bin/framecast`;
const SEED_SERVER = `${ROOT}test/interop/seed/servidor.py`;

/** One row: a server set-up and its time to first frame over several connections. */
export interface FirstFrameRow {
  label: string;
  ttffMs: Percentiles;
}

/** Connects as a seed client and resolves with ms from connect() to the first whole frame. */
export function seedFirstFrame(port: number, timeoutMs = 5000): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let buf = Buffer.alloc(0);
    const socket = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no frame within ${timeoutMs} ms on port ${port}`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(performance.now() - t0);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function percentiles(values: number[]): Percentiles {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] ?? NaN;
  const r = (x: number): number => Math.round(x * 10) / 10;
  return { p50: r(at(0.5)), p99: r(at(0.99)), max: r(s[s.length - 1] ?? NaN), samples: s.length };
}

async function seedOnce(python: string, clip: string): Promise<number> {
  const port = await freePort();
  const server = spawn(python, [SEED_SERVER, '127.0.0.1', String(port), clip], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SEED_HEADLESS: '1' },
  });
  try {
    await waitForLine(server, /Puerto:\d+/, 20_000);
    await sleep(200); // let the interpreter settle, as a running server would be
    return await seedFirstFrame(port);
  } finally {
    await stop(server);
  }
}

interface Framecast {
  port: number;
  legacyPort: number;
  close: () => Promise<void>;
}

async function startFramecast(clip: string, preload: boolean): Promise<Framecast> {
  const server = spawnWithFds(process.execPath, [
    FRAMECAST,
    ...['serve', clip, '--loop', '--port', '0', '--legacy-port', '0', '--http-port', 'off', '--json'],
    ...(preload ? ['--preload'] : []),
  ]);
  const m = await waitForLine(server, /"event":"listening".*?"port":(\d+).*?"legacyPort":(\d+)/, 20_000);
  server.stdout?.resume();
  await sleep(preload ? 700 : 300);
  return { port: Number(m[1]), legacyPort: Number(m[2]), close: () => stop(server) };
}

/**
 * `rounds` connections per set-up, interleaved round by round. Cold framecast rows wait between
 * connections so the source has stopped again (an idle server each time).
 */
export async function firstFrame(opts: {
  clip: string;
  python: string | null;
  rounds: number;
  log: (s: string) => void;
}): Promise<FirstFrameRow[]> {
  const samples = new Map<string, number[]>();
  const add = (label: string, v: number): void =>
    void (samples.get(label) ?? samples.set(label, []).get(label))?.push(v);
  const cold = await startFramecast(opts.clip, false);
  const warm = await startFramecast(opts.clip, true);
  try {
    for (let i = 0; i < opts.rounds; i++) {
      if (opts.python)
        add('seed servidor.py (opens the video at accept)', await seedOnce(opts.python, opts.clip));
      add('framecast, idle, main port', await seedFirstFrame(cold.port));
      await sleep(400);
      add('framecast, idle, --legacy-port', await seedFirstFrame(cold.legacyPort));
      await sleep(400);
      add('framecast --preload, main port', await seedFirstFrame(warm.port));
      add('framecast --preload, --legacy-port', await seedFirstFrame(warm.legacyPort));
      await sleep(400);
    }
  } finally {
    await Promise.all([cold.close(), warm.close()]);
  }
  const rows = [...samples].map(([label, v]) => ({ label, ttffMs: percentiles(v) }));
  for (const r of rows) opts.log(`first frame: ${r.label}: p50 ${r.ttffMs.p50} ms, max ${r.ttffMs.max} ms`);
  return rows;
}
