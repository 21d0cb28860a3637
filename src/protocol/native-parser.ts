import { FramecastError } from '../errors.js';
import {
  ENVELOPE_BYTES,
  FRAME_HEADER_BYTES,
  MAX_HEADER_BYTES,
  MAX_TEXT_BYTES,
  MAX_META_WIRE_BYTES,
  META_HEADER_BYTES,
  MessageType,
  NATIVE_MAGIC,
  NATIVE_VERSION,
  PREAMBLE_BYTES,
  WELCOME_HEADER_BYTES,
  endReasonName,
  type EndReasonName,
} from './native.js';

/** A message the server sent, decoded. */
export type NativeMessage =
  | {
      type: 'welcome';
      helloReceivedAt: number;
      welcomeSentAt: number;
      server: string;
      /** The hello flags the server honours (HelloFlag bits). */
      flags: number;
    }
  | {
      type: 'frame';
      seq: number;
      width: number;
      height: number;
      capturedAt: number;
      encodedAt: number;
      sentAt: number;
      jpeg: Buffer;
      /** Bytes of the whole message on the wire. */
      wireBytes: number;
    }
  | { type: 'status'; code: number; value: number; message: string }
  | { type: 'end'; reason: EndReasonName | 'unknown'; message: string }
  | { type: 'error'; code: number; message: string }
  /** To a publisher: the server took frame `seq` (and every one before) and grants `window` in flight. */
  | { type: 'ack'; seq: number; window: number | null }
  /** A frame's metadata (kind 1, just before its FRAME) or an analyzer's annotation of it (kind 2). */
  | { type: 'meta'; seq: number; kind: number; name: string; capturedAt: number; json: Buffer };

const enum State {
  Preamble,
  Envelope,
  Header,
  Body,
  Skip,
}

const KNOWN_MIN_HEADER: Record<number, number> = {
  [MessageType.Welcome]: WELCOME_HEADER_BYTES,
  [MessageType.Frame]: FRAME_HEADER_BYTES,
  [MessageType.Status]: 8,
  [MessageType.End]: 4,
  [MessageType.Error]: 4,
  [MessageType.Ack]: 4,
  [MessageType.Meta]: META_HEADER_BYTES,
};

function protocolError(message: string): FramecastError {
  return new FramecastError('ERR_PROTOCOL', message);
}

/**
 * Incremental reader of the server side of the native protocol: the 8-byte preamble, then messages
 * (8-byte envelope, type header, body). Declared lengths are checked against limits before anything
 * is buffered; a frame body that arrives inside one chunk is not copied. Unknown message types are
 * skipped without buffering. After an error the parser stays failed.
 */
export class NativeParser {
  readonly maxFrameBytes: number;
  #state = State.Preamble;
  readonly #small = Buffer.alloc(Math.max(PREAMBLE_BYTES, ENVELOPE_BYTES));
  #smallFilled = 0;
  #type = 0;
  #flags = 0;
  #headerLength = 0;
  #bodyLength = 0;
  #header: Buffer = Buffer.alloc(0);
  #headerFilled = 0;
  #body: Buffer | null = null;
  #bodyFilled = 0;
  #skipLeft = 0;
  #version = 0;
  #failed: FramecastError | null = null;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** The version the server announced, 0 before the preamble. */
  get version(): number {
    return this.#version;
  }

  /** True between messages (after the preamble): the stream may end here. */
  get atBoundary(): boolean {
    return this.#state === State.Envelope && this.#smallFilled === 0;
  }

