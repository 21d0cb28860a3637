import type { Frame } from '../hub/frame.js';
import type { RawFrame } from '../source/ffmpeg-args.js';

/** A frame's raw I420 planes as its pipeline read them from ffmpeg, to be handed back with release(). */
export type RawPlanes = Pick<RawFrame, 'data' | 'width' | 'height' | 'limitedRange' | 'release'>;

/**
 * Who takes a frame's raw planes, while it wants them: the stream's renditions, which then shrink and
 * encode those planes instead of decoding the frame's JPEG.
 */
export interface RawTap {
  /** True while the next frames' planes are wanted (renditions run and the encoder can shrink). */
  wanted(): boolean;
  /**
   * `raw` as it arrives, once its main-size encode has started: the taker may read it from now on (its
   * renditions encode beside the main size). Returns what the pipeline calls when that encode is done:
   * with the frame made of it, before the frame is emitted, or with null when none is (an encode that
   * failed, a pipeline stopped). Either way the taker owns the planes from then and calls
   * `raw.release()` once nothing reads them.
   */
  arrive(raw: RawPlanes): (frame: Frame | null) => void;
}

/** Frames whose planes are kept: the newest, and one before it for a rendition still encoding that one. */
export const KEPT_PLANES = 2;

interface Held<T> {
  frame: Frame | null;
  raw: RawPlanes;
  /** Encodes reading the planes now: they go back to the pool only after the last one. */
  readers: number;
  dropped: boolean;
  /** Reads started as the planes arrived, by name, each taken once (early()). */
  early: Map<string, Promise<T>>;
}

/** Planes lent as they arrived: reads may start now; bind() tells which frame they became, if any. */
export interface Arrival<T> {
  /** Starts `read` now; its promise is kept under `id` for early(). */
  readEarly(id: string, read: (raw: RawPlanes) => Promise<T>): void;
  /** The frame made of the planes (kept from now on among the newest), or null (handed back once read). */
  bind(frame: Frame | null): void;
}

/**
 * The raw planes of a stream's newest frames (at most KEPT_PLANES), each handed back to its pool once
 * it is neither among the newest nor read by an encode: a buffer is never reused under a reader.
 * Planes may be read as soon as they arrive (arrive()), before the frame made of them exists: those
 * reads' results wait under their names until the frame's encode asks for them (early()).
 */
export class HeldPlanes<T = unknown> {
  #held: Held<T>[] = [];
  /** Bumped by clear(): planes that arrived before it are not kept when their frame comes. */
  #generation = 0;

  /** Keeps `frame`'s planes (their owner now), letting go of the oldest beyond KEPT_PLANES. */
  keep(frame: Frame, raw: RawPlanes): void {
    this.arrive(raw).bind(frame);
  }

  /** Planes that have just arrived, their frame not made yet (see Arrival). */
  arrive(raw: RawPlanes): Arrival<T> {
    const h: Held<T> = { frame: null, raw, readers: 0, dropped: false, early: new Map() };
    const generation = this.#generation;
    let bound = false;
    return {
      readEarly: (id, read) => {
        if (bound) return;
        const p = this.#read(h, read);
        // Never taken (its frame skipped or never made): not an unhandled rejection.
        p.catch(() => undefined);
        h.early.set(id, p);
      },
      bind: (frame) => {
        if (bound) return;
        bound = true;
        if (!frame || generation !== this.#generation) {
          this.#drop(h);
          return;
        }
        h.frame = frame;
        this.#held.push(h);
        while (this.#held.length > KEPT_PLANES) this.#drop(this.#held.shift() as Held<T>);
      },
    };
  }

  /** Frames whose planes are kept now (newest last). */
  get size(): number {
    return this.#held.length;
  }

  /**
   * `read(planes)` with `frame`'s planes held until its promise settles; null when they are not kept
   * (an older frame, or one that came without them).
   */
  read<R>(frame: Frame, read: (raw: RawPlanes) => Promise<R>): Promise<R> | null {
    const h = this.#find(frame);
    return h ? this.#read(h, read) : null;
  }

  /**
   * The read started under `id` as `frame`'s planes arrived: taken (a second call gets null), or with
   * `take` false only looked at (a snapshot's, which must not take a rendition's frame from it).
   */
  early(frame: Frame, id: string, take = true): Promise<T> | null {
    const p = this.#find(frame)?.early;
    const out = p?.get(id) ?? null;
    if (take) p?.delete(id);
    return out;
  }

  /** Lets go of every frame's planes (each back to its pool once its readers are done). */
  clear(): void {
    this.#generation++;
    for (const h of this.#held.splice(0)) this.#drop(h);
  }

  /** By its JPEG: a producer that renumbers frames (a camera's after a restart) makes new Frames of them. */
  #find(frame: Frame): Held<T> | undefined {
    return this.#held.find((x) => x.frame?.jpeg === frame.jpeg);
  }

  #read<R>(h: Held<T>, read: (raw: RawPlanes) => Promise<R>): Promise<R> {
    h.readers++;
    const done = (): void => {
      h.readers--;
      if (h.dropped && h.readers === 0) h.raw.release();
    };
    let p: Promise<R>;
    try {
      p = read(h.raw);
    } catch (err) {
      p = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return p.finally(done);
  }

  #drop(h: Held<T>): void {
    h.dropped = true;
    h.early.clear();
    if (h.readers === 0) h.raw.release();
  }
}
