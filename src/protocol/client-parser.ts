/**
 * The server's reader of what a native client sends after its hello: ACK messages only. Incremental
 * (any split of the bytes gives the same result), with hard caps checked on the envelope before any
 * byte of a header is kept, so a hostile client costs the server a few bytes of state.
 */
import { ACK_HEADER_BYTES, ENVELOPE_BYTES, MAX_ACK_WINDOW, MessageType } from './native.js';

/** Largest ACK header accepted: later versions may append fields, a reader skips what it does not know. */
export const MAX_CLIENT_HEADER_BYTES = 64;

/** What the client parser reports: an ACK, or why the client must be dropped. */
export type ClientMessage = {
  type: 'ack';
  seq: number;
  /** Frames the client wants in flight (1..MAX_ACK_WINDOW), or null when the ACK carries no window. */
  window: number | null;
};

/** A client broke the rules: the server answers ERROR (BadMessage) with this reason and closes. */
export class ClientProtocolError extends Error {}

/** Incremental parser of client-to-server messages. After an error it stays failed. */
export class ClientMessageParser {
  readonly #head = Buffer.alloc(ENVELOPE_BYTES + MAX_CLIENT_HEADER_BYTES);
  #filled = 0;
  /** Bytes of the current message: the envelope until it is read, then envelope + header. */
  #want = ENVELOPE_BYTES;
  #failed: ClientProtocolError | null = null;

  /** True between messages: the client may close here. */
  get atBoundary(): boolean {
    return this.#filled === 0;
  }

  /** Feeds a chunk; calls onMessage per ACK. Throws a ClientProtocolError on anything else. */
  push(chunk: Buffer, onMessage: (msg: ClientMessage) => void): void {
    if (this.#failed) throw this.#failed;
    try {
      let off = 0;
      while (off < chunk.length) {
        const n = Math.min(this.#want - this.#filled, chunk.length - off);
        chunk.copy(this.#head, this.#filled, off, off + n);
        this.#filled += n;
        off += n;
        if (this.#filled < this.#want) return;
        if (this.#want === ENVELOPE_BYTES) this.#onEnvelope();
        if (this.#filled === this.#want) {
          const seq = this.#head.readUInt32BE(ENVELOPE_BYTES);
          const window =
            this.#want >= ENVELOPE_BYTES + 6
              ? Math.max(1, Math.min(MAX_ACK_WINDOW, this.#head.readUInt16BE(ENVELOPE_BYTES + 4)))
              : null;
          this.#filled = 0;
          this.#want = ENVELOPE_BYTES;
          onMessage({ type: 'ack', seq, window });
        }
      }
    } catch (err) {
      this.#failed = err as ClientProtocolError;
      throw err;
    }
  }

  #onEnvelope(): void {
    const h = this.#head;
    const type = h.readUInt8(0);
    const headerLength = h.readUInt16BE(2);
    const bodyLength = h.readUInt32BE(4);
    if (type !== MessageType.Ack) {
      throw new ClientProtocolError(`message type ${type} is not accepted from a client (only ACK, 6)`);
    }
    if (headerLength < ACK_HEADER_BYTES || headerLength > MAX_CLIENT_HEADER_BYTES) {
      throw new ClientProtocolError(
        `ACK header of ${headerLength} bytes (${ACK_HEADER_BYTES}..${MAX_CLIENT_HEADER_BYTES})`,
      );
    }
    if (bodyLength !== 0) throw new ClientProtocolError(`ACK with a body of ${bodyLength} bytes`);
    this.#want = ENVELOPE_BYTES + headerLength;
  }
}
