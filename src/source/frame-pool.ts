/**
 * A small free list of equally sized frame buffers. A 1 MB raw frame allocated fresh each time is
 * mmap'd, page-faulted in and unmapped again by the allocator (and counted against V8's external
 * memory, which triggers GCs); reusing a handful of buffers removes that cost from every frame.
 */
export class FramePool {
  readonly frameSize: number;
  readonly #max: number;
  readonly #free: Buffer[] = [];
  readonly #own = new WeakSet<Buffer>();

  /** `max` buffers are kept for reuse at most; more can be out at once, the extra ones are dropped on return. */
  constructor(frameSize: number, max: number) {
    if (!Number.isInteger(frameSize) || frameSize <= 0) throw new RangeError(`bad frame size ${frameSize}`);
    this.frameSize = frameSize;
    this.#max = max;
  }

  /** A buffer of frameSize bytes with unspecified content. */
  take(): Buffer {
    const reused = this.#free.pop();
    if (reused) return reused;
    const buf = Buffer.allocUnsafeSlow(this.frameSize);
    this.#own.add(buf);
    return buf;
  }

  /** Returns a buffer from take() once nothing reads it any more. Other buffers are ignored. */
  give(buf: Buffer): void {
    if (this.#own.has(buf) && this.#free.length < this.#max && !this.#free.includes(buf)) {
      this.#free.push(buf);
    }
  }

  /** Buffers waiting for reuse. */
  get available(): number {
    return this.#free.length;
  }
}
