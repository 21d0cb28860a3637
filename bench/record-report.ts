import type { Percentiles } from './loadgen.js';
import { table } from './lib/markdown.js';
import type { RecordRows } from './record.js';

const f0 = (x: number): string => x.toFixed(0);
const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);
const f3 = (x: number): string => x.toFixed(3);
const f4 = (x: number): string => x.toFixed(4);
const kb = (x: number): string => `${f1(x / 1024)} kB`;
const signed = (x: number): string => `${x >= 0 ? '+' : ''}${f4(x)}`;

/** The issue's targets for recording, checked here and in the targets table. */
export const RECORD_TARGETS = { addedCores: 0.01, firstFrameP99Ms: 50 } as const;

/** "met" or "not met". */
const met = (ok: boolean): string => (ok ? 'met' : 'not met');

/** Whether every frame the streams published was written and is on disk. */
export function everyFrameWritten(m: RecordRows['many']): boolean {
  return (
    m.dropped === 0 &&
    m.streamsShort === 0 &&
    m.written === m.published &&
    (m.finalDropped ?? 0) === 0 &&
    m.finalWritten === m.onDisk &&
    m.unlisted === 0
  );
}

/** The recording section as Markdown: CPU it adds, many streams at once, many segments. */
export function recordTables(r: RecordRows): string {
  const out: string[] = [];
  const c = r.cpu;
  out.push(
    `\n**Recording: the CPU it adds** (one publisher stream, ${c.jpeg.width}x${c.jpeg.height} JPEGs q80 of ${c.jpeg.footage}, ` +
      `${kb(c.jpeg.meanBytes)} each, at 30 fps; one HTTP MJPEG viewer; the server's CPU from /proc, recording ` +
      'switched off and on in turn through the API, the stream and its viewer going on)\n',
  );
  out.push(
    table(
      ['window', 'recording', 'seconds', 'server CPU (cores)', 'published fps', 'frames written / dropped'],
      c.windows.map((w, i) => [
        String(i + 1),
        w.recording ? 'on' : 'off',
        f1(w.seconds),
        f4(w.serverCores),
        f1(w.publishedFps),
        w.recording ? `${w.framesWritten} / ${w.framesDropped}` : '-',
      ]),
    ),
  );
  const pairs = c.windows
    .map((w, i) => (w.recording && i > 0 ? w.serverCores - (c.windows[i - 1]?.serverCores ?? NaN) : null))
    .filter((x): x is number => x !== null);
  const off = c.windows.filter((w) => !w.recording).map((w) => w.serverCores);
  out.push(
    `\nRecording added ${signed(c.added)} cores to this stream (mean ${f4(c.with)} with, ${f4(c.without)} without; ` +
      `each window with recording against the one before it: ${pairs.map(signed).join(', ')}; the windows without ` +
      `recording differ among themselves by ${f4(Math.max(...off) - Math.min(...off))}, the machine's noise). ` +
      `The target, <= ${RECORD_TARGETS.addedCores} cores, is ${met(c.added <= RECORD_TARGETS.addedCores)}.`,
  );
  const m = r.many;
  out.push(
    `\n**Recording ${m.streams} streams at once** (${m.streams} publisher streams, ${m.jpeg.width}x${m.jpeg.height} JPEGs q80, ` +
      `${kb(m.jpeg.meanBytes)} each, at 30 fps from one publisher process; every stream recorded; ` +
      `CPU over ${f1(m.seconds)} s)\n`,
  );
  out.push(
    table(
      [
        "frames published (the streams' hubs)",
        'written / dropped (recorders, /stats)',
        'written / dropped when the server stopped',
        'frames in the catalogs on disk',
        'publishers sent (skipped)',
        'server CPU (cores)',
        'publishers (cores)',
      ],
      [
        [
          String(m.published),
          `${m.written} / ${m.dropped}${m.streamsShort ? ` (${m.streamsShort} streams short)` : ''}`,
          m.finalWritten === null ? 'not logged' : `${m.finalWritten} / ${m.finalDropped ?? 0}`,
          `${m.onDisk}${m.unlisted ? ` (${m.unlisted} segments unlisted)` : ''}`,
          `${m.publisherSent} (${m.publisherSkipped}), ${f1(m.sentFps)} fps per stream`,
          f2(m.serverCores),
          f2(m.publisherCores),
        ],
      ],
    ),
  );
  out.push(
    `\nPublished frames are every frame each stream's hub published while it was recorded, the NO SIGNAL ` +
      'pictures (one a second) before a publisher connected and after it left included; /stats is read ' +
      'once the publishers have stopped, the catalogs once the server has. Every frame written: ' +
      `${met(everyFrameWritten(m))}.`,
  );
  const l = r.lookup;
  const row = (label: string, p: Percentiles): string[] => [
    label,
    f1(p.p50),
    f1(p.p99),
    f1(p.max),
    String(p.samples),
  ];
  out.push(
    `\n**Finding a moment among ${l.segments.toLocaleString('en-US')} segments** (${l.frames.toLocaleString('en-US')} frames, ` +
      `${f0(l.bytes / 2 ** 20)} MiB, over ${f1(l.days)} days in ${l.spans} spans: ${l.segments - l.fullSegments} segments of ` +
      `a few frames written directly with SegmentWriter, then ${l.fullSegments} full 60 s segments of 30 fps; ` +
      `written in ${f1(l.generateSeconds)} s, so they are in the page cache; one request at a time, each on a new ` +
      'connection, at random times inside recorded segments)\n',
  );
  out.push(
    table(
      ['request', 'p50 ms', 'p99 ms', 'max ms', 'requests'],
      [
        [
          'first listing after start-up (it loads the catalog; one request to /healthz before it)',
          f1(l.firstListMs),
          '-',
          '-',
          '1',
        ],
        row('GET /streams/NAME/recordings (the listing)', l.listMs),
        row('GET /list?path=NAME (MediaMTX-shaped)', l.mediamtxListMs),
        row('snapshot.jpg?at= (the whole JPEG)', l.snapshotMs),
        row('playback.mjpg?start= (to its first whole part)', l.playbackMs),
        row(`snapshot.jpg?at= in the ${l.fullSegments} full segments`, l.fullSnapshotMs),
        row(`playback.mjpg?start= in the ${l.fullSegments} full segments`, l.fullPlaybackMs),
      ],
    ),
  );
  const worst = Math.max(l.snapshotMs.p99, l.playbackMs.p99, l.fullSnapshotMs.p99, l.fullPlaybackMs.p99);
  out.push(
    `\nFirst frame of a playback and of a snapshot at a time, p99 <= ${RECORD_TARGETS.firstFrameP99Ms} ms: ` +
      `${met(worst <= RECORD_TARGETS.firstFrameP99Ms)} (worst p99 ${f1(worst)} ms)` +
      `${l.failures ? `; ${l.failures} requests did not answer with the picture of that moment` : ''}.`,
  );
  return out.join('\n');
}

