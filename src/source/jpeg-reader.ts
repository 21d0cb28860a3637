import type { FramecastError } from '../errors.js';
import { JpegStreamSplitter } from './jpeg-stream-splitter.js';

/** Bytes per direct read from the socket (several 800x450 JPEGs). */
const SCRATCH_BYTES = 256 * 1024;

/**
 * The MJPEG counterpart of RawReader: turns ffmpeg's JPEG stream, as stream chunks or direct socket
 * reads, into whole JPEG images (each its own Buffer: frames outlive the read). Images are held until
 * `setFrameSize()` says ffmpeg's output size is known, and while paused; a paused reader asks the
 * socket to stop, so ffmpeg blocks once the socket buffer is full.
 */
export class JpegReader {
  readonly #onFrame: (data: Buffer, release: () => void) => void;
  readonly #onError: (err: FramecastError) => void;
  readonly #splitter: JpegStreamSplitter;
  readonly #held: Buffer[] = [];
  #heldBytes = 0;
  #scratch: Buffer | null = null;
  #started = false;
  #paused = false;
  #closed = false;

  /** `onError` gets a malformed or oversized stream (nothing is emitted afterwards). */
  constructor(
    onFrame: (data: Buffer, release: () => void) => void,
    onError: (err: FramecastError) => void,
    maxBytes?: number,
  ) {
    this.#onFrame = onFrame;
    this.#onError = onError;
    this.#splitter = new JpegStreamSplitter(maxBytes);
  }

  /** Starts emitting (ffmpeg's output format is known); the size itself is not needed. */
  setFrameSize(_size: number): void {
    this.#started = true;
    this.#drain();
  }

  /** True while pause() holds frames back. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Stops emitting frames after the current one. */
  pause(): void {
    this.#paused = true;
  }

  /** Emits held frames, then lets new ones through (unless paused again meanwhile). */
  resume(): void {
    this.#paused = false;
    this.#drain();
  }

  /** Drops everything; nothing is emitted afterwards. */
  close(): void {
    this.#closed = true;
    this.#held.length = 0;
    this.#heldBytes = 0;
  }

  /** Bytes received but not yet part of an emitted frame. */
  get heldBytes(): number {
    return this.#heldBytes + this.#splitter.pendingBytes;
  }

  /** Copy path: a chunk from a stream. */
  push(chunk: Buffer): void {
    if (this.#closed || chunk.length === 0) return;
    try {
      this.#splitter.push(chunk, (jpeg) => {
        this.#held.push(jpeg);
        this.#heldBytes += jpeg.length;
      });
    } catch (err) {
      this.close();
      this.#onError(err as FramecastError);
      return;
    }
    this.#drain();
  }

  /** Direct path: where the next read should land. */
  buffer(): Buffer {
    return (this.#scratch ??= Buffer.allocUnsafe(SCRATCH_BYTES));
  }

  /** Direct path: `n` bytes were read into buffer(). Returns false when reading should stop. */
  filled(n: number): boolean {
    if (this.#closed) return false;
    // The splitter copies what it keeps: the scratch buffer takes the next read.
    this.push((this.#scratch as Buffer).subarray(0, n));
    return !this.#paused && !this.#closed;
  }

  #drain(): void {
    while (this.#started && !this.#paused && !this.#closed && this.#held.length > 0) {
      const jpeg = this.#held.shift() as Buffer;
      this.#heldBytes -= jpeg.length;
      this.#onFrame(jpeg, noop);
    }
  }
}

function noop(): void {}
