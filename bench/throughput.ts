import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { BenchSource } from './lib/media.js';
import { procSample, runToEnd, spawnWithFds, stop, treeCpuMs, waitForLine } from './lib/proc.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FRAMECAST = `${ROOT}bin/framecast`;
/** The seed document's servidor.py with only the marked headless changes (shared with the interop tests). */
const SEED_SERVER = `${ROOT}test/interop/seed/servidor.py`;
/** The seed's cliente.py, headless, plus first-to-last-frame timing (the interop copy reports no times). */
const SEED_CLIENT = `${ROOT}test/interop/seed/cliente.py`;

/** ffmpeg's mjpeg scale nearest to OpenCV's q80 in size (see the JPEG section). */
export const FFMPEG_QSCALE = 3;

/** One measured run: frames per second, and CPU seconds spent per frame by the processes involved. */
export interface RunResult {
  fps: number;
  frames: number;
  /** CPU ms per frame of the sending side (server and its ffmpeg), when measured. */
  serverCpuMsPerFrame: number | null;
}

/** Throughput of one source: ours, the seed's pair, FFmpeg's CLI, and the ratios. */
export interface ThroughputRow {
  source: string;
  width: number;
  height: number;
  frames: number;
  framecast: RunResult;
  seed: RunResult | null;
  ffmpegCli: RunResult;
  vsSeed: number | null;
  vsFfmpeg: number;
  /** The same with `--encoder ffmpeg` (ffmpeg encodes the JPEGs itself); absent in older results. */
  ffmpegEncoder?: { run: RunResult; vsSeed: number | null; vsFfmpeg: number };
  /** The default encoder without its native build (FRAMECAST_NATIVE=0: RGB through sharp). */
  sharpRgb?: { run: RunResult; vsSeed: number | null; vsFfmpeg: number };
}

