import type { AccessRows } from './access.js';
import { accessTables } from './access-report.js';
import type { BusRows } from './bus.js';
import { table } from './lib/markdown.js';
import { cpuTables } from './cpu-report.js';
import type { CpuSection } from './cpu-section.js';
import { TEST_FPS, type FanoutRow } from './fanout.js';
import type { FirstFrameRow } from './first-frame.js';
import type { MultiStreamRow } from './multi-stream.js';
import type { IngestRows } from './ingest.js';
import type { MetaRows } from './meta.js';
import type { RecordRows } from './record.js';
import { recordTables } from './record-report.js';
import type { RenditionRows } from './renditions.js';
import { renditionTables } from './renditions-report.js';
import type { JpegRow, NativeJpegRow } from './jpeg.js';
import type { ThroughputRow } from './throughput.js';

/** Everything one `npm run bench` measured (written to bench/results/latest.json). */
export interface BenchResults {
  date: string;
  machine: Record<string, string>;
  seconds: number;
  jpeg: JpegRow[] | null;
  /** The default route (4:2:0 into the native encoder); absent in older results. */
  nativeJpeg?: NativeJpegRow[] | null;
  throughput: ThroughputRow[];
  fanout: {
    curve: FanoutRow[];
    single: FanoutRow;
    /** Slow viewers acknowledging frames (ACK flow control), and the same run without. */
    slow: FanoutRow;
    slowNoAck?: FanoutRow;
    /** When `--only slow` last refreshed the two slow rows (the rest is from `date`). */
    slowDate?: string;
    legacy: FanoutRow | null;
    /** 1000 seed clients at once on a running stream; absent in older results. */
    burst?: FanoutRow;
    /** One native viewer among 100 seed + 10 slow seed viewers; absent in older results. */
    mixed?: FanoutRow;
  } | null;
  /** Seed client's time to first frame, framecast against servidor.py; absent in older results. */
  firstFrame?: FirstFrameRow[] | null;
  /** Push ingest: passthrough against the server encoding the same picture; absent in older results. */
  ingest?: IngestRows | null;
  /** Metadata and annotations: 1 KiB per frame with and without, the annotation round trip; absent in older results. */
  meta?: MetaRows | null;
  /** Recording: the CPU it adds, 20 streams at once, 10,000 segments; absent in older results. */
  record?: RecordRows | null;
  /** Renditions: CPU per 320-px frame, 300 viewers over three renditions; absent in older results. */
  renditions?: RenditionRows | null;
  /** Access: admission cost per connection with each way of logging in; absent in older results. */
  access?: AccessRows | null;
  /** One stream alone and six side by side; absent in older results. */
  streams?: { alone: MultiStreamRow; together: MultiStreamRow } | null;
  /** Origin, nats-server and 1-4 edges against the same viewers on the origin; absent in older results. */
  bus?: BusRows | null;
  /** CPU per frame stage by stage, and cameras per core; absent in older results. */
  cpu?: CpuSection | null;
  /**
   * Sections re-run alone since `date` (`npm run bench -- --only NAME`): when, and the load average
   * at its start and end. Absent in older results (their re-runs were not recorded here).
   */
  sections?: Record<string, SectionRun>;
}

/** When one section was re-run alone, and how loaded the machine was. */
export interface SectionRun {
  date: string;
  loadStart: string;
  loadEnd: string;
}

/** What a row says about the frames the server published (every field absent in older results). */
interface PublishedFields {
  publishedFps?: number | null;
  sourceFps?: number;
  bestViewerFps?: number;
}

/** A frame-rate figure with its reference. */
const NOT_MEASURED = 'not measured';

/**
 * Frames per second the server published in the window against the source's rate; for seed framing
 * alone (no sequence numbers) the best-served viewer's rate; "not measured" for older results.
 */
export function publishedCell(x: PublishedFields): string {
  if (x.publishedFps === undefined || x.sourceFps === undefined) return NOT_MEASURED;
  if (x.publishedFps === null)
    return x.bestViewerFps === undefined
      ? NOT_MEASURED
      : `${NOT_MEASURED} (best viewer got ${f1(x.bestViewerFps)} of ${fps(x.sourceFps)})`;
  return `${f1(x.publishedFps)} of ${fps(x.sourceFps)}`;
}

