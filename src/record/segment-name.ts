/** What a closed (or recovered) segment holds: the catalog's line for it. */
export interface SegmentInfo {
  /** File name without extension (`.mkv` and `.idx`): its first frame's capture time, UTC. */
  name: string;
  /** Capture times (ms since the epoch) of its first and last frames. */
  start: number;
  end: number;
  frames: number;
  /** Bytes on disk (both files). */
  bytes: number;
  width: number;
  height: number;
}

/** A segment's file name: `2026-12-07_03-00-00-123` (UTC), `-N` added when taken. Sorts by time. */
export const SEGMENT_NAME = /^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}-\d{3}(-\d)?$/;

/** The file name (without extension) of a segment whose first frame was captured at `ms`. */
export function segmentFileName(ms: number): string {
  const iso = new Date(Math.floor(ms)).toISOString(); // 2026-12-07T03:00:00.123Z
  return `${iso.slice(0, 10)}_${iso.slice(11, 13)}-${iso.slice(14, 16)}-${iso.slice(17, 19)}-${iso.slice(20, 23)}`;
}

/** Checks a catalog line; the SegmentInfo, or null when it is not one. */
export function segmentInfoOf(v: unknown): SegmentInfo | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const n = (k: string): number | null =>
    typeof o[k] === 'number' && Number.isFinite(o[k]) && (o[k] as number) >= 0 ? (o[k] as number) : null;
  const name = o.name;
  const [start, end, frames, bytes, width, height] = [
    'start',
    'end',
    'frames',
    'bytes',
    'width',
    'height',
  ].map(n);
  if (typeof name !== 'string' || !SEGMENT_NAME.test(name)) return null;
  if ([start, end, frames, bytes, width, height].some((x) => x === null)) return null;
  return {
    name,
    start: start as number,
    end: end as number,
    frames: frames as number,
    bytes: bytes as number,
    width: width as number,
    height: height as number,
  };
}
