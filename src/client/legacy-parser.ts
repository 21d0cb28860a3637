import { FramecastError } from '../errors.js';

/** Default cap on one frame's declared length (16 MiB). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

const enum State {
  Header,
  Body,
}

/**
 * Incremental reader of the seed framing (uint32 BE length + payload). A small state machine:
 * the declared length is checked against `maxFrameBytes` before anything is buffered, the body is
 * copied once into a buffer of its final size, and a whole frame inside one chunk is not copied.
 * Emits the raw payload (base64 text for the seed's framing); decoding is the caller's business.
 */
export class LegacyParser {
  readonly maxFrameBytes: number;
  #state = State.Header;
  readonly #header = Buffer.alloc(4);
  #headerFilled = 0;
  #body: Buffer | null = null;
  #bodyFilled = 0;
  #bodyLength = 0;
  #failed: FramecastError | null = null;

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** True between frames (a stream may end here). */
  get atBoundary(): boolean {
    return this.#state === State.Header && this.#headerFilled === 0;
  }

  /** Bytes of the frame in progress, for truncation messages. */
  get progress(): { have: number; want: number } {
    return this.#state === State.Header
      ? { have: this.#headerFilled, want: 4 }
      : { have: this.#bodyFilled, want: this.#bodyLength };
  }

  /**
   * Feeds a chunk. Calls onPayload per complete frame. Throws a FramecastError (ERR_FRAME_TOO_LARGE)
   * when a declared length is over the limit; after that the parser stays failed. With `onUpgrade`, a
   * length prefix that spells `onUpgrade.magic` (never a frame length under the cap) ends the seed framing
   * at that frame boundary: onUpgrade gets the bytes from the magic on, and the parser is done.
   */
  push(
    chunk: Buffer,
    onPayload: (payload: Buffer) => void,
    onUpgrade?: { magic: Buffer; upgrade: (rest: Buffer) => void },
  ): void {
    if (this.#failed) throw this.#failed;
    let off = 0;
    const len = chunk.length;
    while (off < len) {
      if (this.#state === State.Header) {
        if (this.#headerFilled === 0 && len - off >= 4) {
          this.#bodyLength = chunk.readUInt32BE(off);
          off += 4;
        } else {
          const n = Math.min(4 - this.#headerFilled, len - off);
          chunk.copy(this.#header, this.#headerFilled, off, off + n);
          this.#headerFilled += n;
          off += n;
          if (this.#headerFilled < 4) return;
          this.#bodyLength = this.#header.readUInt32BE(0);
        }
        this.#headerFilled = 0;
        if (onUpgrade && this.#bodyLength === onUpgrade.magic.readUInt32BE(0)) {
          onUpgrade.upgrade(Buffer.concat([onUpgrade.magic, chunk.subarray(off)]));
          return;
        }
        if (this.#bodyLength > this.maxFrameBytes) {
          this.#failed = new FramecastError(
            'ERR_FRAME_TOO_LARGE',
            `frame length ${this.#bodyLength} bytes is over the limit of ${this.maxFrameBytes} bytes (--max-frame-size)`,
          );
          throw this.#failed;
        }
        this.#state = State.Body;
        this.#bodyFilled = 0;
        this.#body = null;
        if (this.#bodyLength === 0) {
          this.#state = State.Header;
          onPayload(Buffer.alloc(0));
          continue;
        }
        if (len - off >= this.#bodyLength) {
          const payload = chunk.subarray(off, off + this.#bodyLength);
          off += this.#bodyLength;
          this.#state = State.Header;
          onPayload(payload);
          continue;
        }
        this.#body = Buffer.allocUnsafe(this.#bodyLength);
      }
      const body = this.#body as Buffer;
      const n = Math.min(this.#bodyLength - this.#bodyFilled, len - off);
      chunk.copy(body, this.#bodyFilled, off, off + n);
      this.#bodyFilled += n;
      off += n;
      if (this.#bodyFilled === this.#bodyLength) {
        this.#body = null;
        this.#state = State.Header;
        onPayload(body);
      }
    }
  }

  /** Call at end of stream: throws ERR_TRUNCATED_FRAME when it ended inside a frame. */
  finish(): void {
    if (this.#failed || this.atBoundary) return;
    const { have, want } = this.progress;
    const where = this.#state === State.Header ? 'length prefix' : 'frame';
    throw new FramecastError(
      'ERR_TRUNCATED_FRAME',
      `stream ended inside a ${where}: got ${have} of ${want} bytes`,
    );
  }
}