/** The targets table's three recording rows. */
export function recordTargetText(r: RecordRows, which: 'cpu' | 'many' | 'lookup'): string {
  if (which === 'cpu') {
    const c = r.cpu;
    return `${met(c.added <= RECORD_TARGETS.addedCores)}: ${signed(c.added)} cores (${f3(c.with)} with, ${f3(c.without)} without, ${c.windows.length} windows interleaved)`;
  }
  if (which === 'many') {
    const m = r.many;
    return (
      `${met(everyFrameWritten(m))}: ${m.published} frames published, ${m.written} written, ${m.dropped} dropped, ` +
      `${m.onDisk} in the catalogs after the server stopped; server ${f2(m.serverCores)} cores`
    );
  }
  const l = r.lookup;
  const worst = Math.max(l.snapshotMs.p99, l.playbackMs.p99, l.fullSnapshotMs.p99, l.fullPlaybackMs.p99);
  return (
    `${met(worst <= RECORD_TARGETS.firstFrameP99Ms && l.failures === 0)}: snapshot p99 ${f1(l.snapshotMs.p99)} ms, ` +
    `playback's first frame p99 ${f1(l.playbackMs.p99)} ms (in full segments ${f1(l.fullSnapshotMs.p99)} / ${f1(l.fullPlaybackMs.p99)} ms); ` +
    `listing p99 ${f1(l.listMs.p99)} ms; first listing after start-up (catalog load) ${f0(l.firstListMs)} ms`
  );
}