/** A source's rate: 30, or 29.83 for a clip at 179/6. */
const fps = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(2));

/** The header of the published-fps columns. */
const PUBLISHED = 'published fps (of the source)';

/** A line saying which `--only` run the next rows come from, when latest.json records it. */
function sectionLine(r: BenchResults, name: string): string[] {
  const s = r.sections?.[name];
  if (!s) return [];
  return [
    `\nThe next rows come from \`npm run bench -- --only ${name}\` (run ${s.date.slice(0, 16).replace('T', ' ')} UTC, ` +
      `load average ${s.loadStart} at its start, ${s.loadEnd} at its end).`,
  ];
}

const f0 = (x: number): string => x.toFixed(0);
const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const ms = (p: { p50: number; p99: number } | null | undefined): string =>
  p ? `${f1(p.p50)} / ${f1(p.p99)}` : 'n/a';

/** The results as Markdown tables (printed, and pasted into the README). */
export function markdown(r: BenchResults): string {
  const out: string[] = [];
  out.push(
    `Machine: ${Object.entries(r.machine)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}. Run ${r.date}, ${f0(r.seconds)} s.`,
  );
  if (r.jpeg) {
    out.push('\n**JPEG q80, 800x450** (PSNR against the uncompressed frame, mean bytes per frame)\n');
    out.push(
      table(
        [
          'scene',
          'framecast (optimised Huffman)',
          'framecast (standard tables)',
          'OpenCV imencode',
          'FFmpeg mjpeg (size-matched)',
        ],
        r.jpeg.map((j) => [
          j.clip,
          `${f2(j.ours.psnr)} dB, ${f0(j.ours.bytes)} B`,
          `${f2(j.oursStandard.psnr)} dB, ${f0(j.oursStandard.bytes)} B`,
          `${f2(j.opencv.psnr)} dB, ${f0(j.opencv.bytes)} B`,
          `${f2(j.ffmpeg.psnr)} dB, ${f0(j.ffmpeg.bytes)} B (q:v ${j.ffmpeg.qscale})`,
        ]),
      ),
    );
  }
  if (r.nativeJpeg) {
    out.push(
      '\n**JPEG q80, 800x450, the default route**: 4:2:0 frames (as every camera and mp4 decodes) into ' +
        "framecast's native encoder; OpenCV encodes their exact RGB, and PSNR is against that RGB\n",
    );
    out.push(
      table(
        [
          'scene',
          'framecast (optimised Huffman)',
          'framecast (standard tables, --no-pace)',
          'OpenCV imencode',
        ],
        r.nativeJpeg.map((j) => [
          j.scene,
          `${f2(j.optimised.psnr)} dB, ${f0(j.optimised.bytes)} B`,
          `${f2(j.standard.psnr)} dB, ${f0(j.standard.bytes)} B`,
          `${f2(j.opencv.psnr)} dB, ${f0(j.opencv.bytes)} B`,
        ]),
      ),
    );
  }
  out.push('\n**Throughput** (`--no-pace`, one client, 800 px wide JPEG q80; best of the runs)\n');
  out.push(
    table(
      [
        'source',
        'framecast fps',
        'seed pair fps',
        'FFmpeg CLI fps',
        'vs seed',
        'vs FFmpeg',
        'CPU ms/frame: framecast / seed / FFmpeg',
        '--encoder ffmpeg fps',
        'vs seed',
        'vs FFmpeg',
        'CPU ms/frame',
        'without native encoder (sharp, RGB) fps',
        'vs seed',
        'CPU ms/frame',
      ],
      r.throughput.map((t) => [
        `${t.source} (${t.frames} frames)`,
        f0(t.framecast.fps),
        t.seed ? f0(t.seed.fps) : 'n/a',
        f0(t.ffmpegCli.fps),
        t.vsSeed === null ? 'n/a' : `${f2(t.vsSeed)}x`,
        `${f2(t.vsFfmpeg)}x`,
        [t.framecast, t.seed, t.ffmpegCli]
          .map((x) => (x?.serverCpuMsPerFrame == null ? '-' : f1(x.serverCpuMsPerFrame)))
          .join(' / '),
        ...(t.ffmpegEncoder
          ? [
              f0(t.ffmpegEncoder.run.fps),
              t.ffmpegEncoder.vsSeed === null ? 'n/a' : `${f2(t.ffmpegEncoder.vsSeed)}x`,
              `${f2(t.ffmpegEncoder.vsFfmpeg)}x`,
              t.ffmpegEncoder.run.serverCpuMsPerFrame == null
                ? '-'
                : f1(t.ffmpegEncoder.run.serverCpuMsPerFrame),
            ]
          : ['-', '-', '-', '-']),
        ...(t.sharpRgb
          ? [
              f0(t.sharpRgb.run.fps),
              t.sharpRgb.vsSeed === null ? 'n/a' : `${f2(t.sharpRgb.vsSeed)}x`,
              t.sharpRgb.run.serverCpuMsPerFrame == null ? '-' : f1(t.sharpRgb.run.serverCpuMsPerFrame),
            ]
          : ['-', '-', '-']),
      ]),
    ),
  );
  const fo = r.fanout;
  if (fo) {
    out.push(
      '\n**Fan-out** (30 fps 800x450 test stream, native viewers in a separate load-generator process)\n',
    );
    const rows = [fo.single, ...fo.curve, ...(fo.legacy ? [fo.legacy] : [])];
    out.push(
      table(
        [
          'viewers',
          'frames received min / median',
          PUBLISHED,
          'server CPU (cores)',
          'its ffmpeg',
          'RSS MB',
          'latency p50 / p99 ms',
          'bytes/frame',
          'load generator (cores)',
        ],
        rows.map((x) => [
          `${x.viewers}${x.protocol === 'legacy' ? ' (seed framing*)' : ''}`,
          `${pct(x.minFraction)} / ${pct(x.medianFraction)}${x.failed ? ` (${x.failed} failed)` : ''}`,
          publishedCell(x),
          f2(x.serverCores),
          f2(x.ffmpegCores),
          f0(x.rssMB),
          ms(x.latencyMs),
          f0(x.wireBytesPerFrame),
          f2(x.loadgenCores),
        ]),
      ),
    );
    if (fo.legacy) {
      out.push('\n\\* ' + SEED_CAVEAT);
    }
    const first = fo.curve[0];
    const last = fo.curve[fo.curve.length - 1];
    if (first && last && last.viewers > first.viewers) {
      const perViewer = ((last.rssMB - first.rssMB) * 1024) / (last.viewers - first.viewers);
      out.push(
        `\nMemory per viewer: ${f1(perViewer)} kB (RSS slope from ${first.viewers} to ${last.viewers} viewers).`,
      );
    }
    const native = fo.curve.find((x) => x.viewers === 1000) ?? first;
    if (fo.legacy && native) {
      const jpeg = native.wireBytesPerFrame - 40;
      out.push(
        `Bytes per frame: native ${f0(native.wireBytesPerFrame)}, seed framing ${f0(fo.legacy.wireBytesPerFrame)} ` +
          `(${f2(native.wireBytesPerFrame / fo.legacy.wireBytesPerFrame)}x).`,
        `Memory per frame: the JPEG and its wire forms, built once and shared by every viewer: ` +
          `${f0((2 * jpeg + 40) / 1024)} kB with native viewers only, ${f0((2 * jpeg + 40 + fo.legacy.wireBytesPerFrame) / 1024)} kB ` +
          `when seed clients watch too; only the newest frame (plus one pending frame per slow viewer) is held.`,
      );
    }
    const hundred = fo.curve.find((x) => x.viewers === 100);
    const s = fo.slow;
    out.push(...sectionLine(r, 'slow'));
    out.push(
      '\n**Slow viewers** (100 normal + 10 reading at a quarter of the rate; the slow ones acknowledge ' +
        `each frame as they read it, "no ACK" rows do not)${fo.slowDate ? `, run ${fo.slowDate}` : ''}\n`,
    );
    const slowRow = (label: string, x: FanoutRow): string[] => [
      label,
      `${pct(x.minFraction)} / ${pct(x.medianFraction)}`,
      publishedCell(x),
      ms(x.latencyMs),
      f1(x.slowFps),
      ms(x.slowLatencyMs),
      f0(x.rssMB),
    ];
    out.push(
      table(
        [
          '',
          'normal min / median frames',
          PUBLISHED,
          'normal latency p50 / p99 ms',
          'slow viewers fps',
          'slow latency p50 / p99 ms',
          'RSS MB',
        ],
        [
          ...(hundred
            ? [
                [
                  '100 alone',
                  `${pct(hundred.minFraction)} / ${pct(hundred.medianFraction)}`,
                  publishedCell(hundred),
                  ms(hundred.latencyMs),
                  '-',
                  '-',
                  f0(hundred.rssMB),
                ],
              ]
            : []),
          slowRow('100 + 10 slow', s),
          ...(fo.slowNoAck ? [slowRow('100 + 10 slow, no ACK', fo.slowNoAck)] : []),
        ],
      ),
    );
    const j = (hundred ?? fo.single).joinTtffMs;
    out.push(
      `\nTime to first frame: first viewer (starts the transmission, ffmpeg included) ${f0(fo.single.ttffMs?.p50 ?? 0)} ms; ` +
        `joining a running stream at ${hundred ? 100 : 1} viewers: native ${f1(j?.native?.p50 ?? NaN)} ms, ` +
        `seed framing ${f1(j?.legacy?.p50 ?? NaN)} ms (includes the ~100 ms hello grace).`,
    );
    out.push(...sectionLine(r, 'crowd'));
    if (fo.burst) {
      const b = fo.burst;
      out.push(
        `\n**Crowd**: 1000 seed clients opened at once on a running stream: ${b.connected} served, ` +
          `${b.failed} refused or without a frame; first frame p50 ${f0(b.ttffMs?.p50 ?? NaN)} ms, the last one ` +
          `${f0(b.ttffMs?.max ?? NaN)} ms after it connected; then ${pct(b.minFraction)} / ${pct(b.medianFraction)} ` +
          `of the best-served viewer's frames (worst / median viewer; seed framing has no sequence numbers; ` +
          (b.bestViewerFps === undefined
            ? `that viewer's rate ${NOT_MEASURED}`
            : `that viewer got ${f1(b.bestViewerFps)} of the pattern's ${TEST_FPS} fps`) +
          `), server ${f2(b.serverCores)} cores.`,
      );
    }
    if (fo.mixed) {
      const m = fo.mixed;
      out.push(
        `**Mixed audience**: one native viewer among 100 seed viewers and 10 slow seed viewers (no ACK): ` +
          `its latency p50 / p99 ${ms(m.latencyMs)} ms (${m.latencyMs?.samples ?? 0} frames), ` +
          `${pct(m.minFraction)} of the frames (published fps: ${publishedCell(m)}); alone: ${ms(fo.single.latencyMs)} ms.`,
      );
    }
  }
  const ff = r.firstFrame;
  if (ff && ff.length > 0) {
    const seed = ff.find((x) => x.label.startsWith('seed'));
    out.push(
      '\n**Time to first frame, seed client** (connect to the first whole frame, 640x360 H.264 clip, ' +
        `${ff[0]?.ttffMs.samples ?? 0} connections each, interleaved)\n`,
    );
    out.push(
      table(
        ['server', 'p50 ms', 'max ms', 'vs the seed (p50)'],
        ff.map((x) => [
          x.label,
          f1(x.ttffMs.p50),
          f1(x.ttffMs.max),
          seed ? `${f2(x.ttffMs.p50 / seed.ttffMs.p50)}x` : 'n/a',
        ]),
      ),
    );
  }
  const mr = r.meta;
  if (mr) {
    out.push(...sectionLine(r, 'meta'));
    out.push(
      `\n**Metadata and annotations** (a publisher at 30 fps, 800x450, ${mr.without.viewers} native viewers that ask for metadata; then \`serve test\` with one analyzer annotating every frame and 100 viewers of its annotations)\n`,
    );
    out.push(
      table(
        [
          '',
          'frames received min / median',
          PUBLISHED,
          'server CPU (cores)',
          'latency p50 / p99 ms',
          'bytes/frame',
        ],
        [
          [mr.without, 'no metadata'],
          [mr.with, `${mr.metaBytes} B of metadata per frame`],
        ].map(([row, label]) => {
          const x = row as FanoutRow;
          return [
            label as string,
            `${pct(x.minFraction)} / ${pct(x.medianFraction)}`,
            publishedCell(x),
            f2(x.serverCores),
            ms(x.latencyMs),
            f0(x.wireBytesPerFrame),
          ];
        }),
      ),
    );
    const rtt = mr.rtt;
    out.push(
      `\nServer CPU with metadata: ${f2(mr.with.serverCores / mr.without.serverCores)}x without. ` +
        (rtt && rtt.p50 !== null && rtt.p99 !== null
          ? `Annotation round trip (the analyzer receives frame N and annotates it; each viewer receives the annotation), ${rtt.viewers} viewers: p50 ${f2(rtt.p50)} ms, p99 ${f2(rtt.p99)} ms over ${rtt.samples} receipts of ${rtt.annotations} annotations.`
          : 'Annotation round trip: not measured.'),
    );
  }
  const ing = r.ingest;
  if (ing) {
    const p = ing.passthrough;
    const e = ing.reencoded;
    const pc = ing.publisher;
    out.push(...sectionLine(r, 'ingest'));
    out.push(
      `\n**Push ingest** (\`framecast publish test\`: 800x450 JPEGs at 30 fps, ${p.viewers} native viewers of the publisher stream)\n`,
    );
    out.push(
      table(
        [
          '',
          'frames received min / median',
          PUBLISHED,
          "publisher's own count: accepted / dropped of its frames",
          'server CPU (cores)',
          'its ffmpeg',
          'latency p50 / p99 ms',
          'bytes/frame',
        ],
        [
          [
            'passthrough (publisher stream)',
            `${pct(p.minFraction)} / ${pct(p.medianFraction)}`,
            publishedCell(p),
            pc === undefined || pc === null
              ? NOT_MEASURED
              : `${pc.accepted} / ${pc.dropped} of ${pc.frames} (${f1(pc.fps)} fps accepted over ${f1(pc.seconds)} s)`,
            f2(p.serverCores),
            '-',
            ms(p.latencyMs),
            f0(p.wireBytesPerFrame),
          ],
          [
            're-encoded (the server reads the same test pattern)',
            `${pct(e.minFraction)} / ${pct(e.medianFraction)}`,
            publishedCell(e),
            '-',
            f2(e.serverCores),
            f2(e.ffmpegCores),
            ms(e.latencyMs),
            f0(e.wireBytesPerFrame),
          ],
        ],
      ),
    );
    out.push(
      `\nServer CPU with passthrough: ${f2(p.serverCores / Math.max(1e-6, e.serverCores + e.ffmpegCores))}x the re-encoding server (its ffmpeg included); the publisher process spent ${f2(ing.publisherCores)} cores; its own counts cover its whole run (connect to stop), not only the window. Latency of the passthrough row is the publisher's capture to a viewer's receive (the publisher's encode included).`,
    );
  }
  const st = r.streams;
  if (st) {
    out.push(...sectionLine(r, 'streams'));
    out.push(
      `\n**Streams side by side** (640x360 footage at 30 fps, served at width 640, ${st.together.viewersPerStream} native viewers per stream)\n`,
    );
    out.push(
      table(
        [
          'streams',
          'frames received min / median',
          'published fps per stream (of the clip)',
          'server + ffmpeg cores',
          'cores per stream',
          'RSS MB',
          'latency p99 ms (worst stream)',
        ],
        [st.alone, st.together].map((x) => [
          String(x.streams),
          `${pct(x.minFraction)} / ${pct(x.medianFraction)}${x.failed ? ` (${x.failed} failed)` : ''}`,
          streamsPublished(x),
          `${f2(x.serverCores)} + ${f2(x.ffmpegCores)}`,
          f2(x.coresPerStream),
          f0(x.rssMB),
          x.latencyP99Ms === null ? 'n/a' : f1(x.latencyP99Ms),
        ]),
      ),
    );
    out.push(
      `\nCPU per stream side by side: ${f2(st.together.coresPerStream / st.alone.coresPerStream)}x one stream alone.`,
    );
  }
  if (r.record) out.push(...sectionLine(r, 'record'), recordTables(r.record));
  if (r.renditions) out.push(...sectionLine(r, 'renditions'), renditionTables(r.renditions));
  if (r.access) out.push(...sectionLine(r, 'access'), accessTables(r.access));
  if (r.bus) out.push(...sectionLine(r, 'bus'), busTables(r.bus));
  if (r.cpu) out.push(...sectionLine(r, 'cpu'), cpuTables(r.cpu));
  return out.join('\n');
}

