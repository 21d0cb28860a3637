/**
 * A segment's index (`NAME.idx` beside `NAME.mkv`): one JSON line per frame and per annotation,
 * appended as the segment is written, so finding the frame at a time never reads the video file.
 *
 *   {"v":1,"stream":"cam","start":1765076400123.4,"width":800,"height":450}       first line
 *   {"s":42,"t":1765076400456.7,"o":1234,"n":51234}                              a frame
 *   {"s":43,"t":1765076400490.1,"o":52480,"n":50111,"m":{...}}                   with its metadata
 *   {"a":"motion","s":42,"t":1765076400456.7,"r":1765076400470.2,"d":{...}}      an annotation
 *
 * `t` is the capture time (ms since the epoch, as viewers got it), `o`/`n` where the JPEG lies in the
 * .mkv; `m` and `d` are the JSON exactly as received (byte for byte: they are cut out of the line, not
 * parsed and written again). A line cut by a crash is ignored.
 */

/** A frame as the index knows it. */
export interface IndexedFrame {
  seq: number;
  /** Capture time, ms since the epoch. */
  t: number;
  offset: number;
  length: number;
  meta: Buffer | null;
}

/** An analyzer's annotation of a recorded frame. */
export interface IndexedAnnotation {
  analyzer: string;
  seq: number;
  t: number;
  receivedAt: number;
  json: Buffer;
}

/** What a segment's index holds. */
export interface SegmentIndexData {
  stream: string | null;
  /** The first frame's capture time from the first line, or null. */
  start: number | null;
  width: number | null;
  height: number | null;
  frames: IndexedFrame[];
  annotations: IndexedAnnotation[];
}

/** The index's first line. */
export function indexHeadLine(h: { stream: string; start: number; width: number; height: number }): Buffer {
  return Buffer.from(
    `{"v":1,"stream":${JSON.stringify(h.stream)},"start":${h.start},"width":${h.width},"height":${h.height}}\n`,
  );
}

/** A frame's line. */
export function frameLine(f: IndexedFrame): Buffer {
  const head = `{"s":${f.seq},"t":${f.t},"o":${f.offset},"n":${f.length}`;
  if (!f.meta) return Buffer.from(head + '}\n');
  return Buffer.concat([Buffer.from(head + ',"m":'), f.meta, Buffer.from('}\n')]);
}

/** An annotation's line (the analyzer's name holds only [A-Za-z0-9_.-]). */
export function annotationLine(a: IndexedAnnotation): Buffer {
  return Buffer.concat([
    Buffer.from(`{"a":${JSON.stringify(a.analyzer)},"s":${a.seq},"t":${a.t},"r":${a.receivedAt},"d":`),
    a.json,
    Buffer.from('}\n'),
  ]);
}

const FRAME = /^\{"s":(\d+),"t":(-?[\d.e+-]+),"o":(\d+),"n":(\d+)(\}|,"m":)/;
const ANNOTATION = /^\{"a":"([A-Za-z0-9_.-]{1,64})","s":(\d+),"t":(-?[\d.e+-]+),"r":(-?[\d.e+-]+),"d":/;

function num(s: string | undefined): number {
  const n = Number(s);
  return Number.isFinite(n) ? n : NaN;
}

/** Reads an index file's bytes. Lines that do not parse (a cut last line) are skipped. */
export function parseIndex(buf: Buffer): SegmentIndexData {
  const out: SegmentIndexData = {
    stream: null,
    start: null,
    width: null,
    height: null,
    frames: [],
    annotations: [],
  };
  let p = 0;
  while (p < buf.length) {
    const nl = buf.indexOf(0x0a, p);
    if (nl < 0) break; // a line cut by a crash
    const line = buf.subarray(p, nl);
    p = nl + 1;
    const text = line.toString('latin1');
    const f = FRAME.exec(text);
    if (f) {
      const frame: IndexedFrame = {
        seq: num(f[1]),
        t: num(f[2]),
        offset: num(f[3]),
        length: num(f[4]),
        meta: null,
      };
      if (f[5] !== '}') {
        if (!text.endsWith('}')) continue;
        frame.meta = Buffer.from(line.subarray(f[0].length, line.length - 1));
      } else if (text.length !== f[0].length) continue;
      if ([frame.seq, frame.t, frame.offset, frame.length].some(Number.isNaN)) continue;
      out.frames.push(frame);
      continue;
    }
    const a = ANNOTATION.exec(text);
    if (a) {
      if (!text.endsWith('}')) continue;
      const ann: IndexedAnnotation = {
        analyzer: a[1] as string,
        seq: num(a[2]),
        t: num(a[3]),
        receivedAt: num(a[4]),
        json: Buffer.from(line.subarray(a[0].length, line.length - 1)),
      };
      if ([ann.seq, ann.t, ann.receivedAt].some(Number.isNaN)) continue;
      out.annotations.push(ann);
      continue;
    }
    if (text.startsWith('{"v":')) {
      try {
        const h = JSON.parse(text) as {
          stream?: unknown;
          start?: unknown;
          width?: unknown;
          height?: unknown;
        };
        out.stream = typeof h.stream === 'string' ? h.stream : null;
        out.start = typeof h.start === 'number' && Number.isFinite(h.start) ? h.start : null;
        out.width = Number.isInteger(h.width) ? (h.width as number) : null;
        out.height = Number.isInteger(h.height) ? (h.height as number) : null;
      } catch {
        // a damaged first line: the .mkv says the size
      }
    }
  }
  return out;
}

/** The last frame at or before `t` (index into `frames`, sorted by t), or -1. */
export function frameAtOrBefore(frames: readonly IndexedFrame[], t: number): number {
  let lo = 0;
  let hi = frames.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((frames[mid] as IndexedFrame).t <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}
