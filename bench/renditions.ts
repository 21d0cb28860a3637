/**
 * Renditions (`npm run bench -- --only renditions`): what a 320-px rendition costs per frame made by
 * scaleJpeg() (DCT-scaled decode) from an 800-px and a 1080p JPEG, against a full decode + resize +
 * encode of the same 1080p JPEG; and 300 MJPEG viewers split over three renditions of one 30 fps
 * 800x450 stream (`serve test` in its own process, the viewers in another): encodes per source frame,
 * frames each viewer received, and the latency of rendition viewers against main-size viewers.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { RenditionCpu } from './lib/rendition-cpu.js';
import type { MjpegGroupResult, MjpegViewersResult, StatsRendition } from './lib/mjpeg-viewers.js';
import { childPids, procSample, runToEnd, spawnWithFds, stop, treeCpuMs, waitForLine } from './lib/proc.js';
import { existsSync } from 'node:fs';
import { CHROMIUM, launchChromium } from '../test/helpers/browser.js';
import { gridServer, measureGrid, type GridBytes } from '../test/helpers/grid-bytes.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FRAMECAST = `${ROOT}bin/framecast`;

/** The issue's targets for renditions. */
export const RENDITION_TARGETS = {
  /** Encodes per source frame with three renditions running: one each. */
  encodesPerFrame: 3,
  /** Every rendition viewer receives at least this share of its rendition's frames. */
  minFraction: 0.99,
  /** A rendition viewer's latency p99 at most this much over a main-size viewer's. */
  p99OverMainMs: 5,
  /** The grid page's bytes per frame with its thumbnails, against every tile at full size. */
  gridPerFrame: 0.3,
} as const;

/** One rendition in the viewers' run: its viewers' frames and latency, its encoder's counts. */
export interface RenditionViewersRow {
  width: number | null;
  pictureWidth: number | null;
  pictureHeight: number | null;
  viewers: number;
  failed: number;
  /** Seqs the group's viewers received in the window (edges left out). */
  framesInWindow: number;
  minFraction: number;
  medianFraction: number;
  meanBytes: number;
  latencyMs: MjpegGroupResult['latencyMs'];
  /** From /stats over the window (null for the main-size viewers). */
  encoded: number | null;
  skipped: number | null;
  encodedPerSourceFrame: number | null;
  /**
   * The server's own measure at the window's end (/stats `delayMs`, its last 128 frames): how long
   * after the stream's own frame this rendition's was out, before any write. Absent in runs before 2026-12-07 23:15 UTC.
   */
  serverDelayMs?: StatsRendition['delayMs'];
}

/** The viewers' run. */
export interface RenditionViewers {
  streamWidth: number;
  sourceFps: number;
  seconds: number;
  /** Frames the stream's hub took in over the window (/stats totals.framesIn). */
  sourceFrames: number;
  /** All renditions' encodes over the window / sourceFrames. */
  encodesPerSourceFrame: number;
  rows: RenditionViewersRow[];
  serverCores: number;
  ffmpegCores: number;
  loadgenCores: number;
  rssMB: number;
}

/** The renditions rows of latest.json. */
export interface RenditionRows {
  cpu: RenditionCpu;
  /** CPU per frame from the 1080p JPEG, scaleJpeg() against the full decode. */
  ratio1080: number;
  viewers: RenditionViewers;
  /**
   * The same server with one viewer per rendition and one at the stream's own size: latency without
   * the fan-out of 100 per group (what a rendition's encode itself adds). Absent before 2026-12-07.
   */
  alone?: RenditionViewers;
  /**
   * The grid page in headless Chromium (six 800-px streams, 1280x720): its thumbnails against every
   * tile at full size (test/helpers/grid-bytes.ts). Absent in runs before 2026-12-07 23:45 UTC, or without Chromium.
   */
  grid?: GridBytes;
}

