import type { RecordingStore, SegmentRef } from '../../record/recording-store.js';

/** The most segments one activity answer reads: the newest of a longer range (the answer says `partial`). */
export const MAX_ACTIVITY_SEGMENTS = 1500;
/** Buckets of an activity answer: default and most. */
export const ACTIVITY_BUCKETS = 200;
export const MAX_ACTIVITY_BUCKETS = 2000;
/** A segment's index may file annotations of frames this long before the segment began. */
const LATE_ANNOTATION_MS = 10_000;

/** A segment's annotations counted per second of capture time (sparse, in time order). */
interface SecondCounts {
  secs: Float64Array;
  counts: Uint32Array;
}

/** Counts a segment's annotations per second of their frames' capture time. */
export function countPerSecond(annotations: readonly { t: number }[]): SecondCounts {
  const bySec = new Map<number, number>();
  for (const a of annotations) {
    const sec = Math.floor(a.t / 1000);
    bySec.set(sec, (bySec.get(sec) ?? 0) + 1);
  }
  const secs = [...bySec.keys()].sort((a, b) => a - b);
  return { secs: Float64Array.from(secs), counts: Uint32Array.from(secs, (k) => bySec.get(k) as number) };
}

/** Annotations per bucket of a range (ms since the epoch; empty `counts` for an empty range). */
export interface Activity {
  start: number;
  end: number;
  bucketMs: number;
  counts: number[];
  /** Counted from here (later than `start` when the range held more than MAX_ACTIVITY_SEGMENTS). */
  from: number;
}

/**
 * The annotations filed with a recording, counted in equal buckets of a range by their frames'
 * capture time (to the second: each second at its middle), for a timeline. Reads the segments'
 * indexes, the newest MAX_ACTIVITY_SEGMENTS of the range, a closed segment's once (its counts are
 * kept, per store, until retention removes it).
 */
export class ActivityCounter {
  /** Annotation counts of closed segments (which never change), by store and segment name. */
  readonly #known = new WeakMap<RecordingStore, Map<string, SecondCounts>>();

  /** Without a finite start or end: the recording's own; with them, exactly them. */
  async count(
    store: RecordingStore,
    range: { start: number; end: number },
    buckets: number,
  ): Promise<Activity> {
    const all = store.segments();
    const start = Number.isFinite(range.start) ? range.start : (all[0]?.info.start ?? 0);
    const end = Number.isFinite(range.end) ? range.end : (all.at(-1)?.info.end ?? start);
    const segs = all.filter(({ info }) => info.end >= start && info.start - LATE_ANNOTATION_MS <= end);
    const read = segs.slice(-MAX_ACTIVITY_SEGMENTS);
    const from = segs.length > read.length ? Math.max(start, (read[0] as SegmentRef).info.start) : start;
    const bucketMs = Math.max(1, (end - start) / buckets);
    const counts = new Array<number>(end > start ? buckets : 0).fill(0);
    let known = this.#known.get(store);
    if (!known) {
      known = new Map();
      this.#known.set(store, known);
    }
    // Segments removed by retention leave the memo.
    if (known.size > all.length + 64) {
      const names = new Set(all.map((r) => r.info.name));
      for (const k of known.keys()) if (!names.has(k)) known.delete(k);
    }
    for (const ref of read) {
      let c = ref.live ? null : (known.get(ref.info.name) ?? null);
      if (!c) {
        c = countPerSecond((await store.index(ref)).annotations);
        if (!ref.live) known.set(ref.info.name, c);
      }
      for (let i = 0; i < c.secs.length; i++) {
        // A second counts at its middle: half a second off at most, either way.
        const t = (c.secs[i] as number) * 1000 + 500;
        if (t < from || t > end) continue;
        const b = Math.min(buckets - 1, Math.max(0, Math.floor((t - start) / bucketMs)));
        if (counts.length) counts[b] = (counts[b] as number) + (c.counts[i] as number);
      }
    }
    return { start, end, bucketMs, counts, from };
  }
}
