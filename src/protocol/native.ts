/**
 * The native framecast protocol, versions 1 and 2 (2 adds a stream name to the hello; every other
 * message is the same): pure encoders and the server's hello decoder (no sockets).
 * Byte layouts are documented in docs/PROTOCOL.md ("Native protocol"); everything is big-endian,
 * times are float64 milliseconds since the Unix epoch on the sender's wall clock.
 */
import type { Frame } from '../hub/frame.js';
import { nowMs } from '../util/clock.js';

/** The 4 bytes that open a client's hello and the server's preamble. */
export const NATIVE_MAGIC = Buffer.from('FCST', 'latin1');
/** The highest protocol version this code speaks. */
export const NATIVE_VERSION = 2;
/** Longest stream name a version-2 hello may carry (bytes). */
export const MAX_STREAM_NAME_BYTES = 64;
/** Stream names a hello may carry (the server's own rule for naming streams). */
const STREAM_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Fixed part of the hello: magic, version, flags, token length, client time. */
export const HELLO_FIXED_BYTES = 16;
/** Longest token a hello may carry (bytes of UTF-8). */
export const MAX_TOKEN_BYTES = 1024;
/** Largest possible hello (version 2: with a stream name). */
export const MAX_HELLO_BYTES = HELLO_FIXED_BYTES + MAX_TOKEN_BYTES + 1 + MAX_STREAM_NAME_BYTES;
/** The server's preamble: magic, version, 3 reserved bytes. */
export const PREAMBLE_BYTES = 8;
/** Every message after the preamble starts with type, flags, header length, body length. */
export const ENVELOPE_BYTES = 8;
/** Type-specific header of a FRAME message in version 1. */
export const FRAME_HEADER_BYTES = 32;
/** Type-specific header of a WELCOME message in version 1. */
export const WELCOME_HEADER_BYTES = 16;
/** Offset of the 8-byte sentAt field inside a whole FRAME message (envelope included). */
export const FRAME_SENT_AT_OFFSET = ENVELOPE_BYTES + 24;
/** Bytes before the JPEG in a FRAME message. */
export const FRAME_PREFIX_BYTES = ENVELOPE_BYTES + FRAME_HEADER_BYTES;
/** Cap on the UTF-8 text of WELCOME/STATUS/END/ERROR bodies that a reader accepts. */
export const MAX_TEXT_BYTES = 4096;
/** Cap on any type-specific header a reader accepts (later versions may append fields). */
export const MAX_HEADER_BYTES = 1024;

/** Message types (envelope byte 0). Readers skip types they do not know. ACK goes client to server. */
export const MessageType = { Welcome: 1, Frame: 2, Status: 3, End: 4, Error: 5, Ack: 6 } as const;

/** Hello flag bits (byte 5). The server echoes the bits it honours in the WELCOME envelope's flags. */
export const HelloFlag = { Ack: 0x01, Publish: 0x02 } as const;

/**
 * Frames an acknowledging client may have unacknowledged (sent by the server, not yet ACKed). Two keep
 * one frame on the way while the client works on the other, and bound how stale a slow client's next
 * frame can be, whatever the kernel's socket buffers would hold.
 */
export const ACK_WINDOW = 2;
/** Largest window a client may ask for in an ACK (bounds how much a client can make the server buffer). */
export const MAX_ACK_WINDOW = 32;
/** Smallest ACK header: the seq the client is done with. */
export const ACK_HEADER_BYTES = 4;
/** ACK header with the client's window: seq (uint32), window (uint16), reserved (uint16). */
export const ACK_WINDOW_HEADER_BYTES = 8;
/** A whole ACK message in version 1 without a window. */
export const ACK_BYTES = ENVELOPE_BYTES + ACK_HEADER_BYTES;

/** ERROR codes: why the server refused or dropped the client. */
export const ErrorCode = {
  BadHello: 1,
  UnsupportedVersion: 2,
  TokenRequired: 3,
  TokenInvalid: 4,
  ServerFull: 5,
  HandshakeTimeout: 6,
  ShuttingDown: 7,
  Internal: 8,
  BadMessage: 9,
  UnknownStream: 10,
  BadFrame: 11,
  PublisherActive: 12,
  NotPublishable: 13,
  PublisherIdle: 14,
} as const;

/** STATUS codes; `value` is the waiting position for Waiting, else 0. Readers ignore unknown codes. */
export const StatusCode = { Waiting: 1, NoSignal: 2, SignalRestored: 3 } as const;

/** END reasons: why the stream ended cleanly. */
export const EndCode = { eof: 1, stopped: 2, 'source-error': 3, shutdown: 4, kicked: 5, removed: 6 } as const;

/** Names of END reasons. */
export type EndReasonName = keyof typeof EndCode;

