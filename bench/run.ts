/**
 * `npm run bench`: JPEG quality, end-to-end throughput against the seed's pair and FFmpeg's CLI, and
 * fan-out (viewers, CPU, memory, latency, slow viewers, time to first frame), all on loopback.
 * Prints Markdown tables and writes bench/results/latest.{json,md} and bench/results/fanout.svg, then
 * rewrites the README's generated parts from latest.json (bench/readme.ts).
 *
 *   npm run bench [-- --quick] [-- --only jpeg,throughput,fanout] [-- --seconds S] [-- --repeats N]
 *   npm run bench -- --only slow   re-runs only the slow-viewer rows and updates them in latest.*
 *   npm run bench -- --only crowd  re-runs the first-frame, burst and mixed-audience rows likewise
 *   npm run bench -- --only streams  re-runs the streams-side-by-side rows likewise
 *   npm run bench -- --only ingest   re-runs the push-ingest rows likewise
 *   npm run bench -- --only bus      re-runs the NATS bus rows (origin, nats-server, edges) likewise
 *   npm run bench -- --only cpu      re-runs the CPU breakdown and cameras-per-core rows likewise
 *   npm run bench -- --only record   re-runs the recording rows (CPU it adds, 20 streams, 10,000 segments) likewise
 *   npm run bench -- --only renditions  re-runs the rendition rows (CPU per 320-px frame, 300 viewers over 3 renditions) likewise
 *   npm run bench -- --only access  re-runs the access rows (admission cost per connection: no auth, users, JWT, hook, link) likewise
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { locateFfmpeg } from '../src/source/ffmpeg-path.js';
import { OPENCV_PYTHON, hasOpenCv } from '../test/helpers/jpeg-quality.js';
import { accessRows } from './access.js';
import { busRows, natsServerAvailable } from './bus.js';
import { cpuSection } from './cpu-section.js';
import { crowdRows, fanout, slowViewers } from './fanout.js';
import { firstFrame } from './first-frame.js';
import { multiStream } from './multi-stream.js';
import { metaRows } from './meta.js';
import { recordRows } from './record.js';
import { renditionRows } from './renditions.js';
import { ingest } from './ingest.js';
import { MEDIA_DIR } from './lib/media.js';
import { jpegQuality, nativeJpegQuality } from './jpeg.js';
import { makeSources, probeFps } from './lib/media.js';
import { updateReadme } from './readme.js';
import { fanoutSvg, markdown, type BenchResults } from './report.js';
import { throughput } from './throughput.js';

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));

function machine(ffmpeg: string): Record<string, string> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? '?';
  const ff = spawnSync(ffmpeg, ['-version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '';
  const cv = spawnSync(OPENCV_PYTHON, ['-c', 'import cv2; print(cv2.__version__)'], { encoding: 'utf8' });
  return {
    cpu: `${cpus().length} x ${model.trim()}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    kernel: `Linux ${release()}`,
    node: process.version,
    ffmpeg: ff.replace(/^ffmpeg version (\S+).*/, '$1'),
    opencv: cv.status === 0 ? cv.stdout.trim() : 'missing',
    'load average at start': loadAverage(),
  };
}

