import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ffmpegArgs } from '../src/source/ffmpeg-source.js';
import { parseSource } from '../src/source/source-spec.js';
import { freePort } from './lib/ports.js';
import type { BenchSource } from './lib/media.js';
import { procSample, runToEnd, spawnWithFds, stop, waitForLine } from './lib/proc.js';
import {
  killMeasured,
  spawnMeasured,
  sumCpu,
  threadDelta,
  ThreadWatch,
  treeThreads,
  type ThreadCpu,
} from './lib/threads.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FRAMECAST = `${ROOT}bin/framecast`;
const SEED_SERVER = `${ROOT}test/interop/seed/servidor.py`;
const SEED_CLIENT = `${ROOT}test/interop/seed/cliente.py`;
/** The seed's output width and FFmpeg's mjpeg scale nearest OpenCV's q80 in size (JPEG section). */
const WIDTH = 800;
const FFMPEG_QSCALE = 3;

/** Where framecast's CPU per frame went in one `serve --no-pace` run (ms of CPU per frame). */
export interface FramecastCpu {
  fps: number;
  frames: number;
  /** Its ffmpeg child: all threads, and the main thread (demux, filter graph, output writes). */
  ffmpegMs: number;
  ffmpegMainMs: number;
  /** Node's main thread: reading frames from ffmpeg, the hub, socket writes. */
  nodeMainMs: number;
  /** libuv's thread pool: the JPEG encodes. */
  encodeMs: number;
  /** Node's other threads (V8's GC and compiler helpers). */
  nodeOtherMs: number;
  totalMs: number;
}

/** One clip: the physical floor, framecast's stages, FFmpeg's CLI and the seed pair, in one run. */
export interface CpuBreakdownRow {
  source: string;
  width: number;
  height: number;
  frames: number;
  /** ffmpeg decoding alone (`-f null`), ms of CPU per frame. */
  decodeMs: number;
  /** ffmpeg decoding and scaling exactly as framecast asks, into /dev/null: the floor. */
  floorMs: number;
  framecast: FramecastCpu;
  ffmpegCli: { fps: number; cpuMs: number };
  seed: { fps: number; cpuMs: number } | null;
  /** framecast's CPU per frame over the others' (lower is better), and its fps over theirs. */
  cpuVsCli: number;
  cpuVsSeed: number | null;
  fpsVsCli: number;
  fpsVsSeed: number | null;
  runs: number;
}

async function measured(cmd: string, args: string[], frames: number): Promise<number> {
  const run = spawnMeasured(cmd, args);
  run.child.stdout?.resume();
  const r = await run.done;
  if (r.code !== 0) throw new Error(`${cmd} exited ${r.code}: ${r.stderr}`);
  return r.cpuMs / frames;
}

/** ffmpeg decoding only, and decoding + framecast's own scale chain into /dev/null. */
async function floors(src: BenchSource, ffmpeg: string): Promise<{ decodeMs: number; floorMs: number }> {
  const head = ['-hide_banner', '-v', 'error', '-nostdin', '-i', src.path, '-map', '0:v:0', '-an'];
  const decodeMs = await measured(ffmpeg, [...head, '-f', 'null', '-'], src.frames);
  const spec = parseSource(src.path);
  const ours = ffmpegArgs({ spec, width: WIDTH, pace: false, loop: false, pixelFormat: 'i420' });
  // The same command line, quiet, with /dev/null for the socket: what decoding and scaling cost alone.
  const floorArgs = ours.slice(0, -1).map((a, i) => (ours[i - 1] === '-loglevel' ? 'error' : a));
  const floorMs = await measured(ffmpeg, [...floorArgs, '-y', '/dev/null'], src.frames);
  return { decodeMs, floorMs };
}