/** The server end to end with --no-pace and one `framecast play` client (the seed's pair, in TypeScript). */
export async function runFramecast(
  src: BenchSource,
  extraArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<RunResult> {
  const server = spawnWithFds(
    'node',
    [FRAMECAST, 'serve', src.path, '--no-pace', '--port', '0', '--json', ...extraArgs],
    { ...process.env, ...env },
  );
  try {
    const m = await waitForLine(server, /"event":"listening".*?"port":(\d+)/, 20_000);
    const port = m[1] as string;
    const before = procSample(server.pid as number);
    const client = spawn('node', [FRAMECAST, 'play', `127.0.0.1:${port}`, '--json', '--view', 'none'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { stdout } = await runToEnd(client, 120_000);
    const after = procSample(server.pid as number);
    const summary = JSON.parse(stdout.trim().split('\n').pop() as string) as { frames: number; fps: number };
    // ffmpeg has exited at EOF and been reaped: its CPU is in the server's children counters.
    const cpu =
      before && after
        ? after.cpuMs + after.reapedChildrenCpuMs - (before.cpuMs + before.reapedChildrenCpuMs)
        : null;
    return {
      fps: summary.fps,
      frames: summary.frames,
      serverCpuMsPerFrame: cpu === null ? null : cpu / summary.frames,
    };
  } finally {
    await stop(server);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** The seed's servidor.py + cliente.py (headless copies) with Debian's python3 and OpenCV. */
export async function runSeed(src: BenchSource, python: string): Promise<RunResult> {
  // The seed server takes no port 0: give it one that was free a moment ago.
  const port = await freePort();
  const server = spawn(python, [SEED_SERVER, '127.0.0.1', String(port), src.path], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SEED_HEADLESS: '1' },
  });
  try {
    await waitForLine(server, /Puerto:\d+/, 20_000);
    const client = spawn(python, [SEED_CLIENT, '127.0.0.1', String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = server.pid as number;
    let cpu = 0;
    // The seed server exits right after the last frame: sample it while it runs.
    const timer = setInterval(() => (cpu = treeCpuMs(pid) || cpu), 50);
    const { stdout } = await runToEnd(client, 120_000);
    clearInterval(timer);
    const r = JSON.parse(stdout.trim()) as { frames: number; seconds: number };
    return {
      fps: r.seconds > 0 ? (r.frames - 1) / r.seconds : 0,
      frames: r.frames,
      serverCpuMsPerFrame: cpu / r.frames,
    };
  } finally {
    await stop(server);
  }
}

/** FFmpeg's CLI alone: decode, scale to width 800 (area), mjpeg, written to a pipe we drain. */
export async function runFfmpegCli(src: BenchSource, ffmpeg: string): Promise<RunResult> {
  const args = ['-hide_banner', '-v', 'error', '-nostdin', '-i', src.path]
    .concat([
      '-vf',
      'scale=800:trunc(ih*(800/iw)):flags=area',
      '-c:v',
      'mjpeg',
      '-q:v',
      String(FFMPEG_QSCALE),
    ])
    .concat(['-f', 'mjpeg', 'pipe:1']);
  const child = spawn(ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let first = 0;
  let last = 0;
  let frames = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    last = performance.now();
    if (first === 0) first = last;
    // Each JPEG ends with EOI (FF D9); entropy-coded data never contains FF D9 (byte stuffing).
    for (let i = chunk.indexOf(0xd9); i !== -1; i = chunk.indexOf(0xd9, i + 1))
      if (chunk[i - 1] === 0xff) frames++;
  });
  let cpu = 0;
  const timer = setInterval(() => (cpu = procSample(child.pid as number)?.cpuMs ?? cpu), 50);
  await runToEnd(child, 120_000);
  clearInterval(timer);
  const seconds = (last - first) / 1000;
  return { fps: seconds > 0 ? (frames - 1) / seconds : 0, frames, serverCpuMsPerFrame: cpu / frames };
}

function best(runs: RunResult[]): RunResult {
  return runs.reduce((a, b) => (b.fps > a.fps ? b : a));
}

/** Runs every contender `repeats` times per source (best run kept: the machine is shared and noisy). */
export async function throughput(
  sources: BenchSource[],
  opts: { ffmpeg: string; python: string | null; repeats: number; log: (s: string) => void },
): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  for (const src of sources) {
    const ours: RunResult[] = [];
    const seed: RunResult[] = [];
    const cli: RunResult[] = [];
    const oursFfmpeg: RunResult[] = [];
    const oursSharp: RunResult[] = [];
    for (let i = 0; i < opts.repeats; i++) {
      ours.push(await runFramecast(src));
      oursFfmpeg.push(await runFramecast(src, ['--encoder', 'ffmpeg']));
      oursSharp.push(await runFramecast(src, [], { FRAMECAST_NATIVE: '0' }));
      if (opts.python) seed.push(await runSeed(src, opts.python));
      cli.push(await runFfmpegCli(src, opts.ffmpeg));
    }
    const f = best(ours);
    const s = seed.length ? best(seed) : null;
    const c = best(cli);
    const fe = best(oursFfmpeg);
    const fs = best(oursSharp);
    if (fe.frames !== src.frames)
      opts.log(
        `warning: ${src.name}: framecast --encoder ffmpeg delivered ${fe.frames}/${src.frames} frames`,
      );
    if (f.frames !== src.frames)
      opts.log(`warning: ${src.name}: framecast delivered ${f.frames}/${src.frames} frames`);
    const row: ThroughputRow = {
      source: src.name,
      width: src.width,
      height: src.height,
      frames: src.frames,
      framecast: f,
      seed: s,
      ffmpegCli: c,
      vsSeed: s ? f.fps / s.fps : null,
      vsFfmpeg: f.fps / c.fps,
      ffmpegEncoder: { run: fe, vsSeed: s ? fe.fps / s.fps : null, vsFfmpeg: fe.fps / c.fps },
      sharpRgb: { run: fs, vsSeed: s ? fs.fps / s.fps : null, vsFfmpeg: fs.fps / c.fps },
    };
    opts.log(
      `throughput ${src.name}: framecast ${f.fps.toFixed(0)} fps (--encoder ffmpeg ${fe.fps.toFixed(0)}, ` +
        `sharp RGB ${fs.fps.toFixed(0)}), seed ${s ? s.fps.toFixed(0) : '-'} fps, ` +
        `ffmpeg CLI ${c.fps.toFixed(0)} fps`,
    );
    rows.push(row);
  }
  return rows;
}
