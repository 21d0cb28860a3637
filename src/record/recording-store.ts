import { appendFile, lstat, open, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { APPEND_NOFOLLOW, openSafe, readSafe, writeNew } from './safe-files.js';
import { frameAtOrBefore, parseIndex, type IndexedFrame, type SegmentIndexData } from './segment-index.js';
import { recoverSegment, type RecoveryNote } from './segment-recovery.js';
import { SEGMENT_NAME, segmentInfoOf, type SegmentInfo } from './segment-name.js';
import type { SegmentWriter } from './segment-writer.js';
import { spansOf, type RecordedFrame, type RecordedSpan, type RecordingReader } from './recording-reader.js';

export type { RecordedFrame } from './recording-reader.js';

/** The catalog of a stream's closed segments: a JSON line per segment, `{"del":NAME}` when deleted. */
export const CATALOG = 'catalog.ndjson';

/** Parsed indexes kept in memory (a playback reads one segment after another). */
const INDEX_CACHE = 16;

/** A segment as the store lists it: closed, or the one being written (`live`). */
export interface SegmentRef {
  info: SegmentInfo;
  live: SegmentWriter | null;
}

/** A segment in the store's list: closed (`live` null), or being written or closing (its writer). */
interface Entry {
  info: SegmentInfo;
  live: SegmentWriter | null;
}

const startOf = (e: Entry): number => (e.live ? e.live.start : e.info.start);

/** What a writer holds so far. */
function writerInfo(w: SegmentWriter): SegmentInfo {
  return {
    name: w.name,
    start: w.start,
    end: w.end,
    frames: w.frames.length,
    bytes: w.bytes,
    width: w.width,
    height: w.height,
  };
}

/**
 * One stream's recordings in its directory: the closed segments in time order (from the catalog,
 * checked against the files), the segment being written, and reading frames back. Finding the
 * segment of a time is a binary search over the list in memory; a segment's index is read once
 * (and cached) to find the frame in it. Only names this store made are ever opened, inside `dir`,
 * never through a symbolic link.
 */
export class RecordingStore implements RecordingReader {
  readonly dir: string;
  readonly stream: string;
  /** Every segment, sorted by start: closed ones, and (newest) those being written or closing. */
  #segs: Entry[] = [];
  readonly #cache = new Map<string, SegmentIndexData>();

  private constructor(dir: string, stream: string) {
    this.dir = dir;
    this.stream = stream;
  }

  /**
   * Loads the catalog and reconciles it with the files: a segment missing from it (the process was
   * killed while writing it) is repaired (its .mkv cut after the last whole frame, its index rebuilt
   * from the .mkv when behind) and added; a catalog line whose files are gone is dropped. A file
   * named like a segment that cannot be read as one (a link, a folder) is left alone (a note).
   */
  static async load(dir: string, stream: string, notes: RecoveryNote[] = []): Promise<RecordingStore> {
    const store = new RecordingStore(dir, stream);
    let names: string[];
    try {
      const st = await lstat(dir);
      if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return store;
      throw err;
    }
    const files = new Set(
      names.filter((n) => n.endsWith('.mkv') && SEGMENT_NAME.test(n.slice(0, -4))).map((n) => n.slice(0, -4)),
    );
    const listed = new Map<string, SegmentInfo>();
    let stale = false;
    let text = '';
    try {
      text = (await readSafe(dir, CATALOG)).toString('utf8');
    } catch (err) {
      // Missing: nothing closed yet. A link (or unreadable): written anew, in place of it.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') stale = true;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        stale = true; // a line cut by a crash
        continue;
      }
      const del = (v as { del?: unknown }).del;
      if (typeof del === 'string') {
        listed.delete(del);
        stale = true;
        continue;
      }
      const info = segmentInfoOf(v);
      if (info) listed.set(info.name, info);
      else stale = true;
    }
    for (const name of listed.keys())
      if (!files.has(name)) {
        listed.delete(name);
        stale = true;
      }
    for (const name of files) {
      if (listed.has(name)) continue;
      stale = true;
      // A file that cannot be read as a segment (a symbolic link, unreadable) is left alone and named.
      const info = await recoverSegment(dir, stream, name, notes).catch((err: unknown) => {
        notes.push(`${join(dir, `${name}.mkv`)}: skipped (${(err as Error).message})`);
        return null;
      });
      if (info) listed.set(name, info);
    }
    store.#segs = [...listed.values()]
      .sort((a, b) => a.start - b.start)
      .map((info) => ({ info, live: null }));
    if (stale) await store.#rewriteCatalog();
    return store;
  }

  /** Closed segments, oldest first (a new array: for tests and listings, not per frame). */
  get closed(): readonly SegmentInfo[] {
    return this.#segs.filter((e) => e.live === null).map((e) => e.info);
  }

  /** The oldest closed segment (what retention deletes first), or null. */
  oldestClosed(): SegmentInfo | null {
    for (const e of this.#segs) if (e.live === null) return e.info;
    return null;
  }

  /** Every segment with a frame, oldest first: closed ones, and those being written or closing. */
  segments(): SegmentRef[] {
    const out: SegmentRef[] = [];
    for (const e of this.#segs) {
      const ref = this.#ref(e);
      if (ref) out.push(ref);
    }
    return out;
  }

  /** The recorded spans overlapping `from`..`to`. */
  spans(from = -Infinity, to = Infinity): Promise<RecordedSpan[]> {
    return Promise.resolve(spansOf(this.segments(), from, to));
  }

  /** Bytes of every segment, the one being written included. */
  get bytes(): number {
    let n = 0;
    for (const e of this.#segs) n += e.live ? e.live.bytes : e.info.bytes;
    return n;
  }

  /** A new segment is being written (the one before it may still be closing). */
  opened(w: SegmentWriter): void {
    this.#insert({ info: writerInfo(w), live: w });
  }

  /**
   * A segment closed: listed as closed, and written in the catalog (`info` null: nothing usable,
   * forgotten). Its writer is read from until then, in the same place of the list.
   */
  async added(info: SegmentInfo | null, w: SegmentWriter | null = null): Promise<void> {
    const at = w ? this.#segs.findIndex((e) => e.live === w) : -1;
    if (!info || info.frames === 0) {
      if (at >= 0) this.#segs.splice(at, 1);
      if (info) await this.#unlinkFiles(info.name);
      return;
    }
    if (at >= 0) this.#segs[at] = { info, live: null };
    else this.#insert({ info, live: null });
    await appendFile(join(this.dir, CATALOG), JSON.stringify(info) + '\n', { flag: APPEND_NOFOLLOW });
  }

  #insert(e: Entry): void {
    let i = this.#segs.length;
    while (i > 0 && startOf(this.#segs[i - 1] as Entry) > startOf(e)) i--;
    this.#segs.splice(i, 0, e);
  }

  /** Deletes a closed segment (files and catalog line). */
  async remove(info: SegmentInfo): Promise<void> {
    const i = this.#segs.findIndex((e) => e.info === info && e.live === null);
    if (i < 0) return;
    this.#segs.splice(i, 1);
    this.#cache.delete(info.name);
    await this.#unlinkFiles(info.name);
    await appendFile(join(this.dir, CATALOG), JSON.stringify({ del: info.name }) + '\n', {
      flag: APPEND_NOFOLLOW,
    });
  }

  async #unlinkFiles(name: string): Promise<void> {
    for (const ext of ['.mkv', '.idx'])
      await unlink(join(this.dir, name + ext)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
  }

  async #rewriteCatalog(): Promise<void> {
    const tmp = join(this.dir, `${CATALOG}.tmp`);
    await writeNew(tmp, Buffer.from(this.closed.map((s) => JSON.stringify(s) + '\n').join('')));
    await rename(tmp, join(this.dir, CATALOG));
  }

  /** An entry as a SegmentRef (a writer's with its info as of now), or null for a writer with no frame. */
  #ref(e: Entry): SegmentRef | null {
    if (!e.live) return { info: e.info, live: null };
    if (e.live.frames.length === 0) return null;
    return { info: writerInfo(e.live), live: e.live };
  }

  /** Index of the last entry starting at or before `t` (binary search), or -1. */
  #atOrBefore(t: number): number {
    let lo = 0;
    let hi = this.#segs.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (startOf(this.#segs[mid] as Entry) <= t) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** The first usable entry from index `i` on, as a SegmentRef. */
  #from(i: number): SegmentRef | null {
    for (; i < this.#segs.length; i++) {
      const ref = this.#ref(this.#segs[i] as Entry);
      if (ref) return ref;
    }
    return null;
  }

  /**
   * The segment that holds time `t`: the last one that starts at or before it (a binary search), or,
   * with `after`, the first one when none does.
   */
  find(t: number, after = false): SegmentRef | null {
    for (let i = this.#atOrBefore(t); i >= 0; i--) {
      const ref = this.#ref(this.#segs[i] as Entry);
      if (ref) return ref;
    }
    return after ? this.#from(0) : null;
  }

  /** The segment after `ref` (by start), or null. */
  next(ref: SegmentRef): SegmentRef | null {
    return this.#from(this.#atOrBefore(ref.info.start) + 1);
  }

  /** A segment's index: the writer's own while it is live, else its .idx (cached). */
  async index(ref: SegmentRef): Promise<SegmentIndexData> {
    if (ref.live)
      return {
        stream: this.stream,
        start: ref.live.start,
        width: ref.live.width,
        height: ref.live.height,
        frames: ref.live.frames.filter((f) => ref.live?.isWritten(f)),
        annotations: ref.live.annotations,
      };
    const cached = this.#cache.get(ref.info.name);
    if (cached) return cached;
    const data = parseIndex(await readSafe(this.dir, `${ref.info.name}.idx`));
    if (this.#cache.size >= INDEX_CACHE) this.#cache.delete(this.#cache.keys().next().value as string);
    this.#cache.set(ref.info.name, data);
    return data;
  }

  /** The recorded frame at or just before `t`, when `t` lies inside a recorded segment (to its end). */
  async frameAt(t: number): Promise<RecordedFrame | null> {
    const ref = this.find(t);
    if (!ref || t > ref.info.end + 1000) return null;
    const idx = await this.index(ref);
    const i = frameAtOrBefore(idx.frames, t);
    if (i < 0) return null;
    const fh = await openSafe(this.dir, `${ref.info.name}.mkv`);
    try {
      return await readFrame(fh, ref, idx, i);
    } finally {
      await fh.close();
    }
  }

  /**
   * The recorded frames from `start` up to `end`, across segments, read one at a time. A start inside
   * a recording begins with the frame at or just before it (the picture of that moment); a start in
   * a gap between recordings, with the next recording.
   */
  async *frames(start: number, end = Infinity): AsyncGenerator<RecordedFrame> {
    let ref = this.find(start, true);
    let inside = ref !== null && ref.info.start <= start && start <= ref.info.end + 1000;
    if (ref && !inside && ref.info.start <= start) ref = this.next(ref);
    while (ref) {
      const w = ref.live;
      // A segment being written is read from its writer's own list, which grows as it is read; a
      // frame whose bytes are still on their way to the disk is waited for, not skipped.
      const idx: SegmentIndexData = w
        ? {
            stream: this.stream,
            start: w.start,
            width: w.width,
            height: w.height,
            frames: w.frames,
            annotations: w.annotations,
          }
        : await this.index(ref);
      let i = inside ? Math.max(0, frameAtOrBefore(idx.frames, start)) : 0;
      inside = false;
      const fh = await openSafe(this.dir, `${ref.info.name}.mkv`);
      try {
        for (; i < idx.frames.length; i++) {
          const f = idx.frames[i] as IndexedFrame;
          if (f.t > end) return;
          if (w && !w.isWritten(f)) {
            await w.flushed();
            if (!w.isWritten(f)) break; // the write failed: the recording ends here
          }
          yield await readFrame(fh, ref, idx, i);
        }
      } finally {
        await fh.close();
      }
      ref = this.next(ref);
    }
  }
}

async function readFrame(
  fh: Awaited<ReturnType<typeof open>>,
  ref: SegmentRef,
  idx: SegmentIndexData,
  i: number,
): Promise<RecordedFrame> {
  const f = idx.frames[i] as IndexedFrame;
  const jpeg = Buffer.allocUnsafe(f.length);
  const { bytesRead } = await fh.read(jpeg, 0, f.length, f.offset);
  if (bytesRead !== f.length) throw new Error(`${ref.info.name}.mkv is shorter than its index`);
  return {
    seq: f.seq,
    capturedAt: f.t,
    width: ref.info.width,
    height: ref.info.height,
    jpeg,
    meta: f.meta,
    annotations: idx.annotations.filter((a) => a.seq === f.seq && a.t === f.t),
  };
}
