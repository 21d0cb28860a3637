import { FramecastError } from '../errors.js';
import { FramePool } from './frame-pool.js';
import { RawFrameSplitter } from './raw-frame-splitter.js';

/** Bytes offered to a direct read before the frame size is known. */
const SCRATCH_BYTES = 64 * 1024;

/** What ffmpeg's yuv4mpegpipe muxer writes before each frame's planes. */
const Y4M_FRAME = Buffer.from('FRAME\n');
/** A YUV4MPEG2 stream header is one line of a few dozen bytes; anything longer is not one. */
const Y4M_HEADER_MAX = 1024;

/** How raw frames are framed: bare (rawvideo), or YUV4MPEG2 (one header line, `FRAME\n` per frame). */
export type RawFraming = 'raw' | 'y4m';

/**
 * Turns ffmpeg's raw output into pooled frame buffers, whether the bytes arrive as stream chunks
 * (copied) or are read straight into the frame being assembled (`buffer()`/`filled()`, for a socket's
 * `onread`). Pausing takes effect at the next frame boundary: bytes of later frames already received
 * are held, not emitted, so a paused consumer gets at most the frame in progress.
 */
export class RawReader {
  readonly #onFrame: (data: Buffer, release: () => void) => void;
  readonly #poolSize: number;
  #pool: FramePool | null = null;
  #splitter: RawFrameSplitter | null = null;
  readonly #early: Buffer[] = [];
  readonly #held: Buffer[] = [];
  #scratch: Buffer | null = null;
  #readIntoScratch = true;
  #paused = false;
  #closed = false;
  /** Bytes before each frame's planes (`FRAME\n` in YUV4MPEG2). */
  readonly #prefix: number;
  /** YUV4MPEG2: the header line has not been skipped yet (reads go to scratch until it has). */
  #inHeader: boolean;
  #headerBytes = 0;
  readonly #onError: (err: FramecastError) => void;

  /**
   * `poolSize`: frame buffers kept for reuse once released. `framing` `y4m` (ffmpeg's yuv4mpegpipe,
   * which writes the planes straight from the decoded frame: measured 0.08 ms less ffmpeg CPU per
   * 800x450 frame than rawvideo's extra copy into a freshly allocated packet) skips the header line
   * and checks each frame's `FRAME\n`; a stream out of step is reported to `onError`.
   */
  constructor(
    onFrame: (data: Buffer, release: () => void) => void,
    poolSize: number,
    framing: RawFraming = 'raw',
    onError: (err: FramecastError) => void = () => {},
  ) {
    this.#onFrame = onFrame;
    this.#poolSize = poolSize;
    this.#prefix = framing === 'y4m' ? Y4M_FRAME.length : 0;
    this.#inHeader = framing === 'y4m';
    this.#onError = onError;
  }

  /** Starts cutting frames of `size` bytes (known once ffmpeg printed its output format). */
  setFrameSize(frameSize: number): void {
    if (this.#splitter) return;
    const size = frameSize + this.#prefix;
    const pool = new FramePool(size, this.#poolSize);
    this.#pool = pool;
    this.#splitter = new RawFrameSplitter(size, () => pool.take());
    this.#held.push(...this.#early.splice(0));
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
    this.#early.length = 0;
  }

  /** Bytes received but not yet part of an emitted frame. */
  get heldBytes(): number {
    let n = this.#splitter?.pendingBytes ?? 0;
    for (const b of this.#held) n += b.length;
    for (const b of this.#early) n += b.length;
    return n;
  }

  /** Copy path: a chunk from a stream. */
  push(chunk: Buffer): void {
    if (this.#closed || chunk.length === 0) return;
    if (this.#inHeader) {
      const end = chunk.indexOf(0x0a);
      this.#headerBytes += end === -1 ? chunk.length : end + 1;
      if (this.#headerBytes > Y4M_HEADER_MAX) return this.#fail('no YUV4MPEG2 header line');
      if (end === -1) return;
      this.#inHeader = false;
      chunk = chunk.subarray(end + 1);
      if (chunk.length === 0) return;
    }
    if (!this.#splitter) this.#early.push(chunk);
    else {
      this.#held.push(chunk);
      this.#drain();
    }
  }

  /** Direct path: where the next read should land (the rest of the frame being assembled). */
  buffer(): Buffer {
    const splitter = this.#splitter;
    // The socket asks for the next buffer right after the previous read: remember which kind it got.
    this.#readIntoScratch = !splitter || this.#held.length > 0 || this.#inHeader;
    if (this.#readIntoScratch) return (this.#scratch ??= Buffer.allocUnsafe(SCRATCH_BYTES));
    return (splitter as RawFrameSplitter).target();
  }

  /** Direct path: `n` bytes were read into buffer(). Returns false when reading should stop (paused). */
  filled(n: number): boolean {
    if (this.#closed) return false;
    if (this.#readIntoScratch) {
      // Keep a copy: the scratch buffer may take the next read.
      this.push(Buffer.from((this.#scratch as Buffer).subarray(0, n)));
    } else {
      (this.#splitter as RawFrameSplitter).commit(n, (data) => this.#emit(data));
    }
    return !this.#paused;
  }

  #drain(): void {
    const splitter = this.#splitter;
    if (!splitter) return;
    while (!this.#paused && !this.#closed && this.#held.length > 0) {
      const chunk = this.#held[0] as Buffer;
      // Never more than the rest of one frame at a time, so a pause lands on a frame boundary.
      const n = Math.min(chunk.length, splitter.frameSize - splitter.pendingBytes);
      if (n === chunk.length) this.#held.shift();
      else this.#held[0] = chunk.subarray(n);
      splitter.push(chunk.subarray(0, n), (data) => this.#emit(data));
    }
  }

  #emit(data: Buffer): void {
    if (this.#closed) return;
    const pool = this.#pool as FramePool;
    if (this.#prefix === 0) return this.#onFrame(data, () => pool.give(data));
    if (Y4M_FRAME.compare(data, 0, this.#prefix) !== 0) return this.#fail('a frame without FRAME');
    this.#onFrame(data.subarray(this.#prefix), () => pool.give(data));
  }

  #fail(why: string): void {
    this.close();
    this.#onError(
      new FramecastError('ERR_SOURCE_FAILED', `ffmpeg's YUV4MPEG2 output is out of step: ${why}`),
    );
  }
}
