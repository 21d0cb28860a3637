import { table } from './lib/markdown.js';
import { RENDITION_TARGETS, type RenditionRows, type RenditionViewersRow } from './renditions.js';

const f0 = (x: number): string => x.toFixed(0);
const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const kb = (x: number): string => `${f1(x / 1024)} kB`;
const met = (ok: boolean): string => (ok ? 'met' : 'not met');

/** Encodes per source frame counted as 3 when within 1%: an encode in flight at either end of the window. */
const ENCODES_TOLERANCE = 0.01;

const label = (x: RenditionViewersRow): string =>
  x.width === null ? 'main size (no width)' : `width=${x.width}`;

/** The rendition rows' part of the targets table: `cpu`, `encodes`, `frames` or `latency`. */
export function renditionTargetText(
  r: RenditionRows,
  which: 'cpu' | 'encodes' | 'frames' | 'latency' | 'grid',
): string {
  const v = r.viewers;
  const rend = v.rows.filter((x) => x.width !== null);
  const main = v.rows.find((x) => x.width === null);
  switch (which) {
    case 'cpu': {
      const c = r.cpu.cases;
      return (
        `measured: ${f2(c.from800.cpuMsPerFrame)} ms from 800x450, ${f2(c.from1080.cpuMsPerFrame)} ms from 1080p, ` +
        `against ${f2(c.full1080.cpuMsPerFrame)} ms for a full decode of the 1080p JPEG: ${f2(r.ratio1080)}x`
      );
    }
    case 'encodes': {
      const goal = RENDITION_TARGETS.encodesPerFrame;
      const ok = Math.abs(v.encodesPerSourceFrame - goal) <= goal * ENCODES_TOLERANCE;
      return (
        `${met(ok)}: ${f2(v.encodesPerSourceFrame)} encodes per source frame (${rend
          .map((x) => `${x.width}px ${x.encoded ?? '-'}`)
          .join(', ')} of ${v.sourceFrames} frames; ` +
        `${rend.reduce((s, x) => s + (x.skipped ?? 0), 0)} frames skipped by a busy encoder)`
      );
    }
    case 'frames': {
      const worst = Math.min(...rend.map((x) => x.minFraction));
      const failed = rend.reduce((s, x) => s + x.failed, 0);
      return (
        `${met(worst >= RENDITION_TARGETS.minFraction && failed === 0)}: worst viewer ${pct(worst)} ` +
        `(${rend.map((x) => `${x.width}px ${pct(x.minFraction)}`).join(', ')})${failed ? `, ${failed} failed` : ''}`
      );
    }
    case 'grid': {
      const g = r.grid;
      if (!g) return 'not measured';
      return (
        `${met(g.perFrame <= RENDITION_TARGETS.gridPerFrame && g.thumbs.framesPerSecond >= g.full.framesPerSecond * 0.8)}: ` +
        `${f2(g.perFrame)}x per frame (${f0(g.thumbs.bytesPerSecond / 1024)} kB/s at ${f1(g.thumbs.framesPerSecond)} ` +
        `frames/s against ${f0(g.full.bytesPerSecond / 1024)} kB/s at ${f1(g.full.framesPerSecond)})`
      );
    }
    case 'latency': {
      const m = main?.latencyMs;
      if (!m || rend.some((x) => !x.latencyMs)) return 'not measured';
      const over = rend.map((x) => (x.latencyMs?.p99 ?? NaN) - m.p99);
      return `${met(Math.max(...over) <= RENDITION_TARGETS.p99OverMainMs)}: p99 ${rend
        .map((x) => `${x.width}px ${f1(x.latencyMs?.p99 ?? NaN)}`)
        .join(', ')} ms against ${f1(m.p99)} ms at main size (+${over.map(f1).join(', +')} ms)`;
    }
  }
}

