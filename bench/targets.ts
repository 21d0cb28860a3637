/**
 * The README's targets table, every figure computed from one BenchResults (bench/results/latest.json):
 * each target says met, not met, or not measured, and why, so no figure in it can drift from the
 * results it claims to come from.
 */
import { TEST_FPS, type FanoutRow } from './fanout.js';
import { table } from './lib/markdown.js';
import { RECORD_TARGETS, recordTargetText } from './record-report.js';
import { RENDITION_TARGETS } from './renditions.js';
import { renditionTargetText } from './renditions-report.js';
import type { BenchResults } from './report.js';

const f0 = (x: number): string => x.toFixed(0);
const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const times = (x: number): string => `${f2(x)}x`;
/** "1.53x", "1.53-1.65x", or "-0.05 to +0.05 dB" when it spans zero. */
const range = (xs: number[], unit = 'x'): string => {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  if (lo.toFixed(2) === hi.toFixed(2)) return `${f2(lo)}${unit}`;
  return lo < 0 ? `${f2(lo)} to ${hi > 0 ? '+' : ''}${f2(hi)}${unit}` : `${f2(lo)}-${f2(hi)}${unit}`;
};

const NOT_MEASURED = 'not measured (no such rows in latest.json)';

/** "met: ..." or "not met: ...". */
const verdict = (ok: boolean, text: string): string => `${ok ? 'met' : 'not met'}: ${text}`;

/**
 * The published-rate part of a frames target: the server's rate against the source's, or that it was
 * not measured (older rows counted frames against the seqs viewers saw, which a slower server passes).
 */
function publishedClause(x: FanoutRow): { ok: boolean; text: string } {
  if (x.publishedFps === undefined || x.publishedFps === null)
    return { ok: true, text: 'published fps not measured (frames counted against the seqs viewers saw)' };
  const source = x.sourceFps ?? TEST_FPS;
  return { ok: x.publishedFps >= 0.99 * source, text: `published ${f1(x.publishedFps)} of ${source} fps` };
}

type Target = [string, (r: BenchResults) => string];