/** Seed framing's caveat, under every table or line whose fractions are counted that way. */
export const SEED_CAVEAT =
  "Seed framing carries no sequence numbers: its frames received are each viewer's count against the " +
  "best-served viewer's, not against what the server published, so a server that sent every viewer " +
  "10 of 30 fps would still read 100% there; the published-fps column then gives the best-served viewer's rate.";

/** Each stream's published rate (the range over the streams) against the clip's rate. */
function streamsPublished(x: MultiStreamRow): string {
  const ps = x.publishedFps;
  if (!ps || x.sourceFps === undefined) return NOT_MEASURED;
  const known = ps.filter((p): p is number => p !== null);
  if (known.length < ps.length) return `${NOT_MEASURED} for ${ps.length - known.length} of ${ps.length}`;
  const lo = Math.min(...known);
  const hi = Math.max(...known);
  return `${lo === hi ? f1(lo) : `${f1(lo)}-${f1(hi)}`} of ${fps(x.sourceFps)}`;
}

/** The bus rows: through the edges against the origin directly, and what each process spent. */
function busTables(b: BusRows): string {
  const out: string[] = [];
  const n = (x: { edges: number; viewersPerEdge: number }): string =>
    `${x.edges} x ${x.viewersPerEdge} = ${x.edges * x.viewersPerEdge}`;
  const got = (g: BusRows['rows'][number]['direct']): string =>
    `${pct(g.minFraction)} / ${pct(g.meanFraction)}${g.failed ? ` (${g.failed} failed)` : ''}`;
  const diff = (a: number | undefined, c: number | undefined): string =>
    a === undefined || c === undefined ? 'n/a' : `${a - c >= 0 ? '+' : ''}${f1(a - c)}`;
  out.push(
    `\n**NATS bus** (one origin \`serve test --bus\`, 30 fps 800x450, ${b.natsVersion}; edges x native ` +
      'viewers each, then as many viewers on the origin directly, back to back)\n',
  );
  out.push(
    table(
      [
        'edges x viewers',
        'frames received min / mean: via edges',
        'on the origin',
        "origin's published fps: edges watching; viewers on it",
        'latency p50 / p99 ms: via edges',
        'on the origin',
        'difference p50 / p99 ms',
      ],
      b.rows.map((x) => [
        n(x),
        got(x.viaEdges),
        got(x.direct),
        `${publishedCell(x.viaEdges)}; ${publishedCell(x.direct)}`,
        ms(x.viaEdges.latencyMs),
        ms(x.direct.latencyMs),
        `${diff(x.viaEdges.latencyMs?.p50, x.direct.latencyMs?.p50)} / ${diff(x.viaEdges.latencyMs?.p99, x.direct.latencyMs?.p99)}`,
      ]),
    ),
  );
  out.push('\nCPU in cores (from /proc over the windows), and where the latency goes (p50 / p99 ms):\n');
  out.push(
    table(
      [
        'edges x viewers',
        'each edge',
        'edge per 1000 viewers',
        'origin + its ffmpeg, edges watching',
        'origin, same viewers on it',
        'nats-server',
        'capture to JPEG at the server: edge; origin',
        'to its socket write: edge; origin',
      ],
      b.rows.map((x) => {
        const mean = x.edgeCores.reduce((a, c) => a + c, 0) / Math.max(1, x.edgeCores.length);
        return [
          n(x),
          x.edgeCores.map(f2).join(', '),
          f2((mean * 1000) / x.viewersPerEdge),
          `${f2(x.originCores)} + ${f2(x.ffmpegCores)}`,
          f2(x.originDirectCores),
          f2(x.natsCores),
          `${ms(x.viaEdges.readyMs)}; ${ms(x.direct.readyMs)}`,
          `${ms(x.viaEdges.sendMs)}; ${ms(x.direct.sendMs)}`,
        ];
      }),
    ),
  );
  out.push(
    '\nEverything runs on this one 2-core machine: the origin, its ffmpeg, nats-server, every edge and ' +
      'the load generator (its own process) share the two cores, so latency and CPU are under that ' +
      'contention, not those of separate machines; 4 edges are 4 more processes on 2 cores. ' +
      "Frames via edges are counted against the origin's frames as the bus carried them (matched by " +
      'capture time), so a frame lost between origin and edge counts as missed; the bench process ' +
      'reading them is one more NATS subscriber in the nats-server column. "JPEG at the server" is ' +
      "the edge's receipt from NATS (a whole-millisecond clock) or the origin's encode.",
  );
  return out.join('\n');
}

