/**
 * Recording (`npm run bench -- --only record`), three measures side by side in one run:
 *
 * 1. The CPU recording adds to one 30 fps 800x450 stream with one viewer: a publisher stream fed
 *    real footage's JPEGs (q80) by a publisher process, an HTTP MJPEG viewer, and the server's own
 *    CPU from /proc over windows with recording off and on in turn (off, on, three times: switched through
 *    POST/DELETE /api/streams/NAME/record, the stream and its viewer going on).
 * 2. 20 publisher streams (640x360 footage at 30 fps) recorded at once: the frames each stream
 *    published against those its recorder wrote and dropped (/stats), and those the catalogs list on
 *    disk once the server has stopped; the server's and the publishers' CPU.
 * 3. 10,000 segments on disk (written here with SegmentWriter and listed in the catalog through
 *    RecordingStore, a few frames each, spread over days; 20 full 60 s segments at 30 fps at the end):
 *    a server that has not read them yet (its first request loads the catalog), then the listing,
 *    MediaMTX's /list, snapshot.jpg?at= and the first frame of playback.mjpg?start= at random times
 *    inside the recording, one request at a time, each on a connection of its own.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { Frame } from '../src/hub/frame.js';
import { RecordingStore } from '../src/record/recording-store.js';
import { segmentInfoOf, type SegmentInfo } from '../src/record/segment-name.js';
import { SegmentWriter } from '../src/record/segment-writer.js';
import { MultipartReader } from '../test/helpers/mjpeg.js';
import type { Percentiles } from './loadgen.js';
import { MEDIA_DIR } from './lib/media.js';
import { procSample, sleep, spawnWithFds, stop, waitForLine } from './lib/proc.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FRAMECAST = `${ROOT}bin/framecast`;
const PUBLISHER = 'bench/lib/record-publisher.ts';
const ADMIN_TOKEN = 'bench-record-admin';
const FPS = 30;

/** The JPEGs publishers send: real footage (or a noisy test card) at one size, q80. */
export interface JpegSet {
  width: number;
  height: number;
  count: number;
  meanBytes: number;
  /** Where the pictures come from. */
  footage: string;
}

/** One CPU window of measure 1. */
export interface RecordCpuWindow {
  recording: boolean;
  seconds: number;
  serverCores: number;
  /** Frames the stream published per second in the window (its hub's count). */
  publishedFps: number;
  /** Frames the recorder wrote and dropped in the window (0 with recording off). */
  framesWritten: number;
  framesDropped: number;
}

/** Measure 1: the CPU recording adds to one stream. */
export interface RecordCpu {
  jpeg: JpegSet;
  windows: RecordCpuWindow[];
  /** Mean server cores over the windows without and with recording, and the difference. */
  without: number;
  with: number;
  added: number;
}

/** Measure 2: many streams recorded at once. */
export interface RecordMany {
  streams: number;
  jpeg: JpegSet;
  seconds: number;
  /** Frames the streams' hubs published, summed (NO SIGNAL pictures before and after the publishers included). */
  published: number;
  /** The recorders' counts at the same moment (/stats). */
  written: number;
  dropped: number;
  /** Streams whose written count differs from their published count. */
  streamsShort: number;
  /** The recorders' final counts as the server logged them when it stopped, and the frames its catalogs list. */
  finalWritten: number | null;
  finalDropped: number | null;
  onDisk: number;
  /** Segments on disk not listed in a catalog after the server stopped. */
  unlisted: number;
  publisherSent: number;
  publisherSkipped: number;
  /** Frames per second per stream the publishers sent over the window. */
  sentFps: number;
  serverCores: number;
  publisherCores: number;
}