/** The renditions section as Markdown: CPU per frame, then the viewers' run. */
export function renditionTables(r: RenditionRows): string {
  const out: string[] = [];
  const c = r.cpu;
  out.push(
    `\n**Renditions: CPU per ${c.width}-px frame** (q${c.quality}; ${c.cases.from1080.frames} encodes per case from ` +
      `${c.distinctFrames} distinct frames of ffmpeg's testsrc2, as JPEG q80 4:2:0; the cases take turns over ` +
      `${c.rounds} rounds in one process; sharp ${c.sharp} / libvips ${c.vips} as the server sets it: one thread, ` +
      'no cache; CPU from process.cpuUsage)\n',
  );
  const {
    ladderSeparate1080: sep,
    ladderShared1080: one,
    raw800,
    raw1080,
    ladderShared800,
    ladderRaw800,
  } = c.cases;
  const cases = [c.cases.from800, c.cases.from1080, c.cases.full1080, c.cases.noFastShrink1080];
  if (sep && one) cases.push(sep, one);
  for (const x of [raw800, raw1080, ladderShared800, ladderRaw800]) if (x) cases.push(x);
  out.push(
    table(
      ['route', 'input', 'output', 'CPU per frame (ms)', 'wall per frame (ms)'],
      cases.map((x) => [
        x.name,
        `${x.input.width}x${x.input.height}, ${kb(x.input.meanBytes)}`,
        `${x.output.width}x${x.output.height}, ${kb(x.output.meanBytes)}`,
        f2(x.cpuMsPerFrame),
        f2(x.wallMsPerFrame),
      ]),
    ),
  );
  out.push(
    `\nFrom the 1080p JPEG, scaleJpeg() (libjpeg-turbo's DCT scaling, 1/4 on decode) takes ${f2(r.ratio1080)}x ` +
      'the CPU of a full decode + resize + encode. `fastShrinkOnLoad: false` is no full decode: sharp still ' +
      'scales by 1/2 on decode when the shrink is 4 or more, so the full decode is pixels out of sharp and back.',
  );
  if (sep && one)
    out.push(
      `\nThree renditions of one frame (320, 480 and 640 px, output column: the 320-px one): one decode ` +
        `shared by the three (at 640 px, DCT-scaled by 1/2, then each resized and encoded) takes ` +
        `${f2(one.cpuMsPerFrame / sep.cpuMsPerFrame)}x the CPU of a decode each.`,
    );
  if (raw800 && raw1080 && ladderShared800 && ladderRaw800)
    out.push(
      `\nFrom a source ffmpeg decodes (a file, a camera, a URL, the test pattern), the server keeps each ` +
        "frame's raw I420 planes while renditions run and shrinks them (area averaging) then encodes " +
        `natively, no decode: ${f2(raw800.cpuMsPerFrame)} ms per 320-px frame from 800x450 ` +
        `(${f2(raw800.cpuMsPerFrame / c.cases.from800.cpuMsPerFrame)}x scaleJpeg() from its JPEG), ` +
        `${f2(raw1080.cpuMsPerFrame)} ms from 1080p (${f2(raw1080.cpuMsPerFrame / c.cases.full1080.cpuMsPerFrame)}x ` +
        `a full decode + resize + encode); the three renditions of an 800x450 frame ` +
        `${f2(ladderRaw800.cpuMsPerFrame)} ms against ${f2(ladderShared800.cpuMsPerFrame)} ms from one shared ` +
        `decode of its JPEG (${f2(ladderRaw800.cpuMsPerFrame / ladderShared800.cpuMsPerFrame)}x).`,
    );
  const v = r.viewers;
  out.push(
    `\n**Renditions: ${v.rows.filter((x) => x.width !== null).reduce((s, x) => s + x.viewers, 0)} MJPEG viewers over ` +
      `${v.rows.filter((x) => x.width !== null).length} renditions** (\`serve test\`, ${v.sourceFps} fps ${v.streamWidth}x450, ` +
      `in its own process; the viewers in another, each asking \`stream.mjpg?width=W\`, and ` +
      `${v.rows.find((x) => x.width === null)?.viewers ?? 0} at the stream's own size beside them (as many as a ` +
      "rendition's; runs before 2026-12-07 18:00 had 10); " +
      `${f1(v.seconds)} s window; ` +
      "a viewer's frames against every seq its rendition's viewers received; latency = the part's last byte " +
      'received minus its X-Timestamp, same host clock; encodes from /stats)\n',
  );
  out.push(
    table(
      [
        'viewers asked',
        'picture',
        'viewers',
        'frames received: worst / median',
        'encoded / skipped (of the source frames)',
        'bytes per frame',
        'latency p50 / p99 / max (ms)',
        "out after the stream's frame p50 / p99 (ms, server)",
      ],
      v.rows.map((x) => [
        label(x),
        x.pictureWidth === null ? '-' : `${x.pictureWidth}x${x.pictureHeight}`,
        `${x.viewers}${x.failed ? ` (${x.failed} failed)` : ''}`,
        `${pct(x.minFraction)} / ${pct(x.medianFraction)} of ${x.framesInWindow}`,
        x.encoded === null
          ? `(the stream's own: ${v.sourceFrames})`
          : `${x.encoded} / ${x.skipped} (of ${v.sourceFrames})`,
        kb(x.meanBytes),
        x.latencyMs ? `${f1(x.latencyMs.p50)} / ${f1(x.latencyMs.p99)} / ${f1(x.latencyMs.max)}` : 'n/a',
        x.width === null
          ? '-'
          : x.serverDelayMs
            ? `${f1(x.serverDelayMs.p50)} / ${f1(x.serverDelayMs.p99)}`
            : 'n/a',
      ]),
    ),
  );
  out.push(
    `\nServer ${f2(v.serverCores)} cores (its ffmpeg ${f2(v.ffmpegCores)}), RSS ${f0(v.rssMB)} MB; viewers' process ` +
      `${f2(v.loadgenCores)} cores. Encodes per source frame: ${f2(v.encodesPerSourceFrame)} ` +
      `(target ${RENDITION_TARGETS.encodesPerFrame}, ${renditionTargetText(r, 'encodes').split(':')[0]}); every rendition viewer ` +
      `>= ${pct(RENDITION_TARGETS.minFraction)} of its rendition's frames: ${renditionTargetText(r, 'frames').split(':')[0]}; ` +
      `rendition p99 within ${RENDITION_TARGETS.p99OverMainMs} ms of the main size's: ${renditionTargetText(r, 'latency').split(':')[0]}.`,
  );
  const story = latencyStory(r);
  if (story) out.push(`\n${story}`);
  const g = r.grid;
  if (g)
    out.push(
      `\n**The grid page** (six 800-px streams of the test pattern at 5 fps, a 1280x720 page at DPR 1 in ` +
        `headless Chromium, bytes of every WebSocket message it received over ${f0(g.windowSeconds)} s): each tile at its ` +
        `displayed width (${[...new Set(g.thumbs.widths)].join(', ')} px, quality 70) ${f0(g.thumbs.bytesPerSecond / 1024)} kB/s ` +
        `at ${f1(g.thumbs.framesPerSecond)} frames/s (the six tiles' together), against every tile at the stream's own size ` +
        `(${[...new Set(g.full.widths)].join(', ')} px) ${f0(g.full.bytesPerSecond / 1024)} kB/s at ${f1(g.full.framesPerSecond)} ` +
        `frames/s: ${f2(g.ratio)}x the bytes per second, ${f2(g.perFrame)}x per frame (target ${RENDITION_TARGETS.gridPerFrame}, ` +
        `${renditionTargetText(r, 'grid').split(':')[0]}).`,
    );
  return out.join('\n');
}