  /** Feeds a chunk; calls onMessage per message. Throws a FramecastError on a protocol violation. */
  push(chunk: Buffer, onMessage: (msg: NativeMessage) => void): void {
    if (this.#failed) throw this.#failed;
    try {
      this.#push(chunk, onMessage);
    } catch (err) {
      this.#failed = err as FramecastError;
      throw err;
    }
  }

  #push(chunk: Buffer, onMessage: (msg: NativeMessage) => void): void {
    let off = 0;
    while (off < chunk.length) {
      switch (this.#state) {
        case State.Preamble:
        case State.Envelope: {
          const want = this.#state === State.Preamble ? PREAMBLE_BYTES : ENVELOPE_BYTES;
          const n = Math.min(want - this.#smallFilled, chunk.length - off);
          chunk.copy(this.#small, this.#smallFilled, off, off + n);
          this.#smallFilled += n;
          off += n;
          if (this.#smallFilled < want) return;
          this.#smallFilled = 0;
          if (this.#state === State.Preamble) this.#onPreamble();
          else this.#onEnvelope(onMessage);
          break;
        }
        case State.Header: {
          const n = Math.min(this.#headerLength - this.#headerFilled, chunk.length - off);
          chunk.copy(this.#header, this.#headerFilled, off, off + n);
          this.#headerFilled += n;
          off += n;
          if (this.#headerFilled === this.#headerLength) this.#startBody(onMessage);
          break;
        }
        case State.Body: {
          const need = this.#bodyLength - this.#bodyFilled;
          if (this.#body === null && chunk.length - off >= need) {
            const body = chunk.subarray(off, off + need);
            off += need;
            this.#state = State.Envelope;
            this.#emit(body, onMessage);
            break;
          }
          this.#body ??= Buffer.allocUnsafe(this.#bodyLength);
          const n = Math.min(need, chunk.length - off);
          chunk.copy(this.#body, this.#bodyFilled, off, off + n);
          this.#bodyFilled += n;
          off += n;
          if (this.#bodyFilled === this.#bodyLength) {
            const body = this.#body;
            this.#body = null;
            this.#state = State.Envelope;
            this.#emit(body, onMessage);
          }
          break;
        }
        case State.Skip: {
          const n = Math.min(this.#skipLeft, chunk.length - off);
          this.#skipLeft -= n;
          off += n;
          if (this.#skipLeft === 0) this.#state = State.Envelope;
          break;
        }
      }
    }
  }

  #onPreamble(): void {
    if (!this.#small.subarray(0, 4).equals(NATIVE_MAGIC)) {
      throw protocolError('the server did not answer with the native preamble (FCST)');
    }
    this.#version = this.#small.readUInt8(4);
    this.#state = State.Envelope;
  }

  #onEnvelope(onMessage: (msg: NativeMessage) => void): void {
    const s = this.#small;
    this.#type = s.readUInt8(0);
    this.#flags = s.readUInt8(1);
    this.#headerLength = s.readUInt16BE(2);
    this.#bodyLength = s.readUInt32BE(4);
    const min = KNOWN_MIN_HEADER[this.#type];
    if ((this.#version < 1 || this.#version > NATIVE_VERSION) && this.#type !== MessageType.Error) {
      // Only ERROR keeps its layout across versions: anything else from another version is unreadable.
      throw protocolError(
        `the server speaks native protocol version ${this.#version}; this client speaks ${NATIVE_VERSION}`,
      );
    }
    if (min === undefined) {
      // A message type from a later revision: skip it without buffering.
      if (this.#bodyLength > this.maxFrameBytes) {
        throw protocolError(`unknown message type ${this.#type} of ${this.#bodyLength} bytes`);
      }
      this.#skipLeft = this.#headerLength + this.#bodyLength;
      this.#state = this.#skipLeft === 0 ? State.Envelope : State.Skip;
      return;
    }
    if (this.#headerLength < min || this.#headerLength > MAX_HEADER_BYTES) {
      throw protocolError(`message type ${this.#type} has a header of ${this.#headerLength} bytes`);
    }
    if (this.#type === MessageType.Frame) {
      if (this.#bodyLength > this.maxFrameBytes) {
        throw new FramecastError(
          'ERR_FRAME_TOO_LARGE',
          `frame length ${this.#bodyLength} bytes is over the limit of ${this.maxFrameBytes} bytes (--max-frame-size)`,
        );
      }
    } else if (this.#type === MessageType.Meta) {
      if (this.#bodyLength > MAX_META_WIRE_BYTES)
        throw protocolError(`META of ${this.#bodyLength} bytes is over ${MAX_META_WIRE_BYTES}`);
    } else if (this.#bodyLength > MAX_TEXT_BYTES) {
      throw protocolError(`message type ${this.#type} has a body of ${this.#bodyLength} bytes`);
    }
    this.#header = Buffer.allocUnsafe(this.#headerLength);
    this.#headerFilled = 0;
    this.#state = State.Header;
    if (this.#headerLength === 0) this.#startBody(onMessage);
  }

  #startBody(onMessage: (msg: NativeMessage) => void): void {
    this.#bodyFilled = 0;
    this.#body = null;
    this.#state = State.Body;
    if (this.#bodyLength === 0) {
      this.#state = State.Envelope;
      this.#emit(Buffer.alloc(0), onMessage);
    }
  }

  #emit(body: Buffer, onMessage: (msg: NativeMessage) => void): void {
    const h = this.#header;
    const text = (): string => body.toString('utf8');
    switch (this.#type) {
      case MessageType.Welcome:
        onMessage({
          type: 'welcome',
          helloReceivedAt: h.readDoubleBE(0),
          welcomeSentAt: h.readDoubleBE(8),
          server: text(),
          flags: this.#flags,
        });
        return;
      case MessageType.Frame:
        onMessage({
          type: 'frame',
          seq: h.readUInt32BE(0),
          width: h.readUInt16BE(4),
          height: h.readUInt16BE(6),
          capturedAt: h.readDoubleBE(8),
          encodedAt: h.readDoubleBE(16),
          sentAt: h.readDoubleBE(24),
          jpeg: body,
          wireBytes: ENVELOPE_BYTES + this.#headerLength + body.length,
        });
        return;
      case MessageType.Status:
        onMessage({ type: 'status', code: h.readUInt16BE(0), value: h.readUInt32BE(4), message: text() });
        return;
      case MessageType.End:
        onMessage({ type: 'end', reason: endReasonName(h.readUInt16BE(0)), message: text() });
        return;
      case MessageType.Error:
        onMessage({ type: 'error', code: h.readUInt16BE(0), message: text() });
        return;
      case MessageType.Ack:
        onMessage({ type: 'ack', seq: h.readUInt32BE(0), window: h.length >= 6 ? h.readUInt16BE(4) : null });
        return;
      case MessageType.Meta: {
        const n = h.readUInt8(5);
        if (META_HEADER_BYTES + n > h.length)
          throw protocolError(`META names ${n} bytes in a header of ${h.length}`);
        onMessage({
          type: 'meta',
          seq: h.readUInt32BE(0),
          kind: h.readUInt8(4),
          name: h.toString('latin1', META_HEADER_BYTES, META_HEADER_BYTES + n),
          capturedAt: h.readDoubleBE(8),
          json: body,
        });
        return;
      }
    }
  }
}
