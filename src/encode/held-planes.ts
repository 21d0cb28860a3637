import type { Frame } from '../hub/frame.js';
import type { RawFrame } from '../source/ffmpeg-args.js';

/** A frame's raw I420 planes as its pipeline read them from ffmpeg, to be handed back with release(). */
export type RawPlanes = Pick<RawFrame, 'data' | 'width' | 'height' | 'limitedRange' | 'release'>;

/**
 * Who takes a frame's raw planes after its main-size encode, while it wants them: the stream's
 * renditions, which then shrink and encode those planes instead of decoding the frame's JPEG.
 */
export interface RawTap {
  /** True while the next frames' planes are wanted (renditions run and the encoder can shrink). */
  wanted(): boolean;
  /** Takes `frame`'s planes: from now on the taker calls `raw.release()`, once nothing reads them. */
  take(frame: Frame, raw: RawPlanes): void;
}

/** Frames whose planes are kept: the newest, and one before it for a rendition still encoding that one. */
export const KEPT_PLANES = 2;

interface Held {
  frame: Frame;
  raw: RawPlanes;
  /** Encodes reading the planes now: they go back to the pool only after the last one. */
  readers: number;
  dropped: boolean;
}

/**
 * The raw planes of a stream's newest frames (at most KEPT_PLANES), each handed back to its pool once
 * it is neither among the newest nor read by an encode: a buffer is never reused under a reader.
 */
export class HeldPlanes {
  #held: Held[] = [];

  /** Keeps `frame`'s planes (their owner now), letting go of the oldest beyond KEPT_PLANES. */
  keep(frame: Frame, raw: RawPlanes): void {
    this.#held.push({ frame, raw, readers: 0, dropped: false });
    while (this.#held.length > KEPT_PLANES) this.#drop(this.#held.shift() as Held);
  }

  /** Frames whose planes are kept now (newest last). */
  get size(): number {
    return this.#held.length;
  }

  /**
   * `read(planes)` with `frame`'s planes held until its promise settles; null when they are not kept
   * (an older frame, or one that came without them).
   */
  read<T>(frame: Frame, read: (raw: RawPlanes) => Promise<T>): Promise<T> | null {
    // By its JPEG: a producer that renumbers frames (a camera's after a restart) makes new Frames of them.
    const h = this.#held.find((x) => x.frame.jpeg === frame.jpeg);
    if (!h) return null;
    h.readers++;
    const done = (): void => {
      h.readers--;
      if (h.dropped && h.readers === 0) h.raw.release();
    };
    let p: Promise<T>;
    try {
      p = read(h.raw);
    } catch (err) {
      p = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return p.finally(done);
  }

  /** Lets go of every frame's planes (each back to its pool once its readers are done). */
  clear(): void {
    for (const h of this.#held.splice(0)) this.#drop(h);
  }

  #drop(h: Held): void {
    h.dropped = true;
    if (h.readers === 0) h.raw.release();
  }
}
