/**
 * The native framecast protocol, versions 1 and 2 (2 adds a stream name to the hello; every other
 * message is the same): pure encoders of the messages after the hello (no sockets). The byte
 * layouts and code tables are in native-layout.ts, the hello in native-hello.ts; both are
 * re-exported here. Layouts are documented in docs/PROTOCOL.md ("Native protocol"); everything is
 * big-endian, times are float64 milliseconds since the Unix epoch on the sender's wall clock.
 */
import type { Frame } from '../hub/frame.js';
import { nowMs } from '../util/clock.js';
import {
  ACK_HEADER_BYTES,
  ACK_WINDOW_HEADER_BYTES,
  ENVELOPE_BYTES,
  EndCode,
  FRAME_HEADER_BYTES,
  FRAME_PREFIX_BYTES,
  FRAME_SENT_AT_OFFSET,
  MAX_ACK_WINDOW,
  MAX_TEXT_BYTES,
  META_HEADER_BYTES,
  MessageType,
  NATIVE_MAGIC,
  NATIVE_VERSION,
  PREAMBLE_BYTES,
  WELCOME_HEADER_BYTES,
  type EndReasonName,
} from './native-layout.js';

export * from './native-layout.js';
export * from './native-hello.js';

/** The server's preamble for a connection speaking `version`. */
export function encodePreamble(version = NATIVE_VERSION): Buffer {
  const out = Buffer.alloc(PREAMBLE_BYTES);
  NATIVE_MAGIC.copy(out, 0);
  out.writeUInt8(version, 4);
  return out;
}

function envelope(type: number, headerLength: number, bodyLength: number, flags = 0): Buffer {
  const out = Buffer.alloc(ENVELOPE_BYTES + headerLength);
  out.writeUInt8(type, 0);
  out.writeUInt8(flags, 1);
  out.writeUInt16BE(headerLength, 2);
  out.writeUInt32BE(bodyLength, 4);
  return out;
}

function text(message: string): Buffer {
  const b = Buffer.from(message, 'utf8');
  // Cut on a character boundary so a reader never sees half a UTF-8 sequence.
  return b.length <= MAX_TEXT_BYTES ? b : Buffer.from(b.subarray(0, MAX_TEXT_BYTES).toString('utf8'), 'utf8');
}

/**
 * WELCOME: t1 = server time the hello arrived, t2 = server time the welcome left; body = server name;
 * envelope flags = the hello flags the server honours on this connection.
 */
export function encodeWelcome(
  helloReceivedAt: number,
  welcomeSentAt: number,
  server: string,
  flags = 0,
): Buffer {
  const body = text(server);
  const head = envelope(MessageType.Welcome, WELCOME_HEADER_BYTES, body.length, flags);
  head.writeDoubleBE(helloReceivedAt, ENVELOPE_BYTES);
  head.writeDoubleBE(welcomeSentAt, ENVELOPE_BYTES + 8);
  return Buffer.concat([head, body]);
}

/** ERROR: a code from ErrorCode and a one-line reason; the server closes after it. */
export function encodeError(code: number, message: string): Buffer {
  const body = text(message);
  const head = envelope(MessageType.Error, 4, body.length);
  head.writeUInt16BE(code, ENVELOPE_BYTES);
  return Buffer.concat([head, body]);
}

/** STATUS: a code from StatusCode, a number (waiting position), and a human line. */
export function encodeStatus(code: number, value: number, message: string): Buffer {
  const body = text(message);
  const head = envelope(MessageType.Status, 8, body.length);
  head.writeUInt16BE(code, ENVELOPE_BYTES);
  head.writeUInt32BE(value >>> 0, ENVELOPE_BYTES + 4);
  return Buffer.concat([head, body]);
}

/** END: the stream is over (a reason from EndCode); the server closes after it. */
export function encodeEnd(reason: EndReasonName, message = ''): Buffer {
  const body = text(message);
  const head = envelope(MessageType.End, 4, body.length);
  head.writeUInt16BE(EndCode[reason], ENVELOPE_BYTES);
  return Buffer.concat([head, body]);
}

/** ACK (client to server): the client is done with frame `seq` (and every frame sent before it). */
export function encodeAck(seq: number, window?: number): Buffer {
  if (window === undefined) {
    const out = envelope(MessageType.Ack, ACK_HEADER_BYTES, 0);
    out.writeUInt32BE(seq >>> 0, ENVELOPE_BYTES);
    return out;
  }
  const out = envelope(MessageType.Ack, ACK_WINDOW_HEADER_BYTES, 0);
  out.writeUInt32BE(seq >>> 0, ENVELOPE_BYTES);
  out.writeUInt16BE(Math.max(1, Math.min(MAX_ACK_WINDOW, Math.round(window))), ENVELOPE_BYTES + 4);
  out.writeUInt16BE(0, ENVELOPE_BYTES + 6);
  return out;
}