/** The END reason name for a code, or `unknown`. */
export function endReasonName(code: number): EndReasonName | 'unknown' {
  for (const [name, c] of Object.entries(EndCode)) if (c === code) return name as EndReasonName;
  return 'unknown';
}

/** What a client says in its hello. */
export interface Hello {
  version: number;
  flags: number;
  /** Client wall-clock ms when it sent the hello (t0 of the clock exchange). */
  clientTime: number;
  /** Empty when the client has none. */
  token: string;
  /** The stream asked for (version 2), or null for the server's default stream. */
  stream: string | null;
}

/** Result of decoding the bytes a client sent so far. */
export type HelloResult =
  | { status: 'incomplete' }
  | { status: 'ok'; hello: Hello; consumed: number }
  | { status: 'error'; code: number; message: string };

/**
 * Builds a client hello. Without a stream it is a version-1 hello (what every framecast server
 * understands); naming a stream makes it version 2, which appends the name. Throws RangeError when
 * the token or the name breaks its limits.
 */
export function encodeHello(
  token: string,
  clientTime: number,
  version?: number,
  flags = 0,
  stream: string | null = null,
): Buffer {
  const v = version ?? (stream === null ? 1 : 2);
  const tok = Buffer.from(token, 'utf8');
  if (tok.length > MAX_TOKEN_BYTES) throw new RangeError(`token is over ${MAX_TOKEN_BYTES} bytes`);
  if (stream !== null && (v < 2 || !STREAM_NAME_RE.test(stream)))
    throw new RangeError(`stream name ${JSON.stringify(stream)} is not a valid name (or needs version 2)`);
  const name = v >= 2 ? Buffer.from(stream ?? '', 'latin1') : Buffer.alloc(0);
  const out = Buffer.alloc(HELLO_FIXED_BYTES + tok.length + (v >= 2 ? 1 + name.length : 0));
  NATIVE_MAGIC.copy(out, 0);
  out.writeUInt8(v, 4);
  out.writeUInt8(flags, 5);
  out.writeUInt16BE(tok.length, 6);
  out.writeDoubleBE(clientTime, 8);
  tok.copy(out, HELLO_FIXED_BYTES);
  if (v >= 2) {
    out.writeUInt8(name.length, HELLO_FIXED_BYTES + tok.length);
    name.copy(out, HELLO_FIXED_BYTES + tok.length + 1);
  }
  return out;
}

/** Decodes a hello from the start of `buf`; checks the declared token length before waiting for it. */
export function decodeHello(buf: Buffer): HelloResult {
  const n = Math.min(buf.length, NATIVE_MAGIC.length);
  if (!buf.subarray(0, n).equals(NATIVE_MAGIC.subarray(0, n))) {
    return { status: 'error', code: ErrorCode.BadHello, message: 'hello does not start with FCST' };
  }
  if (buf.length < HELLO_FIXED_BYTES) return { status: 'incomplete' };
  const tokenLength = buf.readUInt16BE(6);
  if (tokenLength > MAX_TOKEN_BYTES) {
    return {
      status: 'error',
      code: ErrorCode.BadHello,
      message: `token length ${tokenLength} is over ${MAX_TOKEN_BYTES} bytes`,
    };
  }
  const clientTime = buf.readDoubleBE(8);
  if (!Number.isFinite(clientTime)) {
    return { status: 'error', code: ErrorCode.BadHello, message: 'client time is not a finite number' };
  }
  const version = buf.readUInt8(4);
  const tokenEnd = HELLO_FIXED_BYTES + tokenLength;
  let total = tokenEnd;
  let stream: string | null = null;
  if (version >= 2) {
    // Version 2 (and later, which must keep it): one byte of name length, then the name.
    if (buf.length < tokenEnd + 1) return { status: 'incomplete' };
    const nameLength = buf.readUInt8(tokenEnd);
    if (nameLength > MAX_STREAM_NAME_BYTES) {
      return {
        status: 'error',
        code: ErrorCode.BadHello,
        message: `stream name length ${nameLength} is over ${MAX_STREAM_NAME_BYTES} bytes`,
      };
    }
    total = tokenEnd + 1 + nameLength;
    if (buf.length < total) return { status: 'incomplete' };
    const name = buf.toString('latin1', tokenEnd + 1, total);
    if (nameLength > 0 && !STREAM_NAME_RE.test(name)) {
      return {
        status: 'error',
        code: ErrorCode.BadHello,
        message: 'the stream name has characters names cannot have',
      };
    }
    stream = nameLength > 0 ? name : null;
  }
  if (buf.length < total) return { status: 'incomplete' };
  return {
    status: 'ok',
    consumed: total,
    hello: {
      version,
      flags: buf.readUInt8(5),
      clientTime,
      token: buf.toString('utf8', HELLO_FIXED_BYTES, tokenEnd),
      stream,
    },
  };
}

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
