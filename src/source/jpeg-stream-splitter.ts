import { FramecastError } from '../errors.js';

/** Largest JPEG accepted from ffmpeg's MJPEG stream by default (an 8K frame at q100 is well under). */
export const MAX_JPEG_BYTES = 16 * 1024 * 1024;

const enum State {
  /** Expecting the 0xFF of SOI at the start of a frame. */
  Soi0,
  /** Expecting 0xD8 after it. */
  Soi1,
  /** Expecting 0xFF introducing a marker (between segments). */
  Marker0,
  /** Read 0xFF: the next byte is the marker code (more 0xFF are fill bytes). */
  Marker1,
  /** First byte of a segment's length. */
  Len0,
  /** Second byte of a segment's length. */
  Len1,
  /** Skipping a segment's payload. */
  Skip,
  /** Entropy-coded data after SOS. */
  Entropy,
  /** Read 0xFF inside entropy-coded data. */
  EntropyFf,
}

/**
 * Cuts a stream of concatenated JPEG images (ffmpeg's `-f mjpeg` output) into whole images. It walks
 * the marker segments by their lengths, so bytes inside headers (quantisation tables, comments) are
 * never mistaken for markers; inside entropy-coded data 0xFF is always byte-stuffed (FF 00), so the
 * only markers there are restarts (FF D0-D7), fill bytes (FF FF) and the marker ending the scan.
 * Chunks may be cut anywhere. Images come out as copies (the caller may reuse its chunk).
 */
export class JpegStreamSplitter {
  readonly #maxBytes: number;
  /** Bytes allowed between two images (multipart headers and boundaries); -1: none (strict). */
  readonly #skipBetween: number;
  readonly #what: string;
  #skipped = 0;
  #state = State.Soi0;
  #skip = 0;
  #len = 0;
  /** Copies of the current image's bytes from earlier chunks. */
  #parts: Buffer[] = [];
  #partBytes = 0;
  #failed: FramecastError | null = null;

  /**
   * `maxBytes`: an image growing beyond it fails the stream (ERR_JPEG_TOO_LARGE). `skipBetween`: up
   * to this many bytes between images are skipped instead of failing (a multipart MJPEG body's
   * boundaries and part headers; they are text, so they never hold the FF D8 that starts an image).
   * `what` names the stream in errors.
   */
  constructor(maxBytes = MAX_JPEG_BYTES, opts: { skipBetween?: number; what?: string } = {}) {
    this.#maxBytes = maxBytes;
    this.#skipBetween = opts.skipBetween ?? -1;
    this.#what = opts.what ?? "ffmpeg's MJPEG stream";
  }

  /** Bytes of the image in progress held so far. */
  get pendingBytes(): number {
    return this.#partBytes;
  }

  /** True between images (nothing of a next image received yet). */
  get atBoundary(): boolean {
    return this.#state === State.Soi0 && this.#partBytes === 0;
  }