const TARGETS: Target[] = [
  [
    "throughput >= 2x the seed's pair, 1080p",
    (r) => {
      const rows = r.throughput.filter((t) => t.height >= 1080 && t.vsSeed !== null);
      if (!rows.length) return NOT_MEASURED;
      const v = rows.map((t) => t.vsSeed as number);
      const enc = rows.map((t) => t.ffmpegEncoder?.vsSeed).filter((x): x is number => typeof x === 'number');
      return verdict(
        Math.min(...v) >= 2,
        `${range(v)}${enc.length ? ` (${range(enc)} with \`--encoder ffmpeg\`)` : ''}`,
      );
    },
  ],
  [
    "throughput >= 1.5x the seed's pair, 360p",
    (r) => {
      const rows = r.throughput.filter((t) => t.height <= 480 && t.vsSeed !== null);
      if (!rows.length) return NOT_MEASURED;
      return verdict(
        Math.min(...rows.map((t) => t.vsSeed as number)) >= 1.5,
        rows.map((t) => `${t.source} ${times(t.vsSeed as number)}`).join(', '),
      );
    },
  ],
  [
    "throughput >= 0.8x FFmpeg's CLI",
    (r) => {
      if (!r.throughput.length) return NOT_MEASURED;
      const v = r.throughput.map((t) => t.vsFfmpeg);
      const hd = r.throughput.find((t) => t.height >= 1080);
      return verdict(
        Math.min(...v) >= 0.8,
        `${range(v)}${hd ? ` (${hd.source} ${times(hd.vsFfmpeg)})` : ''}`,
      );
    },
  ],
  [
    `1000 viewers of the ${TEST_FPS} fps pattern: >= 99% of frames, the server publishing >= 99% of ${TEST_FPS} fps, CPU < 1 core, RSS < 300 MB`,
    (r) => {
      const x = r.fanout?.curve.find((c) => c.viewers === 1000);
      if (!x) return NOT_MEASURED;
      const p = publishedClause(x);
      const top = r.fanout?.curve[r.fanout.curve.length - 1];
      const more =
        top && top.viewers > 1000
          ? ` (${top.viewers} viewers: ${pct(top.minFraction)}, ${f2(top.serverCores)} cores, ${f0(top.rssMB)} MB)`
          : '';
      return verdict(
        x.minFraction >= 0.99 && p.ok && x.serverCores < 1 && x.rssMB < 300,
        `worst viewer ${pct(x.minFraction)} of frames, ${p.text}, ${f2(x.serverCores)} cores, ${f0(x.rssMB)} MB${more}`,
      );
    },
  ],
  [
    'a burst of 1000 seed clients on a running stream: all served',
    (r) => {
      const b = r.fanout?.burst;
      if (!b) return NOT_MEASURED;
      return verdict(
        b.connected === b.viewers && b.failed === 0,
        `${b.connected} of ${b.viewers}, the last first frame ${f0(b.ttffMs?.max ?? NaN)} ms after it connected`,
      );
    },
  ],
  [
    "seed client's first frame on an idle server <= 200 ms",
    (r) => {
      const x = r.firstFrame?.find((f) => f.label.startsWith('framecast, idle, main port'));
      if (!x) return NOT_MEASURED;
      return verdict(x.ttffMs.p50 <= 200, `${f0(x.ttffMs.p50)} ms p50, ${f0(x.ttffMs.max)} ms max`);
    },
  ],
  [
    "first frame with `--preload` or on a `--legacy-port` within 2x the seed's servidor.py",
    (r) => {
      const ff = r.firstFrame ?? [];
      const seed = ff.find((f) => f.label.startsWith('seed'));
      const rows: [string, string][] = [
        ['both together', 'framecast --preload, --legacy-port'],
        ['`--preload` alone (main port)', 'framecast --preload, main port'],
        ['`--legacy-port` alone (idle)', 'framecast, idle, --legacy-port'],
      ];
      const found = rows
        .map(([name, label]) => [name, ff.find((f) => f.label === label)] as const)
        .filter((x): x is readonly [string, NonNullable<(typeof ff)[number]>] => x[1] !== undefined);
      if (!seed || !found.length) return NOT_MEASURED;
      const parts = found.map(([name, x]) => {
        const k = x.ttffMs.p50 / seed.ttffMs.p50;
        return `${name} ${k <= 2 ? 'met' : 'not met'}: ${f1(x.ttffMs.p50)} ms (${times(k)})`;
      });
      return `${parts.join('; ')}; the seed's servidor.py: ${f1(seed.ttffMs.p50)} ms p50`;
    },
  ],
  [
    "native viewer's latency p99 <= 5 ms among 100 seed + 10 slow seed viewers",
    (r) => {
      const m = r.fanout?.mixed;
      if (!m?.latencyMs) return NOT_MEASURED;
      return verdict(m.latencyMs.p99 <= 5, `p99 ${f1(m.latencyMs.p99)} ms (p50 ${f1(m.latencyMs.p50)} ms)`);
    },
  ],
  [
    '6 streams of 640x360 footage, 10 viewers each: every viewer >= 99% of its frames; CPU per stream vs alone',
    (r) => {
      const s = r.streams;
      if (!s) return NOT_MEASURED;
      const t = s.together;
      const ps = t.publishedFps;
      const published =
        ps && t.sourceFps !== undefined && ps.every((p) => p !== null)
          ? `streams published ${range(ps as number[], '')} of the clip's ${f2(t.sourceFps)} fps`
          : 'published fps not measured';
      const fair =
        !ps || t.sourceFps === undefined || ps.every((p) => p !== null && p >= 0.99 * t.sourceFps!);
      return verdict(
        t.minFraction >= 0.99 && fair,
        `worst viewer ${pct(t.minFraction)}, ${published}; ${f2(t.coresPerStream)} cores per stream side by side against ${f2(s.alone.coresPerStream)} alone`,
      );
    },
  ],
  [
    "through one edge, a viewer's latency p99 within 5 ms of the same viewer on the origin; 100 viewers per edge each >= 99% of the frames",
    (r) => {
      const rows = r.bus?.rows ?? [];
      const one = rows.find((x) => x.edges === 1 && x.viewersPerEdge === 100);
      if (!one) return NOT_MEASURED;
      const diff = (x: (typeof rows)[number]): number =>
        (x.viaEdges.latencyMs?.p99 ?? NaN) - (x.direct.latencyMs?.p99 ?? NaN);
      const per100 = rows.filter((x) => x.viewersPerEdge === 100);
      const worst = Math.min(...per100.map((x) => x.viaEdges.minFraction));
      const others = rows
        .filter((x) => x !== one)
        .map((x) => `${x.edges} x ${x.viewersPerEdge} ${diff(x) >= 0 ? '+' : ''}${f1(diff(x))}`)
        .join(', ');
      return verdict(
        diff(one) <= 5 && worst >= 0.99,
        `p99 ${diff(one) >= 0 ? '+' : ''}${f1(diff(one))} ms at 1 x 100; worst viewer at 100 per edge ${pct(worst)} of the origin's frames` +
          (others ? `; other rows (ms): ${others}` : ''),
      );
    },
  ],
  [
    'push ingest: a publisher at 30 fps to 100 viewers, passthrough cheaper than re-encoding',
    (r) => {
      const i = r.ingest;
      if (!i) return NOT_MEASURED;
      const p = i.passthrough;
      const e = i.reencoded;
      const k = p.serverCores / Math.max(1e-6, e.serverCores + e.ffmpegCores);
      const pub = publishedClause(p);
      const pc = i.publisher;
      const own = pc
        ? `the publisher's own count: ${pc.accepted} accepted, ${pc.dropped} dropped of ${pc.frames}`
        : "the publisher's own counts not measured";
      return verdict(
        p.minFraction >= 0.99 && pub.ok && k < 1,
        `worst viewer ${pct(p.minFraction)} of frames, ${pub.text}; ${own}; server ${times(k)} the CPU of the same stream encoded by the server; ` +
          `publisher-to-viewer latency p50 / p99 ${f1(p.latencyMs?.p50 ?? NaN)} / ${f1(p.latencyMs?.p99 ?? NaN)} ms`,
      );
    },
  ],
  [
    `recording adds <= ${RECORD_TARGETS.addedCores} cores to a 30 fps 800x450 stream`,
    (r) => (r.record ? recordTargetText(r.record, 'cpu') : NOT_MEASURED),
  ],
  [
    '20 streams at 30 fps recorded at once: every frame written (0 dropped)',
    (r) => (r.record ? recordTargetText(r.record, 'many') : NOT_MEASURED),
  ],
  [
    `10,000 segments on disk: first frame of a playback and of snapshot.jpg?at= p99 <= ${RECORD_TARGETS.firstFrameP99Ms} ms`,
    (r) => (r.record ? recordTargetText(r.record, 'lookup') : NOT_MEASURED),
  ],
  [
    "a 320-px rendition's CPU per frame, DCT-scaled from 1080p against a full decode, measured",
    (r) => (r.renditions ? renditionTargetText(r.renditions, 'cpu') : NOT_MEASURED),
  ],
  [
    `300 MJPEG viewers over 3 renditions of one 30 fps 800x450 stream: ${RENDITION_TARGETS.encodesPerFrame} encodes per source frame`,
    (r) => (r.renditions ? renditionTargetText(r.renditions, 'encodes') : NOT_MEASURED),
  ],
  [
    `the same: every rendition viewer >= ${RENDITION_TARGETS.minFraction * 100}% of its rendition's frames`,
    (r) => (r.renditions ? renditionTargetText(r.renditions, 'frames') : NOT_MEASURED),
  ],
  [
    `the same: a rendition viewer's latency p99 within ${RENDITION_TARGETS.p99OverMainMs} ms of a main-size viewer's`,
    (r) => (r.renditions ? renditionTargetText(r.renditions, 'latency') : NOT_MEASURED),
  ],
  [
    `the grid page's bytes per frame with thumbnails, against full size: <= ${RENDITION_TARGETS.gridPerFrame}x`,
    (r) => (r.renditions?.grid ? renditionTargetText(r.renditions, 'grid') : NOT_MEASURED),
  ],
  [
    'latency p99 <= 5 ms at 100 viewers',
    (r) => {
      const x = r.fanout?.curve.find((c) => c.viewers === 100);
      if (!x?.latencyMs) return NOT_MEASURED;
      return verdict(x.latencyMs.p99 <= 5, `p50 ${f1(x.latencyMs.p50)} ms, p99 ${f1(x.latencyMs.p99)} ms`);
    },
  ],
  [
    'slow viewers never delay normal ones (normal viewers >= 99% of frames, p99 within 1 ms of 100 alone)',
    (r) => {
      const alone = r.fanout?.curve.find((c) => c.viewers === 100);
      const s = r.fanout?.slow;
      if (!alone?.latencyMs || !s?.latencyMs) return NOT_MEASURED;
      return verdict(
        s.minFraction >= 0.99 && s.latencyMs.p99 <= alone.latencyMs.p99 + 1,
        `with 10 slow viewers the 100 normal ones got ${pct(s.minFraction)} of frames, p99 ${f1(s.latencyMs.p99)} ms ` +
          `(alone ${pct(alone.minFraction)}, ${f1(alone.latencyMs.p99)} ms)`,
      );
    },
  ],
  [
    "native bytes per frame <= 0.8x the seed's",
    (r) => {
      const fo = r.fanout;
      const native = fo?.curve.find((c) => c.viewers === 1000) ?? fo?.curve[0];
      if (!fo?.legacy || !native) return NOT_MEASURED;
      const k = native.wireBytesPerFrame / fo.legacy.wireBytesPerFrame;
      return verdict(k <= 0.8, times(k));
    },
  ],
  [
    "CPU per frame <= FFmpeg's CLI (decode, scale, mjpeg), `--no-pace`",
    (r) => {
      const rows = r.cpu?.breakdown ?? [];
      if (!rows.length) return NOT_MEASURED;
      return verdict(
        rows.every((x) => x.cpuVsCli <= 1),
        rows
          .map(
            (x) =>
              `${x.source} ${times(x.cpuVsCli)} (${f2(x.framecast.totalMs)} vs ${f2(x.ffmpegCli.cpuMs)} ms)`,
          )
          .join(', '),
      );
    },
  ],
  [
    "unpaced fps >= 1.0x FFmpeg's CLI",
    (r) => {
      const rows = r.cpu?.breakdown ?? [];
      if (!rows.length) return NOT_MEASURED;
      return verdict(
        rows.every((x) => x.fpsVsCli >= 1),
        rows
          .map(
            (x) => `${x.source} ${times(x.fpsVsCli)} (${f0(x.framecast.fps)} vs ${f0(x.ffmpegCli.fps)} fps)`,
          )
          .join(', '),
      );
    },
  ],
  [
    'unpaced fps >= 1.5x the seed pair at 360p, >= 2x at 1080p (same run)',
    (r) => {
      const rows = (r.cpu?.breakdown ?? []).filter((x) => x.fpsVsSeed !== null);
      if (!rows.length) return NOT_MEASURED;
      const goal = (x: (typeof rows)[number]): number => (x.height >= 1080 ? 2 : 1.5);
      return verdict(
        rows.every((x) => (x.fpsVsSeed as number) >= goal(x)),
        rows.map((x) => `${x.source} ${times(x.fpsVsSeed as number)}`).join(', '),
      );
    },
  ],
  [
    "a paced 30 fps 720p stream's cost, measured",
    (r) => {
      const rows = r.cpu?.cameras ?? [];
      if (!rows.length) return NOT_MEASURED;
      return rows
        .map((x) => `${x.source}: ${x.totalCores.toFixed(3)} cores, ${f1(x.camerasPerCore)} cameras per core`)
        .join('; ');
    },
  ],
  [
    "JPEG quality at least OpenCV's (within 0.05 dB)",
    (r) => {
      const n = r.nativeJpeg ?? [];
      const j = r.jpeg ?? [];
      if (!n.length && !j.length) return NOT_MEASURED;
      const parts: string[] = [];
      const diffs: number[] = [];
      if (n.length) {
        const d = n.map((x) => x.optimised.psnr - x.opencv.psnr);
        diffs.push(...d);
        parts.push(
          `4:2:0 frames into the native encoder ${range(d, ' dB')} against OpenCV, ` +
            `optimised tables ${range(
              n.map((x) => x.optimised.bytes / x.opencv.bytes),
              'x',
            )} its bytes, standard tables ${range(
              n.map((x) => x.standard.bytes / x.opencv.bytes),
              'x',
            )}`,
        );
      }
      if (j.length) {
        const d = j.map((x) => x.ours.psnr - x.opencv.psnr);
        diffs.push(...d);
        parts.push(
          `RGB route ${range(d, ' dB')}, ${range(
            j.map((x) => x.ours.bytes / x.opencv.bytes),
            'x',
          )} the bytes`,
        );
      }
      // Judged on the printed (rounded) differences: -0.0500001 dB is the -0.05 the table shows.
      return verdict(Math.min(...diffs.map((d) => Math.round(d * 100) / 100)) >= -0.05, parts.join('; '));
    },
  ],
];

/** The targets as a Markdown table, every result from `r`. */
export function targetsTable(r: BenchResults): string {
  return table(
    ['target', 'result (from bench/results/latest.json)'],
    TARGETS.map(([target, result]) => [target, result(r)]),
  );
}
