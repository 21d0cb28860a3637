/**
 * The server's reader of what a native client sends after its hello: ACK messages, and META
 * annotations from a client whose hello asked to annotate. Incremental (any split of the bytes gives
 * the same result), with hard caps checked on the envelope before any byte of a header or body is
 * kept, so a hostile client costs the server at most one capped annotation of state.
 */
import {
  ACK_HEADER_BYTES,
  ENVELOPE_BYTES,
  MAX_ACK_WINDOW,
  MAX_ANALYZER_NAME_BYTES,
  MAX_META_WIRE_BYTES,
  META_HEADER_BYTES,
  MessageType,
  MetaKind,
} from './native.js';

/** Largest ACK header accepted: later versions may append fields, a reader skips what it does not know. */
export const MAX_CLIENT_HEADER_BYTES = 64;
/** Largest META header accepted from a client: the fixed part and the longest analyzer name. */
const MAX_META_HEADER_BYTES = META_HEADER_BYTES + MAX_ANALYZER_NAME_BYTES;

/** What the client parser reports: an ACK or an annotation; anything else is a ClientProtocolError. */
export type ClientMessage =
  | {
      type: 'ack';
      seq: number;
      /** Frames the client wants in flight (1..MAX_ACK_WINDOW), or null when the ACK carries no window. */
      window: number | null;
    }
  | { type: 'annotation'; seq: number; analyzer: string; capturedAt: number; json: Buffer };

/** A client broke the rules: the server answers ERROR (BadMessage) with this reason and closes. */
export class ClientProtocolError extends Error {}

/** Incremental parser of client-to-server messages. After an error it stays failed. */
export class ClientMessageParser {
  readonly #head = Buffer.alloc(ENVELOPE_BYTES + MAX_META_HEADER_BYTES);
  readonly #maxBody: number;
  #filled = 0;
  /** Bytes of the current message's envelope and header: the envelope until it is read. */
  #want = ENVELOPE_BYTES;
  #body: Buffer | null = null;
  #bodyFilled = 0;
  #failed: ClientProtocolError | null = null;

  /**
   * `annotateMaxBytes`: the client may send annotations (META kind 2) with a JSON body of at most
   * this many bytes; null (default): ACK only.
   */
  constructor(annotateMaxBytes: number | null = null) {
    this.#maxBody = annotateMaxBytes === null ? -1 : Math.min(annotateMaxBytes, MAX_META_WIRE_BYTES);
  }

  /** True between messages: the client may close here. */
  get atBoundary(): boolean {
    return this.#filled === 0 && this.#body === null;
  }

  /** Feeds a chunk; calls onMessage per message. Throws a ClientProtocolError on anything else. */
  push(chunk: Buffer, onMessage: (msg: ClientMessage) => void): void {
    if (this.#failed) throw this.#failed;
    try {
      let off = 0;
      while (off < chunk.length) {
        if (this.#body !== null) {
          const n = Math.min(this.#body.length - this.#bodyFilled, chunk.length - off);
          chunk.copy(this.#body, this.#bodyFilled, off, off + n);
          this.#bodyFilled += n;
          off += n;
          if (this.#bodyFilled === this.#body.length) this.#emitMeta(onMessage);
          continue;
        }
        const n = Math.min(this.#want - this.#filled, chunk.length - off);
        chunk.copy(this.#head, this.#filled, off, off + n);
        this.#filled += n;
        off += n;
        if (this.#filled < this.#want) return;
        if (this.#want === ENVELOPE_BYTES) this.#onEnvelope();
        if (this.#filled === this.#want) this.#onHeader(onMessage);
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
    if (type === MessageType.Meta && this.#maxBody >= 0) {
      if (headerLength < META_HEADER_BYTES || headerLength > MAX_META_HEADER_BYTES)
        throw new ClientProtocolError(
          `META header of ${headerLength} bytes (${META_HEADER_BYTES}..${MAX_META_HEADER_BYTES})`,
        );
      if (bodyLength === 0 || bodyLength > this.#maxBody)
        throw new ClientProtocolError(`annotation of ${bodyLength} bytes (1..${this.#maxBody})`);
      this.#want = ENVELOPE_BYTES + headerLength;
      return;
    }
    if (type !== MessageType.Ack) {
      const accepted = this.#maxBody >= 0 ? 'ACK, 6, and META, 7' : 'ACK, 6';
      throw new ClientProtocolError(
        `message type ${type} is not accepted from this client (only ${accepted})`,
      );
    }
    if (headerLength < ACK_HEADER_BYTES || headerLength > MAX_CLIENT_HEADER_BYTES) {
      throw new ClientProtocolError(
        `ACK header of ${headerLength} bytes (${ACK_HEADER_BYTES}..${MAX_CLIENT_HEADER_BYTES})`,
      );
    }
    if (bodyLength !== 0) throw new ClientProtocolError(`ACK with a body of ${bodyLength} bytes`);
    this.#want = ENVELOPE_BYTES + headerLength;
  }

  #onHeader(onMessage: (msg: ClientMessage) => void): void {
    const h = this.#head;
    if (h.readUInt8(0) === MessageType.Meta) {
      const kind = h.readUInt8(ENVELOPE_BYTES + 4);
      const n = h.readUInt8(ENVELOPE_BYTES + 5);
      if (kind !== MetaKind.Annotation)
        throw new ClientProtocolError(`a client sends META of kind ${MetaKind.Annotation} only, not ${kind}`);
      if (META_HEADER_BYTES + n > this.#want - ENVELOPE_BYTES)
        throw new ClientProtocolError(`META names ${n} bytes in a header of ${this.#want - ENVELOPE_BYTES}`);
      this.#body = Buffer.allocUnsafe(h.readUInt32BE(4));
      this.#bodyFilled = 0;
      return;
    }
    const seq = h.readUInt32BE(ENVELOPE_BYTES);
    const window =
      this.#want >= ENVELOPE_BYTES + 6
        ? Math.max(1, Math.min(MAX_ACK_WINDOW, h.readUInt16BE(ENVELOPE_BYTES + 4)))
        : null;
    this.#filled = 0;
    this.#want = ENVELOPE_BYTES;
    onMessage({ type: 'ack', seq, window });
  }

  #emitMeta(onMessage: (msg: ClientMessage) => void): void {
    const h = this.#head;
    const o = ENVELOPE_BYTES;
    const n = h.readUInt8(o + 5);
    const json = this.#body as Buffer;
    this.#body = null;
    this.#filled = 0;
    this.#want = ENVELOPE_BYTES;
    onMessage({
      type: 'annotation',
      seq: h.readUInt32BE(o),
      analyzer: h.toString('latin1', o + META_HEADER_BYTES, o + META_HEADER_BYTES + n),
      capturedAt: h.readDoubleBE(o + 8),
      json,
    });
  }
}