  /**
   * Feeds bytes; calls `onImage` for each image completed in them. Throws a FramecastError
   * (ERR_JPEG_STREAM for bytes that are not a JPEG stream, ERR_JPEG_TOO_LARGE) and keeps throwing it.
   * An `onImage` that returns false stops the push right after that image's last byte (the caller
   * reads what follows itself). Returns how many bytes of `chunk` were consumed.
   */
  push(chunk: Buffer, onImage: (jpeg: Buffer) => unknown): number {
    if (this.#failed) throw this.#failed;
    let start = 0; // where the current image's bytes begin in this chunk
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      switch (this.#state) {
        case State.Entropy: {
          const ff = chunk.indexOf(0xff, i);
          if (ff === -1) {
            i = n;
            continue;
          }
          i = ff + 1;
          this.#state = State.EntropyFf;
          continue;
        }
        case State.EntropyFf: {
          const b = chunk[i++] as number;
          if (b === 0x00 || (b >= 0xd0 && b <= 0xd7)) this.#state = State.Entropy;
          else if (b !== 0xff) this.#state = this.#marker(b);
          break;
        }
        case State.Skip: {
          const take = Math.min(this.#skip, n - i);
          i += take;
          this.#skip -= take;
          if (this.#skip === 0) this.#state = this.#len === 0xda ? State.Entropy : State.Marker0;
          continue;
        }
        case State.Soi0: {
          if (this.#skipBetween >= 0) {
            const ff = chunk.indexOf(0xff, i);
            const skip = (ff === -1 ? n : ff) - i;
            this.#skipped += skip;
            this.#expect(
              this.#skipped <= this.#skipBetween,
              `more than ${this.#skipBetween} bytes between two JPEG images`,
            );
            if (ff === -1) {
              i = n;
              start = n;
              continue;
            }
            i = ff;
          }
          start = i;
          this.#expect(chunk[i++] === 0xff, 'a JPEG image must start with FF D8');
          this.#state = State.Soi1;
          break;
        }
        case State.Soi1:
          if (this.#skipBetween >= 0 && chunk[i] !== 0xd8) {
            // An FF that does not start an image (it cannot occur in text, but be lenient): skip it.
            this.#skipped++;
            this.#parts = [];
            this.#partBytes = 0;
            this.#state = State.Soi0;
            continue;
          }
          if (chunk[i] === 0xff) {
            // A fill byte (JPEG allows any number of FF before a marker): the image starts at this FF.
            this.#parts = [];
            this.#partBytes = 0;
            start = i++;
            break;
          }
          this.#expect(chunk[i++] === 0xd8, 'a JPEG image must start with FF D8');
          this.#skipped = 0;
          this.#state = State.Marker0;
          break;
        case State.Marker0:
          this.#expect(chunk[i++] === 0xff, 'expected a JPEG marker');
          this.#state = State.Marker1;
          break;
        case State.Marker1: {
          const b = chunk[i++] as number;
          if (b !== 0xff) this.#state = this.#marker(b);
          break;
        }
        case State.Len0:
          this.#skip = (chunk[i++] as number) << 8;
          this.#state = State.Len1;
          break;
        case State.Len1: {
          const length = this.#skip | (chunk[i++] as number);
          this.#expect(length >= 2, `bad JPEG segment length ${length}`);
          this.#skip = length - 2;
          this.#state = this.#skip === 0 ? this.#afterSegment() : State.Skip;
          break;
        }
      }
      if (this.#state === State.Soi0 && this.#len === -1) {
        // EOI just read: chunk[start..i) ends the image.
        this.#len = 0;
        if (this.#complete(chunk.subarray(start, i), onImage) === false) return i;
        start = i;
      }
    }
    // Keep the unfinished image's tail (a copy: the chunk may be reused).
    if (this.#state !== State.Soi0) {
      const tail = chunk.subarray(start, n);
      if (tail.length > 0) {
        this.#checkSize(tail.length);
        this.#parts.push(Buffer.from(tail));
        this.#partBytes += tail.length;
      }
    }
    return n;
  }

  /** State after a marker code `b` (the 0xFF before it was read). */
  #marker(b: number): State {
    if (b === 0xd9) {
      this.#len = -1; // signals "image complete" to the loop
      return State.Soi0;
    }
    this.#expect(b !== 0xd8 && b !== 0x00, `unexpected JPEG marker FF ${b.toString(16).toUpperCase()}`);
    // Standalone markers carry no length.
    if (b === 0x01 || (b >= 0xd0 && b <= 0xd7)) return State.Marker0;
    this.#len = b;
    return State.Len0;
  }

  #afterSegment(): State {
    return this.#len === 0xda ? State.Entropy : State.Marker0;
  }

  #complete(last: Buffer, onImage: (jpeg: Buffer) => unknown): unknown {
    this.#checkSize(last.length);
    const parts = this.#parts;
    const image = parts.length === 0 ? Buffer.from(last) : Buffer.concat([...parts, last]);
    this.#parts = [];
    this.#partBytes = 0;
    return onImage(image);
  }

  #checkSize(more: number): void {
    if (this.#partBytes + more > this.#maxBytes) {
      this.#fail(
        new FramecastError(
          'ERR_JPEG_TOO_LARGE',
          `a JPEG image in ${this.#what} exceeds ${this.#maxBytes} bytes`,
        ),
      );
    }
  }

  #expect(ok: boolean, why: string): void {
    if (!ok) this.#fail(new FramecastError('ERR_JPEG_STREAM', `${this.#what} is malformed: ${why}`));
  }

  #fail(err: FramecastError): never {
    this.#failed = err;
    this.#parts = [];
    this.#partBytes = 0;
    throw err;
  }
}
