/**
 * Cuts a byte stream of fixed-size raw frames (ffmpeg's rawvideo output) into frames.
 * Each frame is assembled in one buffer allocated once at its final size: no concatenation.
 */
export class RawFrameSplitter {
  readonly frameSize: number;
  #current: Buffer | null = null;
  #filled = 0;

  constructor(frameSize: number) {
    if (!Number.isInteger(frameSize) || frameSize <= 0) throw new RangeError(`bad frame size ${frameSize}`);
    this.frameSize = frameSize;
  }

  /** Bytes of the frame in progress (0 between frames). */
  get pendingBytes(): number {
    return this.#filled;
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
        this.#current = Buffer.allocUnsafe(this.frameSize);
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