/** Measure 3: finding things among many segments. */
export interface RecordLookup {
  segments: number;
  /** Of which full 60 s segments at 30 fps. */
  fullSegments: number;
  frames: number;
  bytes: number;
  days: number;
  spans: number;
  generateSeconds: number;
  /** The first request of a server that has not read the catalog yet (the listing: it loads it). */
  firstListMs: number;
  listMs: Percentiles;
  mediamtxListMs: Percentiles;
  snapshotMs: Percentiles;
  playbackMs: Percentiles;
  /** The same two in the full segments (their index: 1,800 frames). */
  fullSnapshotMs: Percentiles;
  fullPlaybackMs: Percentiles;
  /** Requests that did not answer 200 with a picture at or before the time asked. */
  failures: number;
}

export interface RecordRows {
  cpu: RecordCpu;
  many: RecordMany;
  lookup: RecordLookup;
}

interface Ctx {
  ffmpeg: string;
  dir: string;
  seconds: number;
  log: (s: string) => void;
}

/** p50/p99/max of `values` (the same definition as the load generator's). */
function percentiles(values: number[]): Percentiles {
  const s = Float64Array.from(values).sort();
  const at = (p: number): number =>
    s[Math.max(0, Math.min(s.length - 1, Math.ceil(p * s.length) - 1))] ?? NaN;
  const r = (x: number): number => Math.round(x * 100) / 100;
  return { p50: r(at(0.5)), p99: r(at(0.99)), max: r(s[s.length - 1] ?? NaN), samples: s.length };
}

/** `count` frames of car-detection.mp4 (or a noisy test card) at `width`x`height`, JPEG q80 by sharp. */
async function jpegSet(
  ffmpeg: string,
  dir: string,
  width: number,
  height: number,
  count: number,
): Promise<JpegSet> {
  const clip = join(MEDIA_DIR, 'car-detection.mp4');
  const real = existsSync(clip);
  const input = real
    ? ['-i', clip]
    : ['-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=30,noise=alls=6:allf=t`];
  const size = width * height * 3;
  const r = spawnSync(
    ffmpeg,
    [
      ...['-hide_banner', '-v', 'error', '-nostdin', ...input, '-frames:v', String(count)],
      ...['-vf', `scale=${width}:${height}`, '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1'],
    ],
    { maxBuffer: size * count + 1024 },
  );
  if (r.status !== 0 || r.stdout.length < size) throw new Error(`ffmpeg could not make frames: ${r.stderr}`);
  const out = join(dir, `jpeg-${width}x${height}`);
  mkdirSync(out, { recursive: true });
  const n = Math.floor(r.stdout.length / size);
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const jpeg = await sharp(r.stdout.subarray(i * size, (i + 1) * size), {
      raw: { width, height, channels: 3 },
    })
      .jpeg({ quality: 80 })
      .toBuffer();
    bytes += jpeg.length;
    writeFileSync(join(out, `${String(i).padStart(4, '0')}.jpg`), jpeg);
  }
  return {
    width,
    height,
    count: n,
    meanBytes: bytes / n,
    footage: real ? 'car-detection.mp4 (street traffic)' : 'testsrc2 with noise (no footage on this machine)',
  };
}

function jpegDir(dir: string, j: JpegSet): string {
  return join(dir, `jpeg-${j.width}x${j.height}`);
}

/** A server of publisher streams `names` (more `serve` flags in `args`): its pid and ports. */
async function startServer(
  names: string[],
  args: string[],
): Promise<{
  server: ReturnType<typeof spawnWithFds>;
  pid: number;
  port: number;
  base: string;
  lines: string[];
}> {
  const server = spawnWithFds(process.execPath, [
    FRAMECAST,
    'serve',
    ...names.map((n) => `${n}=publisher`),
    ...['--port', '0', '--http-port', '0', '--json', '--max-clients', '1000'],
    ...args,
  ]);
  const m = await waitForLine(server, /"event":"listening".*?"port":(\d+),"httpPort":(\d+)/, 20_000);
  // The log lines the bench reads later (the recorders' final counts).
  const lines: string[] = [];
  createInterface({ input: server.stdout as NodeJS.ReadableStream }).on('line', (l) => {
    if (l.includes('"protocol":"record"')) lines.push(l);
  });
  server.stderr?.resume();
  return {
    server,
    pid: server.pid as number,
    port: Number(m[1]),
    base: `http://127.0.0.1:${m[2]}`,
    lines,
  };
}

