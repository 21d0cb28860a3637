/**
 * Cuts a byte stream of fixed-size raw frames (ffmpeg's rawvideo output) into frames.
 * Each frame is assembled in one buffer allocated once at its final size: no concatenation.
 */
export class RawFrameSplitter {
  readonly frameSize: number;
  readonly #allocate: (size: number) => Buffer;
  #current: Buffer | null = null;
  #filled = 0;

  /** `allocate` supplies the buffer a frame is assembled in (e.g. from a FramePool). */
  constructor(frameSize: number, allocate: (size: number) => Buffer = Buffer.allocUnsafe) {
    if (!Number.isInteger(frameSize) || frameSize <= 0) throw new RangeError(`bad frame size ${frameSize}`);
    this.frameSize = frameSize;
    this.#allocate = allocate;
  }

  /** Bytes of the frame in progress (0 between frames). */
  get pendingBytes(): number {
    return this.#filled;
  }

  /** Where the next bytes of the frame in progress go, for reads straight into it (see commit()). */
  target(): Buffer {
    if (this.#current === null) {
      this.#current = this.#allocate(this.frameSize);
      this.#filled = 0;
    }
    return this.#current.subarray(this.#filled);
  }

  /** `n` bytes were written into target(); calls onFrame if that completed the frame. */
  commit(n: number, onFrame: (frame: Buffer) => void): void {
    const current = this.#current;
    if (current === null || n < 0 || this.#filled + n > this.frameSize) {
      throw new RangeError(`commit of ${n} bytes does not fit the frame in progress`);
    }
    this.#filled += n;
    if (this.#filled === this.frameSize) {
      this.#current = null;
      this.#filled = 0;
      onFrame(current);
    }
  }

  /** Feeds a chunk; calls onFrame for every frame it completes, in order. */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#current === null) {
        // A whole frame inside the chunk needs no copy.
        if (chunk.length - offset >= this.frameSize) {
          onFrame(chunk.subarray(offset, offset + this.frameSize));
          offset += this.frameSize;
          continue;
        }
        this.#current = this.#allocate(this.frameSize);
        this.#filled = 0;
      }
      const n = Math.min(this.frameSize - this.#filled, chunk.length - offset);
      chunk.copy(this.#current, this.#filled, offset, offset + n);
      this.#filled += n;
      offset += n;
      if (this.#filled === this.frameSize) {
        const done = this.#current;
        this.#current = null;
        this.#filled = 0;
        onFrame(done);
      }
    }
  }
}