/** GStreamer's C tcpserversink on the same machine (the issue's measurement): 500 viewers, 0.48 cores. */
const GSTREAMER = { viewers: 500, cores: 0.48 };

/** A hand-written SVG of the fan-out curve: frames received (min) and server CPU against viewers. */
export function fanoutSvg(curve: FanoutRow[]): string {
  const W = 640;
  const H = 380;
  const L = 60;
  const R = 60;
  const T = 40;
  const B = 70;
  const maxV = Math.max(...curve.map((c) => c.viewers), 1);
  const maxCpu = Math.max(1, ...curve.map((c) => c.serverCores));
  const x = (v: number): number => L + ((W - L - R) * v) / maxV;
  const yFrac = (f: number): number => T + (H - T - B) * (1 - f);
  const yCpu = (c: number): number => T + (H - T - B) * (1 - c / maxCpu);
  const line = (pts: [number, number][], color: string): string =>
    `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"/>` +
    pts.map(([a, b]) => `<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="3" fill="${color}"/>`).join('');
  const ticks = curve
    .map(
      (c) =>
        `<text x="${x(c.viewers).toFixed(1)}" y="${H - B + 18}" text-anchor="middle">${c.viewers}</text>`,
    )
    .join('');
  const fracTicks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (f) =>
        `<text x="${L - 8}" y="${yFrac(f) + 4}" text-anchor="end">${f * 100}%</text><line x1="${L}" x2="${W - R}" y1="${yFrac(f)}" y2="${yFrac(f)}" stroke="#eee"/>`,
    )
    .join('');
  const cpuTicks = [0, 0.5, 1]
    .map((k) => k * maxCpu)
    .map((c) => `<text x="${W - R + 8}" y="${yCpu(c) + 4}">${c.toFixed(2)}</text>`)
    .join('');
  // Reference from the issue: GStreamer's tcpserversink, 500 viewers at 48% of a core (crashed before 800).
  const gst =
    GSTREAMER.viewers <= maxV
      ? `<rect x="${(x(GSTREAMER.viewers) - 4).toFixed(1)}" y="${(yCpu(GSTREAMER.cores) - 4).toFixed(1)}" width="8" height="8" fill="#888"/>` +
        `<text x="${x(GSTREAMER.viewers).toFixed(1)}" y="${(yCpu(GSTREAMER.cores) - 8).toFixed(1)}" fill="#666" text-anchor="middle">GStreamer</text>`
      : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">framecast fan-out: 30 fps 800x450, one server process</text>
${fracTicks}${cpuTicks}${ticks}
<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/>
<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>
<line x1="${W - R}" y1="${T}" x2="${W - R}" y2="${H - B}" stroke="#333"/>
${line(
  curve.map((c) => [x(c.viewers), yFrac(c.minFraction)]),
  '#1f77b4',
)}
${line(
  curve.map((c) => [x(c.viewers), yCpu(c.serverCores)]),
  '#d62728',
)}
${gst}
<text x="${W / 2}" y="${H - 30}" text-anchor="middle">viewers</text>
<text x="${L}" y="${T - 8}" fill="#1f77b4">frames received by the worst viewer</text>
<text x="${W - R}" y="${T - 8}" fill="#d62728" text-anchor="end">server CPU (cores)</text>
<text x="${L}" y="${H - 8}" fill="#666" font-size="10">grey: GStreamer tcpserversink CPU, 500 viewers (crashed before 800)</text>
</svg>
`;
}
