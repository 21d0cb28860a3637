import type { IndexedAnnotation } from './segment-index.js';
import type { SegmentInfo } from './segment-name.js';

/** A pause longer than this between two recorded frames is a gap: playback skips it. */
export const GAP_MS = 2000;

/** A frame read back from a recording. */
export interface RecordedFrame {
  seq: number;
  capturedAt: number;
  width: number;
  height: number;
  jpeg: Buffer;
  meta: Buffer | null;
  annotations: IndexedAnnotation[];
}

/** A recorded span: segments that follow one another without a gap. */
export interface RecordedSpan {
  start: number;
  end: number;
  frames: number;
  bytes: number;
  segments: number;
}

/**
 * What reading a stream's recording back takes: its spans, the frame at a time, the frames of a
 * range. A RecordingStore (on the server that records) is one; on an edge, a reader that asks the
 * origin over the bus (`bus/remote-recordings.ts`) is another, so the HTTP endpoints and native
 * playback are one code on both.
 */
export interface RecordingReader {
  readonly stream: string;
  /** The recorded spans that overlap `from`..`to` (each whole segment that does counts). */
  spans(from?: number, to?: number): Promise<RecordedSpan[]>;
  /** The recorded frame at or just before `t`, when `t` lies inside a recording (to its end + 1 s). */
  frameAt(t: number): Promise<RecordedFrame | null>;
  /**
   * The frames from `start` up to `end`, read as they are taken: a start inside a recording begins
   * with the frame at or just before it; a start in a gap, with the next recording.
   */
  frames(start: number, end?: number): AsyncGenerator<RecordedFrame>;
}

/** Joins consecutive segments into spans (a gap: more than GAP_MS, or two frame intervals, between them). */
export function spansOf(
  segs: readonly { info: SegmentInfo }[],
  from = -Infinity,
  to = Infinity,
): RecordedSpan[] {
  const out: RecordedSpan[] = [];
  let cur: RecordedSpan | null = null;
  for (const { info } of segs) {
    if (info.end < from || info.start > to) continue;
    const interval = cur && cur.frames > 1 ? (cur.end - cur.start) / (cur.frames - 1) : 0;
    if (cur && info.start - cur.end <= Math.max(GAP_MS, 2 * interval)) {
      cur.end = Math.max(cur.end, info.end);
      cur.frames += info.frames;
      cur.bytes += info.bytes;
      cur.segments++;
    } else {
      cur = { start: info.start, end: info.end, frames: info.frames, bytes: info.bytes, segments: 1 };
      out.push(cur);
    }
  }
  return out;
}
