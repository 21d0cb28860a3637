import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchSource } from './lib/media.js';
import { runToEnd, sleep, spawnWithFds, stop, waitForLine } from './lib/proc.js';
import { sumCpu, threadDelta, treeThreads } from './lib/threads.js';

const FRAMECAST = fileURLToPath(new URL('../bin/framecast', import.meta.url));

/** One paced camera-like stream with one viewer: what it costs, as a fraction of one core. */
export interface CameraCostRow {
  source: string;
  width: number;
  height: number;
  /** Seconds measured (after a warm-up), and the viewer's frame rate over its whole run. */
  seconds: number;
  fps: number;
  /** CPU over wall time, in cores: the server's ffmpeg, node's main thread, the encodes, the rest. */
  ffmpegCores: number;
  nodeMainCores: number;
  encodeCores: number;
  nodeOtherCores: number;
  totalCores: number;
  /** 1 / totalCores: how many such streams one core carries. */
  camerasPerCore: number;
}

/**
 * `serve FILE --loop` (paced at the file's rate, 800 px wide, q80) to one `framecast play`; every thread
 * of the server and its ffmpeg sampled from /proc over `seconds` after a 3 s warm-up.
 */
export async function cameraCost(src: BenchSource, seconds: number, bin = FRAMECAST): Promise<CameraCostRow> {
  const server = spawnWithFds('node', [
    ...[bin, 'serve', src.path, '--loop', '--port', '0', '--http-port', 'off', '--json'],
  ]);
  try {
    const m = await waitForLine(server, /"event":"listening".*?"port":(\d+)/, 20_000);
    const pid = server.pid as number;
    const client = spawn(
      'node',
      [bin, 'play', `127.0.0.1:${m[1]}`, '--json', '--view', 'none', '--duration', String(seconds + 5)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const ended = runToEnd(client, (seconds + 30) * 1000);
    await sleep(3000);
    const before = treeThreads(pid);
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const threads = threadDelta(before, treeThreads(pid));
    const wallMs = performance.now() - t0;
    const { stdout } = await ended;
    const summary = JSON.parse(stdout.trim().split('\n').pop() as string) as { fps: number };
    const cores = (keep: Parameters<typeof sumCpu>[1]): number => sumCpu(threads, keep) / wallMs;
    const ffmpegCores = cores((t) => t.pid !== pid);
    const nodeMainCores = cores((t) => t.pid === pid && t.tid === pid);
    const encodeCores = cores((t) => t.pid === pid && t.tid !== pid && t.comm === 'libuv-worker');
    const nodeOtherCores = cores((t) => t.pid === pid && t.tid !== pid && t.comm !== 'libuv-worker');
    const totalCores = ffmpegCores + nodeMainCores + encodeCores + nodeOtherCores;
    return {
      source: src.name,
      width: src.width,
      height: src.height,
      seconds: wallMs / 1000,
      fps: summary.fps,
      ffmpegCores,
      nodeMainCores,
      encodeCores,
      nodeOtherCores,
      totalCores,
      camerasPerCore: totalCores > 0 ? 1 / totalCores : 0,
    };
  } finally {
    await stop(server);
  }
}