/** 30 distinct 1080p frames of ffmpeg's testsrc2 (PNG), for the CPU cases. */
function makeFrames(ffmpeg: string, dir: string): string {
  const out = join(dir, 'rendition-frames');
  mkdirSync(out, { recursive: true });
  const r = spawnSync(ffmpeg, [
    ...['-hide_banner', '-v', 'error', '-nostdin', '-y', '-f', 'lavfi'],
    ...['-i', 'testsrc2=size=1920x1080:rate=30', '-frames:v', '30', join(out, 'f%03d.png')],
  ]);
  if (r.status !== 0) throw new Error(`ffmpeg could not make the frames: ${r.stderr?.toString()}`);
  return out;
}

async function cpuCases(framesDir: string, count: number): Promise<RenditionCpu> {
  const child = spawnWithFds(
    process.execPath,
    ['--import', 'tsx', 'bench/lib/rendition-cpu.ts', '--frames', framesDir, '--count', String(count)],
    undefined,
    ROOT,
  );
  const { stdout } = await runToEnd(child, 600_000);
  const line = stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error('rendition-cpu printed no result');
  return JSON.parse(line) as RenditionCpu;
}

const WIDTHS = [320, 480, 640];

async function viewersRun(opts: {
  perRendition: number;
  main: number;
  seconds: number;
}): Promise<RenditionViewers> {
  const server = spawnWithFds(process.execPath, [
    FRAMECAST,
    'serve',
    'cam=test',
    ...['--port', '0', '--http-port', '0', '--max-clients', '100000', '--json'],
  ]);
  const pid = server.pid as number;
  try {
    const m = await waitForLine(server, /"event":"listening".*?"httpPort":(\d+)/, 20_000);
    server.stdout?.resume();
    const groups = [...WIDTHS.map((w) => `${w}:${opts.perRendition}`), `main:${opts.main}`].join(',');
    const gen = spawnWithFds(
      process.execPath,
      [
        ...['--import', 'tsx', 'bench/lib/mjpeg-viewers.ts', '--port', m[1] as string, '--stream', 'cam'],
        ...['--groups', groups, '--seconds', String(opts.seconds)],
      ],
      undefined,
      ROOT,
    );
    let stderr = '';
    gen.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    // The server's CPU (its own process) and its children's (ffmpeg making the test pattern).
    const treeCpu = (): { own: number; ff: number } => {
      const own = procSample(pid)?.cpuMs ?? 0;
      const ff = childPids(pid).reduce((a, c) => a + treeCpuMs(c), 0);
      return { own, ff };
    };
    let start: { t: number; own: number; ff: number } | null = null;
    let end: { t: number; own: number; ff: number; rss: number } | null = null;
    let result: MjpegViewersResult | null = null;
    const rl = createInterface({ input: gen.stdout as NodeJS.ReadableStream });
    rl.on('line', (line) => {
      const now = performance.now();
      if (line.includes('"window-start"')) start = { t: now, ...treeCpu() };
      else if (line.includes('"window-end"'))
        end = { t: now, ...treeCpu(), rss: procSample(pid)?.rssBytes ?? 0 };
      else if (line.startsWith('{')) result = JSON.parse(line) as MjpegViewersResult;
    });
    const code = await new Promise<number | null>((resolve) => gen.once('exit', resolve));
    const r = result as MjpegViewersResult | null;
    const s0 = start as { t: number; own: number; ff: number } | null;
    const s1 = end as { t: number; own: number; ff: number; rss: number } | null;
    if (code !== 0 || !r || !s0 || !s1) throw new Error(`MJPEG viewers failed (${code}): ${stderr}`);
    const secs = (s1.t - s0.t) / 1000;
    const sourceFrames = r.statsEnd.framesIn - r.statsStart.framesIn;
    const byWidth = (s: StatsRendition[], w: number): StatsRendition | undefined =>
      s.find((x) => x.width === w);
    const rows = r.groups.map((g): RenditionViewersRow => {
      const a = g.width === null ? undefined : byWidth(r.statsStart.renditions, g.width);
      const b = g.width === null ? undefined : byWidth(r.statsEnd.renditions, g.width);
      const encoded = a && b ? b.encoded - a.encoded : null;
      return {
        width: g.width,
        pictureWidth: g.pictureWidth,
        pictureHeight: g.pictureHeight,
        viewers: g.viewers,
        failed: g.failed,
        framesInWindow: g.framesInWindow,
        minFraction: g.fractions[0] ?? 0,
        medianFraction: g.fractions[Math.floor(g.fractions.length / 2)] ?? 0,
        meanBytes: g.meanBytes,
        latencyMs: g.latencyMs,
        encoded,
        skipped: a && b ? b.skipped - a.skipped : null,
        encodedPerSourceFrame: encoded === null ? null : encoded / Math.max(1, sourceFrames),
        serverDelayMs: b?.delayMs ?? null,
      };
    });
    const encodes = rows.reduce((s, x) => s + (x.encoded ?? 0), 0);
    return {
      streamWidth: 800,
      sourceFps: 30,
      seconds: r.windowSeconds,
      sourceFrames,
      encodesPerSourceFrame: encodes / Math.max(1, sourceFrames),
      rows,
      serverCores: (s1.own - s0.own) / 1000 / secs,
      ffmpegCores: (s1.ff - s0.ff) / 1000 / secs,
      loadgenCores: r.loadgenCores,
      rssMB: s1.rss / 2 ** 20,
    };
  } finally {
    await stop(server);
  }
}