/** The 1, 5 and 15 minute load averages, as the machine line prints them. */
function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      seconds: { type: 'string' },
      repeats: { type: 'string' },
    },
  });
  const quick = values.quick ?? false;
  const only = new Set(
    (values.only ?? 'jpeg,throughput,fanout,streams,ingest,meta,record,renditions,access,bus,cpu').split(','),
  );
  const section = only.size === 1 ? REFRESH[[...only][0] as string] : undefined;
  if (section) {
    await refresh([...only][0] as string, section, Number(values.seconds ?? section.seconds));
    return;
  }
  const seconds = Number(values.seconds ?? (quick ? 3 : 5));
  const repeats = Number(values.repeats ?? (quick ? 1 : 2));
  const started = performance.now();
  const log = (s: string): void =>
    void process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0)}s] ${s}\n`);
  const ffmpeg = locateFfmpeg().path;
  const dir = mkdtempSync(join(tmpdir(), 'framecast-bench-'));
  try {
    const results: BenchResults = {
      date: new Date().toISOString(),
      machine: machine(ffmpeg),
      seconds: 0,
      jpeg: null,
      throughput: [],
      fanout: null,
    };
    if (only.has('jpeg')) {
      log('JPEG quality vs OpenCV and FFmpeg mjpeg');
      results.jpeg = await jpegQuality(ffmpeg, dir, quick ? 4 : 8);
      if (!results.jpeg) log(`OpenCV missing (${OPENCV_PYTHON}): JPEG comparison skipped`);
      results.nativeJpeg = await nativeJpegQuality(ffmpeg, dir, quick ? 4 : 8);
    }
    if (only.has('throughput')) {
      const sources = makeSources(ffmpeg, dir);
      const python = hasOpenCv() ? OPENCV_PYTHON : null;
      if (!python) log('OpenCV missing: the seed pair is skipped');
      results.throughput = await throughput(quick ? sources.slice(0, 2) : sources, {
        ffmpeg,
        python,
        repeats,
        log,
      });
    }
    if (only.has('fanout')) {
      results.fanout = await fanout({ viewers: quick ? [100, 1000] : [100, 500, 1000, 2000], seconds, log });
      results.firstFrame = await firstFrame({
        clip: firstFrameClip(ffmpeg, dir),
        python: hasOpenCv() ? OPENCV_PYTHON : null,
        rounds: quick ? 3 : 8,
        log,
      });
    }
    if (only.has('ingest')) results.ingest = await ingest({ viewers: 100, seconds, log });
    if (only.has('meta')) results.meta = await metaRows({ viewers: quick ? 200 : 1000, seconds, log });
    if (only.has('record'))
      results.record = await recordRows({ ffmpeg, dir, seconds: Math.max(seconds, 10), log });
    if (only.has('renditions'))
      results.renditions = await renditionRows({
        ffmpeg,
        dir,
        ...renditionPlan(quick),
        seconds: Math.max(seconds, 10),
        log,
      });
    if (only.has('access')) results.access = await accessRows({ dir, ...ACCESS_PLAN, log });
    if (only.has('streams')) {
      const clip = streamsClip(ffmpeg, dir);
      results.streams = await multiStream({
        clip,
        sourceFps: probeFps(ffmpeg, clip),
        streams: 6,
        seconds: Math.max(seconds, 8),
        log,
      });
    }
    if (only.has('bus')) {
      if (natsServerAvailable())
        results.bus = await busRows({ plan: BUS_PLAN, seconds: Math.max(seconds, 8), log });
      else log('nats-server missing (apt-get install nats-server): the bus section is skipped');
    }
    if (only.has('cpu')) {
      const python = hasOpenCv() ? OPENCV_PYTHON : null;
      const cpuOpts = { ffmpeg, python, dir, repeats: quick ? 1 : 3, seconds: quick ? 10 : 20, log };
      results.cpu = await cpuSection(cpuOpts);
    }
    results.machine['load average at end'] = loadAverage();
    results.seconds = (performance.now() - started) / 1000;
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'latest.json'), JSON.stringify(results, null, 2) + '\n');
    if (results.fanout) writeFileSync(join(RESULTS, 'fanout.svg'), fanoutSvg(results.fanout.curve));
    const md = markdown(results);
    writeFileSync(join(RESULTS, 'latest.md'), md + '\n');
    process.stdout.write(md + '\n');
    log(`wrote ${join(RESULTS, 'latest.json')}${results.fanout ? ' and fanout.svg' : ''}`);
    readmeFromResults(log);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Rewrites the README's generated bench parts from the latest.json just written. */
function readmeFromResults(log: (s: string) => void): void {
  const { changed } = updateReadme({ check: false });
  log(changed.length ? `README.md: rewrote ${changed.join(', ')}` : 'README.md already matched');
}

/** A 640x360 H.264 clip with B-frames, as phones and cameras record: what a first frame waits for. */
function firstFrameClip(ffmpeg: string, dir: string): string {
  const path = join(dir, 'first-frame-360p.mp4');
  const r = spawnSync(ffmpeg, [
    ...['-hide_banner', '-v', 'error', '-nostdin', '-y', '-f', 'lavfi'],
    ...['-i', 'testsrc2=size=640x360:rate=30', '-t', '5', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', path],
  ]);
  if (r.status !== 0) throw new Error(`ffmpeg could not make ${path}`);
  return path;
}

/**
 * 640x360 footage at 30 fps: the bottle conveyor from the sample footage when this machine has it,
 * else a generated noisy fractal of the same size and rate.
 */
function streamsClip(ffmpeg: string, dir: string): string {
  const footage = join(MEDIA_DIR, 'bottle-detection.mp4');
  if (existsSync(footage)) return footage;
  const path = join(dir, 'streams-360p.mp4');
  const r = spawnSync(ffmpeg, [
    ...['-hide_banner', '-v', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i'],
    'mandelbrot=size=640x360:rate=30:start_scale=0.3,gblur=sigma=1,noise=alls=6:allf=t:all_seed=3',
    ...['-t', '20', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'veryfast', path],
  ]);
  if (r.status !== 0) throw new Error(`ffmpeg could not make ${path}`);
  return path;
}

/**
 * The bus rows, [edges, viewers per edge]: 100 per edge on 1, 2 and 4 edges, 800 over 4 edges, and
 * 1000 on one edge (its cost per 1000 viewers); each row then puts as many on the origin directly.
 * Windows of 8 s (240 frames): a p99 over 5 s is the second-worst of 150 frames, and one scheduling
 * hiccup on 2 cores moved it by 10 ms.
 */
const BUS_PLAN: [number, number][] = [
  [1, 100],
  [2, 100],
  [4, 100],
  [4, 200],
  [1, 1000],
];

/**
 * The renditions section's sizes: encodes per CPU case, viewers per rendition (100 each over widths
 * 320, 480 and 640) and at the stream's own size beside them, as many as each rendition's (the latency
 * target compares a rendition viewer with a main-size one, each group with its own fan-out), then
 * one viewer per group alone; a short run (under 10 s) makes fewer encodes.
 */
function renditionPlan(short: boolean): { frames: number; perRendition: number; main: number } {
  return short ? { frames: 60, perRendition: 100, main: 100 } : { frames: 300, perRendition: 100, main: 100 };
}

/** The access rows' sizes: connections per variant and transport per round, and rounds. */
const ACCESS_PLAN = { connections: 400, rounds: 3 };

/** One section of the latest results, re-run alone and written back (`npm run bench -- --only NAME`). */
interface Refresh {
  label: string;
  seconds: number;
  needsFanout?: boolean;
  run: (r: BenchResults, ctx: { seconds: number; dir: string; log: (s: string) => void }) => Promise<void>;
}

const REFRESH: Record<string, Refresh> = {
  slow: {
    label: 'slow-viewer',
    seconds: 5,
    needsFanout: true,
    run: async (r, { seconds, log }) => {
      const { slow, slowNoAck } = await slowViewers({ seconds, log });
      r.fanout = r.fanout && { ...r.fanout, slow, slowNoAck, slowDate: new Date().toISOString() };
    },
  },
  crowd: {
    label: 'first-frame, burst and mixed-audience',
    seconds: 5,
    needsFanout: true,
    run: async (r, { seconds, dir, log }) => {
      const { burst, mixed } = await crowdRows({ seconds, log });
      r.fanout = r.fanout && { ...r.fanout, burst, mixed };
      const clip = firstFrameClip(locateFfmpeg().path, dir);
      r.firstFrame = await firstFrame({ clip, python: hasOpenCv() ? OPENCV_PYTHON : null, rounds: 8, log });
    },
  },
  streams: {
    label: 'streams-side-by-side',
    seconds: 10,
    run: async (r, { seconds, dir, log }) => {
      const ffmpeg = locateFfmpeg().path;
      const clip = streamsClip(ffmpeg, dir);
      r.streams = await multiStream({ clip, sourceFps: probeFps(ffmpeg, clip), streams: 6, seconds, log });
    },
  },
  ingest: {
    label: 'push-ingest',
    seconds: 8,
    run: async (r, { seconds, log }) => {
      r.ingest = await ingest({ viewers: 100, seconds, log });
    },
  },
  meta: {
    label: 'metadata and annotations',
    seconds: 8,
    run: async (r, { seconds, log }) => {
      r.meta = await metaRows({ viewers: 1000, seconds, log });
    },
  },
  record: {
    label: 'recording',
    seconds: 10,
    run: async (r, { seconds, dir, log }) => {
      r.record = await recordRows({ ffmpeg: locateFfmpeg().path, dir, seconds, log });
    },
  },
  renditions: {
    label: 'renditions',
    seconds: 10,
    run: async (r, { seconds, dir, log }) => {
      r.renditions = await renditionRows({
        ffmpeg: locateFfmpeg().path,
        dir,
        ...renditionPlan(seconds < 10),
        seconds,
        log,
      });
    },
  },
  access: {
    label: 'access',
    seconds: 0,
    run: async (r, { dir, log }) => {
      r.access = await accessRows({ dir, ...ACCESS_PLAN, log });
    },
  },
  bus: {
    label: 'NATS bus',
    seconds: 8,
    run: async (r, { seconds, log }) => {
      r.bus = await busRows({ plan: BUS_PLAN, seconds, log });
    },
  },
  cpu: {
    label: 'CPU breakdown and cameras-per-core',
    seconds: 20,
    run: async (r, { seconds, dir, log }) => {
      const python = hasOpenCv() ? OPENCV_PYTHON : null;
      r.cpu = await cpuSection({ ffmpeg: locateFfmpeg().path, python, dir, repeats: 3, seconds, log });
    },
  },
};

async function refresh(name: string, section: Refresh, seconds: number): Promise<void> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const loadStart = loadAverage();
  const log = (s: string): void =>
    void process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0)}s] ${s}\n`);
  const file = join(RESULTS, 'latest.json');
  const results = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
  if (section.needsFanout && !results.fanout)
    throw new Error(`${file} has no fan-out section: run --only fanout first`);
  const dir = mkdtempSync(join(tmpdir(), 'framecast-bench-'));
  try {
    await section.run(results, { seconds, dir, log });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  results.sections = { ...results.sections, [name]: { date: startedAt, loadStart, loadEnd: loadAverage() } };
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  const md = markdown(results);
  writeFileSync(join(RESULTS, 'latest.md'), md + '\n');
  process.stdout.write(md + '\n');
  log(`updated the ${section.label} rows of ${file}`);
  readmeFromResults(log);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