/**
 * Where a rendition viewer's extra latency comes from, from the run's numbers: the server's own
 * measure of each rendition's delay behind the stream's frame (runs from 2026-12-07 23:15 UTC), the viewers'
 * gap over the main size's, and the same with one viewer per group; null without the alone run.
 */
function latencyStory(r: RenditionRows): string | null {
  const v = r.viewers;
  const alone = r.alone;
  const main = v.rows.find((x) => x.width === null)?.latencyMs;
  const mainAlone = alone?.rows.find((x) => x.width === null)?.latencyMs;
  if (!alone || !mainAlone || !main) return null;
  const rend = v.rows.filter((x) => x.width !== null);
  const rendAlone = alone.rows.filter((x) => x.width !== null);
  const pair = (p?: { p50: number; p99: number } | null): string =>
    p ? `${f1(p.p50)} / ${f1(p.p99)}` : 'n/a';
  const viewers = v.rows.reduce((sum, x) => sum + x.viewers, 0);
  const perPart = (v.loadgenCores * 1e6) / Math.max(1, v.sourceFps * viewers);
  const start =
    "Where a rendition viewer's extra latency comes from. Each rendition's encode starts as the raw frame " +
    "arrives, beside the main size's, and the stream offers each frame to its renditions before its viewers. ";
  const aloneViewers =
    `With one viewer per group (same server, ${f1(alone.seconds)} s) the viewers' latency p50 / p99 was ` +
    `${rendAlone.map((x) => `${x.width}px ${pair(x.latencyMs)}`).join(', ')} ms against ${pair(mainAlone)} ms at the ` +
    "stream's own size";
  if (!rend.some((x) => x.serverDelayMs))
    return (
      start +
      "The main size's frame is written to its viewers first, then each rendition's to its own, and the viewers' " +
      `one process reads ${viewers} sockets in about that order (${f2(v.loadgenCores)} cores, about ${f0(perPart)} µs per part). ` +
      `${aloneViewers}.`
    );
  return (
    start +
    "The server measures how long after the stream's own frame each rendition's is out, before any write (/stats " +
    "`delayMs`, each rendition's last 128 frames at the window's end): p50 / p99 " +
    `${rend.map((x) => `${x.width}px ${pair(x.serverDelayMs)}`).join(', ')} ms with 100 viewers per group, while ` +
    `their viewers' p50 latency was ${rend.map((x) => `+${f1((x.latencyMs?.p50 ?? NaN) - main.p50)}`).join(', ')} ms ` +
    `over the main size's. ${aloneViewers}; the server's delay then: ${rendAlone
      .map((x) => `${x.width}px ${pair(x.serverDelayMs)}`)
      .join(', ')} ms. ` +
    'Alone, the delay is the encodes queueing: four a frame, the pool running as many at once as the machine ' +
    "has cores. With 100 viewers per group they also wait for a core: the encodes, the server's writes (the " +
    "main size's first, then each rendition's) and the viewers' one process reading " +
    `${viewers} sockets (${f2(v.loadgenCores)} cores, about ${f0(perPart)} µs per part) all come at the same moments of each frame.`
  );
}