/** Both measures: `frames` encodes per CPU case, viewers over `seconds`. */
export async function renditionRows(opts: {
  ffmpeg: string;
  dir: string;
  frames: number;
  perRendition: number;
  main: number;
  seconds: number;
  log: (s: string) => void;
}): Promise<RenditionRows> {
  const cpu = await cpuCases(makeFrames(opts.ffmpeg, opts.dir), opts.frames);
  const c = cpu.cases;
  const ratio1080 = c.from1080.cpuMsPerFrame / c.full1080.cpuMsPerFrame;
  opts.log(
    `rendition ${cpu.width}px CPU per frame: from 800 ${c.from800.cpuMsPerFrame.toFixed(2)} ms, from 1080p ` +
      `${c.from1080.cpuMsPerFrame.toFixed(2)} ms, full decode ${c.full1080.cpuMsPerFrame.toFixed(2)} ms ` +
      `(${ratio1080.toFixed(2)}x)`,
  );
  const viewers = await viewersRun(opts);
  for (const x of viewers.rows)
    opts.log(
      `${x.width ?? 'main'}: ${x.viewers} viewers, min ${(x.minFraction * 100).toFixed(1)}% of ${x.framesInWindow} frames, ` +
        `encoded ${x.encoded ?? '-'} of ${viewers.sourceFrames}, latency p50/p99 ${x.latencyMs?.p50 ?? '-'}/${x.latencyMs?.p99 ?? '-'} ms` +
        (x.serverDelayMs
          ? `, out after the stream's frame ${x.serverDelayMs.p50}/${x.serverDelayMs.p99} ms`
          : ''),
    );
  opts.log(
    `renditions: ${viewers.encodesPerSourceFrame.toFixed(2)} encodes per source frame, server ${viewers.serverCores.toFixed(2)} cores`,
  );
  const alone = await viewersRun({ perRendition: 1, main: 1, seconds: opts.seconds });
  opts.log(
    `alone (one viewer per group): latency p50/p99 ${alone.rows
      .map((x) => `${x.width ?? 'main'} ${x.latencyMs?.p50 ?? '-'}/${x.latencyMs?.p99 ?? '-'}`)
      .join(', ')} ms`,
  );
  const grid = await gridRun();
  if (grid)
    opts.log(
      `grid page: thumbnails ${grid.thumbs.bytesPerSecond} B/s at ${grid.thumbs.framesPerSecond} frames/s, full ` +
        `${grid.full.bytesPerSecond} B/s at ${grid.full.framesPerSecond}: ${grid.perFrame.toFixed(3)} per frame`,
    );
  else opts.log(`grid page: not measured (no Chromium at ${CHROMIUM})`);
  return { cpu, ratio1080, viewers, alone, ...(grid ? { grid } : {}) };
}

/** The grid page's bytes with and without thumbnails, or null without Chromium. */
async function gridRun(): Promise<GridBytes | null> {
  if (!existsSync(CHROMIUM)) return null;
  const [browser, grid] = await Promise.all([launchChromium(), gridServer()]);
  try {
    return await measureGrid(browser, grid.base);
  } finally {
    await browser.close();
    await grid.close();
  }
}