/** `serve FILE --no-pace` to one `framecast play`, with every thread of the server and its ffmpeg. */
export async function framecastRun(
  src: BenchSource,
  extra: string[] = [],
  bin = FRAMECAST,
): Promise<FramecastCpu> {
  const server = spawnWithFds('node', [
    ...[bin, 'serve', src.path, '--no-pace', '--port', '0', '--http-port', 'off', '--json'],
    ...extra,
  ]);
  try {
    const m = await waitForLine(server, /"event":"listening".*?"port":(\d+)/, 20_000);
    const pid = server.pid as number;
    const before = procSample(pid);
    const baseline = treeThreads(pid);
    const watch = new ThreadWatch(pid);
    const client = spawn('node', [FRAMECAST, 'play', `127.0.0.1:${m[1]}`, '--json', '--view', 'none'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { stdout } = await runToEnd(client, 120_000);
    const threads = threadDelta(baseline, watch.stop());
    const after = procSample(pid);
    const summary = JSON.parse(stdout.trim().split('\n').pop() as string) as { frames: number; fps: number };
    return split(
      pid,
      threads,
      (after?.reapedChildrenCpuMs ?? 0) - (before?.reapedChildrenCpuMs ?? 0),
      summary,
    );
  } finally {
    await stop(server);
  }
}

/** Attributes the threads' CPU to stages; the ffmpeg total is the exact reaped figure when there is one. */
function split(
  pid: number,
  threads: ThreadCpu[],
  reapedMs: number,
  run: { frames: number; fps: number },
): FramecastCpu {
  const n = Math.max(1, run.frames);
  const node = threads.filter((t) => t.pid === pid);
  const ff = threads.filter((t) => t.pid !== pid);
  const polled = sumCpu(ff, () => true);
  // Polling misses ffmpeg's last interval; the reaped counters do not. Scale the thread split to them.
  const ffmpegMs = reapedMs > polled ? reapedMs : polled;
  const mainShare = polled > 0 ? sumCpu(ff, (t) => t.tid === t.pid) / polled : 0;
  const nodeMainMs = sumCpu(node, (t) => t.tid === pid);
  const encodeMs = sumCpu(node, (t) => t.tid !== pid && t.comm === 'libuv-worker');
  const nodeOtherMs = sumCpu(node, (t) => t.tid !== pid && t.comm !== 'libuv-worker');
  return {
    fps: run.fps,
    frames: run.frames,
    ffmpegMs: ffmpegMs / n,
    ffmpegMainMs: (ffmpegMs * mainShare) / n,
    nodeMainMs: nodeMainMs / n,
    encodeMs: encodeMs / n,
    nodeOtherMs: nodeOtherMs / n,
    totalMs: (ffmpegMs + nodeMainMs + encodeMs + nodeOtherMs) / n,
  };
}

/** FFmpeg's CLI alone: decode, scale to 800 (area), mjpeg into a pipe we drain; exact CPU. */
async function ffmpegCliRun(src: BenchSource, ffmpeg: string): Promise<{ fps: number; cpuMs: number }> {
  const args = ['-hide_banner', '-v', 'error', '-nostdin', '-i', src.path, '-map', '0:v:0', '-an'];
  args.push('-vf', `scale=${WIDTH}:trunc(ih*(${WIDTH}/iw)):flags=area`, '-c:v', 'mjpeg');
  args.push('-q:v', String(FFMPEG_QSCALE), '-f', 'mjpeg', 'pipe:1');
  const run = spawnMeasured(ffmpeg, args);
  let first = 0;
  let last = 0;
  let frames = 0;
  run.child.stdout?.on('data', (chunk: Buffer) => {
    last = performance.now();
    if (first === 0) first = last;
    // Each JPEG ends with EOI (FF D9), which entropy-coded data never contains.
    for (let i = chunk.indexOf(0xd9); i !== -1; i = chunk.indexOf(0xd9, i + 1))
      if (i > 0 && chunk[i - 1] === 0xff) frames++;
  });
  const r = await run.done;
  if (r.code !== 0) throw new Error(`ffmpeg CLI exited ${r.code}: ${r.stderr}`);
  const seconds = (last - first) / 1000;
  return { fps: seconds > 0 ? (frames - 1) / seconds : 0, cpuMs: r.cpuMs / Math.max(1, frames) };
}

/** The seed's servidor.py + cliente.py; the server's exact CPU (it exits after the last frame). */
async function seedRun(src: BenchSource, python: string): Promise<{ fps: number; cpuMs: number }> {
  const port = await freePort();
  const env = { ...process.env, SEED_HEADLESS: '1' };
  const server = spawnMeasured(python, [SEED_SERVER, '127.0.0.1', String(port), src.path], env);
  try {
    await waitForLine(server.child, /Puerto:\d+/, 20_000);
    const client = spawn(python, [SEED_CLIENT, '127.0.0.1', String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { stdout } = await runToEnd(client, 120_000);
    const r = JSON.parse(stdout.trim()) as { frames: number; seconds: number };
    const timer = setTimeout(() => killMeasured(server), 5000);
    const { cpuMs } = await server.done;
    clearTimeout(timer);
    return { fps: r.seconds > 0 ? (r.frames - 1) / r.seconds : 0, cpuMs: cpuMs / Math.max(1, r.frames) };
  } finally {
    killMeasured(server);
  }
}

/** The middle value (the upper middle of an even count). */
function median<T>(xs: T[], key: (x: T) => number): T {
  const sorted = [...xs].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor(sorted.length / 2)] as T;
}

/**
 * Every contender `repeats` times per clip, interleaved (the machine is shared: a burst of other work
 * lands on one run, not on one contender). Each contender's run with the median CPU per frame is kept;
 * its best fps is reported beside it.
 */
export async function cpuBreakdown(
  sources: BenchSource[],
  opts: { ffmpeg: string; python: string | null; repeats: number; log: (s: string) => void },
): Promise<CpuBreakdownRow[]> {
  const rows: CpuBreakdownRow[] = [];
  for (const src of sources) {
    const fl: { decodeMs: number; floorMs: number }[] = [];
    const fc: FramecastCpu[] = [];
    const cli: { fps: number; cpuMs: number }[] = [];
    const seed: { fps: number; cpuMs: number }[] = [];
    for (let i = 0; i < opts.repeats; i++) {
      fl.push(await floors(src, opts.ffmpeg));
      fc.push(await framecastRun(src));
      cli.push(await ffmpegCliRun(src, opts.ffmpeg));
      if (opts.python) seed.push(await seedRun(src, opts.python));
    }
    const f = { ...median(fc, (r) => r.totalMs), fps: Math.max(...fc.map((r) => r.fps)) };
    const c = { cpuMs: median(cli, (r) => r.cpuMs).cpuMs, fps: Math.max(...cli.map((r) => r.fps)) };
    const s = seed.length
      ? { cpuMs: median(seed, (r) => r.cpuMs).cpuMs, fps: Math.max(...seed.map((r) => r.fps)) }
      : null;
    if (f.frames !== src.frames)
      opts.log(`warning: ${src.name}: framecast delivered ${f.frames}/${src.frames}`);
    const row: CpuBreakdownRow = {
      source: src.name,
      width: src.width,
      height: src.height,
      frames: src.frames,
      decodeMs: median(fl, (r) => r.decodeMs).decodeMs,
      floorMs: median(fl, (r) => r.floorMs).floorMs,
      framecast: f,
      ffmpegCli: c,
      seed: s,
      cpuVsCli: f.totalMs / c.cpuMs,
      cpuVsSeed: s ? f.totalMs / s.cpuMs : null,
      fpsVsCli: f.fps / c.fps,
      fpsVsSeed: s ? f.fps / s.fps : null,
      runs: opts.repeats,
    };
    opts.log(
      `cpu ${src.name}: framecast ${f.totalMs.toFixed(2)} ms/frame (ffmpeg ${f.ffmpegMs.toFixed(2)}, ` +
        `main ${f.nodeMainMs.toFixed(2)}, encode ${f.encodeMs.toFixed(2)}, other ${f.nodeOtherMs.toFixed(2)}), ` +
        `floor ${row.floorMs.toFixed(2)}, CLI ${c.cpuMs.toFixed(2)}, seed ${s ? s.cpuMs.toFixed(2) : '-'}; ` +
        `fps ${f.fps.toFixed(0)} / ${c.fps.toFixed(0)} / ${s ? s.fps.toFixed(0) : '-'}`,
    );
    rows.push(row);
  }
  return rows;
}