function startPublisher(
  port: number,
  names: string[],
  dir: string,
  j: JpegSet,
): ReturnType<typeof spawnWithFds> {
  const pub = spawnWithFds(
    process.execPath,
    [
      ...['--import', 'tsx', PUBLISHER, '--port', String(port), '--streams', names.join(',')],
      ...[
        '--fps',
        String(FPS),
        '--jpegs',
        jpegDir(dir, j),
        '--width',
        String(j.width),
        '--height',
        String(j.height),
      ],
    ],
    undefined,
    ROOT,
  );
  pub.stderr?.resume();
  return pub;
}

interface PublisherCounts {
  /** From its first frame to SIGTERM. */
  seconds: number;
  streams: { stream: string; sent: number; acked: number; skipped: number }[];
}

/** Stops a publisher and reads the counts it prints. */
async function stopPublisher(pub: ReturnType<typeof spawnWithFds>): Promise<PublisherCounts | null> {
  let out = '';
  pub.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  await stop(pub, 5000);
  const line = out.split('\n').find((l) => l.startsWith('{'));
  return line ? (JSON.parse(line) as PublisherCounts) : null;
}

interface StreamStats {
  name: string;
  totals: { framesIn: number };
  recording: { framesWritten: number; framesDropped: number } | null;
}

async function streamStats(base: string): Promise<Map<string, StreamStats>> {
  const res = await fetch(`${base}/stats`);
  const body = (await res.json()) as { streams?: StreamStats[] };
  return new Map((body.streams ?? []).map((s) => [s.name, s]));
}