/** A META message's fields: a frame's metadata (name '') or an analyzer's annotation. */
export interface MetaFields {
  seq: number;
  kind: number;
  /** The analyzer's name (ASCII, at most 64 bytes); '' for a publisher's metadata. */
  name: string;
  capturedAt: number;
  /** One JSON object, UTF-8. */
  json: Buffer;
}

/** META: metadata of frame `seq` (sent just before its FRAME) or an annotation of it. */
export function encodeMeta(m: MetaFields): Buffer {
  const name = Buffer.from(m.name, 'latin1');
  const head = envelope(MessageType.Meta, META_HEADER_BYTES + name.length, m.json.length);
  const o = ENVELOPE_BYTES;
  head.writeUInt32BE(m.seq >>> 0, o);
  head.writeUInt8(m.kind, o + 4);
  head.writeUInt8(name.length, o + 5);
  head.writeDoubleBE(m.capturedAt, o + 8);
  name.copy(head, o + META_HEADER_BYTES);
  return Buffer.concat([head, m.json]);
}

/**
 * One whole META message in one buffer (a bus message), decoded; null when it is not exactly one META
 * (wrong type, lengths that disagree with the buffer, a name over 64 bytes, a capture time that is not
 * a number).
 */
export function decodeMeta(m: Buffer): MetaFields | null {
  if (m.length < ENVELOPE_BYTES + META_HEADER_BYTES || m.readUInt8(0) !== MessageType.Meta) return null;
  const h = m.readUInt16BE(2);
  const b = m.readUInt32BE(4);
  if (h < META_HEADER_BYTES || h > META_HEADER_BYTES + 64 || ENVELOPE_BYTES + h + b !== m.length) return null;
  const o = ENVELOPE_BYTES;
  const n = m.readUInt8(o + 5);
  const capturedAt = m.readDoubleBE(o + 8);
  if (META_HEADER_BYTES + n > h || !Number.isFinite(capturedAt)) return null;
  return {
    seq: m.readUInt32BE(o),
    kind: m.readUInt8(o + 4),
    name: m.toString('latin1', o + META_HEADER_BYTES, o + META_HEADER_BYTES + n),
    capturedAt,
    json: m.subarray(o + h),
  };
}

/** The fields of a frame the native header carries. */
export interface NativeFrameFields {
  seq: number;
  width: number;
  height: number;
  capturedAt: number;
  encodedAt: number;
  jpeg: Buffer;
}

/** The 40 bytes before the JPEG in a FRAME message (envelope + header), for a given send time. */
export function encodeFrameHeader(frame: NativeFrameFields, sentAt: number): Buffer {
  const out = envelope(MessageType.Frame, FRAME_HEADER_BYTES, frame.jpeg.length);
  const o = ENVELOPE_BYTES;
  out.writeUInt32BE(frame.seq >>> 0, o);
  out.writeUInt16BE(frame.width, o + 4);
  out.writeUInt16BE(frame.height, o + 6);
  out.writeDoubleBE(frame.capturedAt, o + 8);
  out.writeDoubleBE(frame.encodedAt, o + 16);
  out.writeDoubleBE(sentAt, o + 24);
  return out;
}

/**
 * A whole FRAME message (header + JPEG) in one buffer. Pure: the same input gives the same bytes.
 * Used for the per-frame cached wire form and by message-based transports (WebSocket).
 */
export function encodeNativeFrame(frame: NativeFrameFields, sentAt: number): Buffer {
  return Buffer.concat(
    [encodeFrameHeader(frame, sentAt), frame.jpeg],
    FRAME_PREFIX_BYTES + frame.jpeg.length,
  );
}

/**
 * A FRAME message as three slices of an already built message, with `sentAt` replaced: no copy of
 * the JPEG, 8 new bytes. Write the parts in order (corked/writev) to send the message.
 */
export function stampNativeFrame(message: Buffer, sentAt: number): Buffer[] {
  const stamp = Buffer.allocUnsafe(8);
  stamp.writeDoubleBE(sentAt, 0);
  return [message.subarray(0, FRAME_SENT_AT_OFFSET), stamp, message.subarray(FRAME_SENT_AT_OFFSET + 8)];
}

/**
 * The frame's FRAME message, built once per frame and shared by every native client (TCP, WebSocket).
 * Its sentAt field holds the time it was built; per-connection senders restamp it with
 * `stampNativeFrame` at the moment they hand it to their socket.
 */
export function nativeFrameWire(frame: Frame): Buffer {
  return frame.wire('native', (f) => encodeNativeFrame(f, nowMs()));
}