async function setRecording(base: string, name: string, on: boolean): Promise<void> {
  const res = await fetch(`${base}/api/streams/${name}/record`, {
    method: on ? 'POST' : 'DELETE',
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  if (res.status !== 200) throw new Error(`record ${on ? 'on' : 'off'}: ${res.status} ${await res.text()}`);
}

/** Measure 1: one stream, one viewer, recording off and on in turn (`pairs` of windows). */
async function cpuRows(ctx: Ctx, jpeg: JpegSet, pairs: number): Promise<RecordCpu> {
  const { server, pid, port, base } = await startServer(
    ['cam'],
    [...['--record-path', join(ctx.dir, 'rec-cpu'), '--admin-token', ADMIN_TOKEN]],
  );
  const pub = startPublisher(port, ['cam'], ctx.dir, jpeg);
  const viewer = http.get(`${base}/streams/cam/stream.mjpg`, { agent: false }, (res) => res.resume());
  viewer.on('error', () => undefined);
  try {
    await sleep(2000);
    const windows: RecordCpuWindow[] = [];
    for (let i = 0; i < pairs; i++)
      for (const recording of [false, true]) {
        await setRecording(base, 'cam', recording);
        await sleep(2000);
        const c0 = procSample(pid)?.cpuMs ?? NaN;
        const t0 = performance.now();
        const s0 = (await streamStats(base)).get('cam');
        await sleep(ctx.seconds * 1000);
        const c1 = procSample(pid)?.cpuMs ?? NaN;
        const t1 = performance.now();
        const s1 = (await streamStats(base)).get('cam');
        const secs = (t1 - t0) / 1000;
        const w: RecordCpuWindow = {
          recording,
          seconds: secs,
          serverCores: (c1 - c0) / 1000 / secs,
          publishedFps: ((s1?.totals.framesIn ?? 0) - (s0?.totals.framesIn ?? 0)) / secs,
          framesWritten: (s1?.recording?.framesWritten ?? 0) - (s0?.recording?.framesWritten ?? 0),
          framesDropped: (s1?.recording?.framesDropped ?? 0) - (s0?.recording?.framesDropped ?? 0),
        };
        windows.push(w);
        ctx.log(
          `recording ${recording ? 'on ' : 'off'}: server ${w.serverCores.toFixed(4)} cores, published ${w.publishedFps.toFixed(1)} fps, ` +
            `${w.framesWritten} written, ${w.framesDropped} dropped`,
        );
      }
    const mean = (on: boolean): number => {
      const xs = windows.filter((w) => w.recording === on).map((w) => w.serverCores);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    return { jpeg, windows, without: mean(false), with: mean(true), added: mean(true) - mean(false) };
  } finally {
    viewer.destroy();
    await stopPublisher(pub);
    await stop(server, 10_000);
  }
}

/** Frames listed in a stream's catalog, and .mkv files it does not list. */
function catalogFrames(dir: string): { frames: number; unlisted: number } {
  const listed = new Map<string, SegmentInfo>();
  let text = '';
  try {
    text = readFileSync(join(dir, 'catalog.ndjson'), 'utf8');
  } catch {
    // no catalog: nothing closed
  }
  for (const line of text.split('\n')) {
    if (!line) continue;
    const v = JSON.parse(line) as unknown;
    const del = (v as { del?: unknown }).del;
    if (typeof del === 'string') listed.delete(del);
    const info = segmentInfoOf(v);
    if (info) listed.set(info.name, info);
  }
  const files = existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.mkv')) : [];
  return {
    frames: [...listed.values()].reduce((n, s) => n + s.frames, 0),
    unlisted: files.filter((f) => !listed.has(f.slice(0, -4))).length,
  };
}

/** Measure 2: `n` publisher streams recorded at once. */
async function manyRows(ctx: Ctx, jpeg: JpegSet, n: number): Promise<RecordMany> {
  const names = Array.from({ length: n }, (_, i) => `rec${String(i).padStart(2, '0')}`);
  const root = join(ctx.dir, 'rec-many');
  const { server, pid, port, base, lines } = await startServer(names, ['--record', '--record-path', root]);
  let pub: ReturnType<typeof spawnWithFds> | null = null;
  try {
    pub = startPublisher(port, names, ctx.dir, jpeg);
    const pubPid = pub.pid as number;
    await sleep(2000);
    const c0 = procSample(pid)?.cpuMs ?? NaN;
    const p0 = procSample(pubPid)?.cpuMs ?? NaN;
    const t0 = performance.now();
    await sleep(ctx.seconds * 1000);
    const c1 = procSample(pid)?.cpuMs ?? NaN;
    const p1 = procSample(pubPid)?.cpuMs ?? NaN;
    const secs = (performance.now() - t0) / 1000;
    const counts = await stopPublisher(pub);
    pub = null;
    await sleep(1500);
    const stats = await streamStats(base);
    let published = 0;
    let written = 0;
    let dropped = 0;
    let streamsShort = 0;
    for (const name of names) {
      const s = stats.get(name);
      const w = s?.recording?.framesWritten ?? 0;
      published += s?.totals.framesIn ?? 0;
      written += w;
      dropped += s?.recording?.framesDropped ?? 0;
      if (w !== (s?.totals.framesIn ?? -1)) streamsShort++;
    }
    await stop(server, 30_000);
    // The recorders' final counts: the server logs each subscriber that leaves, the recorders too.
    let finalWritten: number | null = null;
    let finalDropped: number | null = null;
    for (const l of lines) {
      const e = JSON.parse(l) as { event?: string; framesSent?: number; drops?: number };
      if (e.event !== 'left') continue;
      finalWritten = (finalWritten ?? 0) + (e.framesSent ?? 0);
      finalDropped = (finalDropped ?? 0) + (e.drops ?? 0);
    }
    let onDisk = 0;
    let unlisted = 0;
    for (const name of names) {
      const c = catalogFrames(join(root, name));
      onDisk += c.frames;
      unlisted += c.unlisted;
    }
    const sent = counts?.streams.reduce((a, s) => a + s.sent, 0) ?? 0;
    const row: RecordMany = {
      streams: n,
      jpeg,
      seconds: secs,
      published,
      written,
      dropped,
      streamsShort,
      finalWritten,
      finalDropped,
      onDisk,
      unlisted,
      publisherSent: sent,
      publisherSkipped: counts?.streams.reduce((a, s) => a + s.skipped, 0) ?? 0,
      sentFps: 0,
      serverCores: (c1 - c0) / 1000 / secs,
      publisherCores: (p1 - p0) / 1000 / secs,
    };
    // The publishers' rate over their whole run (first frame to stop), per stream.
    row.sentFps = counts ? sent / n / counts.seconds : 0;
    ctx.log(
      `${n} streams recorded: ${published} frames published, ${written} written, ${dropped} dropped; ` +
        `after stopping ${finalWritten ?? '-'} written, ${onDisk} on disk; server ${row.serverCores.toFixed(2)} cores, ` +
        `publishers ${row.publisherCores.toFixed(2)}`,
    );
    return row;
  } finally {
    if (pub) await stopPublisher(pub);
    await stop(server, 30_000);
  }
}

/** Runs `fn` over `items`, `width` at a time. */
async function pool<T>(items: T[], width: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

/** The segments of measure 3: their plan (first frame, frames, interval), then the files. */
interface PlannedSegment {
  start: number;
  frames: number;
  intervalMs: number;
}

const THIN_FRAMES = 3;
const THIN_INTERVAL_MS = 20_000;
const SEGMENT_MS = 60_000;
/** An hour without recording every this many segments (the camera was off): the listing has spans. */
const GAP_EVERY = 1000;
const GAP_MS = 3_600_000;

function planSegments(segments: number, full: number): PlannedSegment[] {
  const thin = segments - full;
  const gaps = Math.floor((thin - 1) / GAP_EVERY);
  // It ends an hour ago.
  let t = Date.now() - 3_600_000 - segments * SEGMENT_MS - gaps * GAP_MS;
  t = Math.floor(t / 1000) * 1000;
  const out: PlannedSegment[] = [];
  for (let i = 0; i < segments; i++) {
    if (i > 0 && i < thin && i % GAP_EVERY === 0) t += GAP_MS;
    const isFull = i >= thin;
    out.push({
      start: t,
      frames: isFull ? (SEGMENT_MS / 1000) * FPS : THIN_FRAMES,
      intervalMs: isFull ? 1000 / FPS : THIN_INTERVAL_MS,
    });
    t += SEGMENT_MS;
  }
  return out;
}

/** Writes the planned segments into `dir` with SegmentWriter, listed in its catalog by RecordingStore. */
async function writeSegments(
  dir: string,
  plan: PlannedSegment[],
  jpegs: Buffer[],
  j: JpegSet,
): Promise<SegmentInfo[]> {
  mkdirSync(dir, { recursive: true });
  const store = await RecordingStore.load(dir, 'cam');
  const infos: SegmentInfo[] = [];
  let seq = 0;
  await pool(plan, 8, async (p) => {
    const frames: Frame[] = [];
    for (let k = 0; k < p.frames; k++) {
      const t = p.start + k * p.intervalMs;
      frames.push(
        new Frame({
          seq: seq++,
          width: j.width,
          height: j.height,
          capturedAt: t,
          encodedAt: t,
          jpeg: jpegs[seq % jpegs.length] as Buffer,
        }),
      );
    }
    const w = await SegmentWriter.create(dir, 'cam', frames[0] as Frame);
    for (const f of frames) if (!w.append(f)) throw new Error(`segment ${w.name}: a frame was not written`);
    const info = await w.close();
    await store.added(info);
    infos.push(info);
  });
  return infos.sort((a, b) => a.start - b.start);
}

interface Timed {
  ms: number;
  status: number;
  /** The picture's capture time (X-Timestamp, seconds), when one came. */
  timestamp: number | null;
}

/**
 * GETs `url` on a connection of its own: the time to the whole body (`body`), or to the first whole
 * part of an MJPEG response (`part`, then the connection is closed).
 */
function timedGet(url: string, until: 'body' | 'part'): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(url, { agent: false }, (res) => {
      const status = res.statusCode ?? 0;
      const type = res.headers['content-type'] ?? '';
      const boundary = /boundary=([^;\s]+)/.exec(type)?.[1];
      if (until === 'part' && status === 200 && boundary) {
        const reader = new MultipartReader(boundary);
        let done = false;
        res.on('data', (c: Buffer) => {
          if (done) return;
          reader.push(c, (p) => {
            if (done) return;
            done = true;
            const ms = performance.now() - t0;
            req.destroy();
            resolve({ ms, status, timestamp: Number(p.headers['x-timestamp'] ?? NaN) });
          });
        });
        res.on('end', () => {
          if (!done) resolve({ ms: performance.now() - t0, status: 0, timestamp: null });
        });
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const ms = performance.now() - t0;
        const ts = res.headers['x-timestamp'];
        resolve({ ms, status, timestamp: typeof ts === 'string' ? Number(ts) : null });
      });
    });
    req.on('error', (err) => {
      if (!req.destroyed || (err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
    });
  });
}

/** A uniformly random time inside a random segment of `segs` (between its first and last frames). */
function randomTime(segs: SegmentInfo[]): number {
  const s = segs[Math.floor(Math.random() * segs.length)] as SegmentInfo;
  return s.start + Math.random() * (s.end - s.start);
}

const iso = (ms: number): string => new Date(Math.floor(ms)).toISOString();

/** Measure 3: `segments` segments on disk, `requests` of each kind. */
async function lookupRows(
  ctx: Ctx,
  jpeg: JpegSet,
  segments: number,
  full: number,
  requests: number,
): Promise<RecordLookup> {
  const root = join(ctx.dir, 'rec-lookup');
  const dir = join(root, 'cam');
  const jpegs = readdirSync(jpegDir(ctx.dir, jpeg))
    .sort()
    .map((n) => readFileSync(join(jpegDir(ctx.dir, jpeg), n)));
  const g0 = performance.now();
  const infos = await writeSegments(dir, planSegments(segments, full), jpegs, jpeg);
  const generateSeconds = (performance.now() - g0) / 1000;
  const frames = infos.reduce((n, s) => n + s.frames, 0);
  const bytes = infos.reduce((n, s) => n + s.bytes, 0);
  const first = infos[0] as SegmentInfo;
  const last = infos[infos.length - 1] as SegmentInfo;
  ctx.log(
    `wrote ${infos.length} segments (${frames} frames, ${(bytes / 2 ** 20).toFixed(0)} MiB) in ${generateSeconds.toFixed(1)} s`,
  );
  const { server, base } = await startServer(['cam'], ['--record-path', root]);
  try {
    // The server's first HTTP request is slower whatever it asks: one before, so the next is the catalog's load.
    await timedGet(`${base}/healthz`, 'body');
    const firstList = await timedGet(`${base}/streams/cam/recordings`, 'body');
    if (firstList.status !== 200) throw new Error(`listing: ${firstList.status}`);
    const listing = (await (await fetch(`${base}/streams/cam/recordings`)).json()) as {
      spans: { segments: number }[];
    };
    const listed = listing.spans.reduce((n, s) => n + s.segments, 0);
    if (listed !== infos.length) throw new Error(`the listing has ${listed} segments of ${infos.length}`);
    let failures = 0;
    const check = (t: Timed, at: number, part: boolean): number => {
      // A picture at or before the time asked (a playback's first frame is the one of that moment).
      if (t.status !== 200 || t.timestamp === null || !(t.timestamp * 1000 <= at + 0.001)) {
        failures++;
        ctx.log(`${part ? 'playback' : 'snapshot'} at ${iso(at)}: ${t.status}, picture of ${t.timestamp}`);
      }
      return t.ms;
    };
    const list: number[] = [];
    const mediamtx: number[] = [];
    for (let i = 0; i < requests; i++) {
      const a = await timedGet(`${base}/streams/cam/recordings`, 'body');
      const b = await timedGet(`${base}/list?path=cam`, 'body');
      if (a.status !== 200 || b.status !== 200) failures++;
      list.push(a.ms);
      mediamtx.push(b.ms);
    }
    const fullSegs = infos.slice(infos.length - full);
    const sample = async (segs: SegmentInfo[]): Promise<{ snap: number[]; play: number[] }> => {
      const snap: number[] = [];
      const play: number[] = [];
      for (let i = 0; i < requests; i++) {
        const at = randomTime(segs);
        snap.push(check(await timedGet(`${base}/streams/cam/snapshot.jpg?at=${iso(at)}`, 'body'), at, false));
        const from = randomTime(segs);
        play.push(
          check(await timedGet(`${base}/streams/cam/playback.mjpg?start=${iso(from)}`, 'part'), from, true),
        );
      }
      return { snap, play };
    };
    const all = await sample(infos);
    const inFull = await sample(fullSegs);
    const row: RecordLookup = {
      segments: infos.length,
      fullSegments: full,
      frames,
      bytes,
      days: (last.end - first.start) / 86_400_000,
      spans: listing.spans.length,
      generateSeconds,
      firstListMs: firstList.ms,
      listMs: percentiles(list),
      mediamtxListMs: percentiles(mediamtx),
      snapshotMs: percentiles(all.snap),
      playbackMs: percentiles(all.play),
      fullSnapshotMs: percentiles(inFull.snap),
      fullPlaybackMs: percentiles(inFull.play),
      failures,
    };
    const pp = (p: Percentiles): string => `${p.p50.toFixed(1)}/${p.p99.toFixed(1)}`;
    ctx.log(
      `${infos.length} segments: first listing ${row.firstListMs.toFixed(0)} ms; p50/p99 ms: listing ${pp(row.listMs)}, ` +
        `/list ${pp(row.mediamtxListMs)}, snapshot ${pp(row.snapshotMs)}, playback ${pp(row.playbackMs)}; ` +
        `in full segments snapshot ${pp(row.fullSnapshotMs)}, playback ${pp(row.fullPlaybackMs)}; ${failures} failed`,
    );
    return row;
  } finally {
    await stop(server, 10_000);
  }
}

/** The three measures, in one run. */
export async function recordRows(ctx: Ctx): Promise<RecordRows> {
  const big = await jpegSet(ctx.ffmpeg, ctx.dir, 800, 450, 60);
  const mid = await jpegSet(ctx.ffmpeg, ctx.dir, 640, 360, 60);
  const small = await jpegSet(ctx.ffmpeg, ctx.dir, 320, 180, 60);
  ctx.log(
    `JPEGs q80 from ${big.footage}: ${big.meanBytes.toFixed(0)} B at 800x450, ${mid.meanBytes.toFixed(0)} B at 640x360, ` +
      `${small.meanBytes.toFixed(0)} B at 320x180`,
  );
  const cpu = await cpuRows(ctx, big, 3);
  ctx.log(
    `recording adds ${cpu.added.toFixed(4)} cores (${cpu.without.toFixed(4)} without, ${cpu.with.toFixed(4)} with)`,
  );
  const many = await manyRows(ctx, mid, 20);
  const lookup = await lookupRows(ctx, small, 10_000, 20, 200);
  return { cpu, many, lookup };
}
