/** The native hello, the one message a client opens with: its encoder and the server's decoder. */
import {
  ErrorCode,
  HelloFlag,
  PLAYBACK_BYTES,
  VIEW_BYTES,
  HELLO_FIXED_BYTES,
  MAX_STREAM_NAME_BYTES,
  MAX_TOKEN_BYTES,
  NATIVE_MAGIC,
  agreesWithMagic,
} from './native-layout.js';

const STREAM_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

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
  /** Version 2 with flag Playback: play the recording from `start` (ms since the epoch) at `speed`. */
  playback: HelloPlayback | null;
  /** Version 2 with flag View: another width, quality or frame rate (each null: the stream's). */
  view: HelloView | null;
}

/** The view block of a hello: what the viewer asks beside the stream itself. */
export interface HelloView {
  width: number | null;
  quality: number | null;
  fps: number | null;
}

/** The playback block of a hello. */
export interface HelloPlayback {
  start: number;
  speed: number;
}

/** Playback speeds a hello may ask for. */
export const MIN_PLAYBACK_SPEED = 0.1;
export const MAX_PLAYBACK_SPEED = 16;

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
  playback: HelloPlayback | null = null,
  view: HelloView | null = null,
): Buffer {
  const v = version ?? (stream === null && playback === null && view === null ? 1 : 2);
  if (
    view &&
    (v < 2 ||
      (view.width !== null && !(Number.isInteger(view.width) && view.width >= 16 && view.width <= 16384)) ||
      (view.quality !== null &&
        !(Number.isInteger(view.quality) && view.quality >= 1 && view.quality <= 100)) ||
      (view.fps !== null && !(view.fps >= 0.1 && view.fps <= 1000)))
  )
    throw new RangeError(
      'a view needs version 2, a width of 16-16384, a quality of 1-100 and a rate of 0.1-1000',
    );
  if (
    playback &&
    (v < 2 ||
      !Number.isFinite(playback.start) ||
      !(playback.speed >= MIN_PLAYBACK_SPEED && playback.speed <= MAX_PLAYBACK_SPEED))
  )
    throw new RangeError(
      `playback needs version 2, a time and a speed from ${MIN_PLAYBACK_SPEED} to ${MAX_PLAYBACK_SPEED}`,
    );
  const tok = Buffer.from(token, 'utf8');
  if (tok.length > MAX_TOKEN_BYTES) throw new RangeError(`token is over ${MAX_TOKEN_BYTES} bytes`);
  if (stream !== null && (v < 2 || !STREAM_NAME_RE.test(stream)))
    throw new RangeError(`stream name ${JSON.stringify(stream)} is not a valid name (or needs version 2)`);
  const name = v >= 2 ? Buffer.from(stream ?? '', 'latin1') : Buffer.alloc(0);
  const extra = (playback ? PLAYBACK_BYTES : 0) + (view ? VIEW_BYTES : 0);
  const out = Buffer.alloc(HELLO_FIXED_BYTES + tok.length + (v >= 2 ? 1 + name.length : 0) + extra);
  NATIVE_MAGIC.copy(out, 0);
  out.writeUInt8(v, 4);
  let f = playback ? flags | HelloFlag.Playback : flags & ~HelloFlag.Playback;
  f = view ? f | HelloFlag.View : f & ~HelloFlag.View;
  out.writeUInt8(f, 5);
  out.writeUInt16BE(tok.length, 6);
  out.writeDoubleBE(clientTime, 8);
  tok.copy(out, HELLO_FIXED_BYTES);
  if (v >= 2) {
    out.writeUInt8(name.length, HELLO_FIXED_BYTES + tok.length);
    name.copy(out, HELLO_FIXED_BYTES + tok.length + 1);
  }
  let at = out.length - extra;
  if (playback) {
    out.writeDoubleBE(playback.start, at);
    out.writeDoubleBE(playback.speed, at + 8);
    at += PLAYBACK_BYTES;
  }
  if (view) {
    out.writeUInt16BE(view.width ?? 0, at);
    out.writeUInt8(view.quality ?? 0, at + 2);
    out.writeFloatBE(view.fps ?? 0, at + 4);
  }
  return out;
}

/** Decodes a hello from the start of `buf`; checks the declared token length before waiting for it. */
export function decodeHello(buf: Buffer): HelloResult {
  if (!agreesWithMagic(buf)) {
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
  let playback: HelloPlayback | null = null;
  if (version >= 2 && buf.readUInt8(5) & HelloFlag.Playback) {
    if (buf.length < total + PLAYBACK_BYTES) return { status: 'incomplete' };
    const start = buf.readDoubleBE(total);
    const speed = buf.readDoubleBE(total + 8);
    total += PLAYBACK_BYTES;
    if (!Number.isFinite(start) || Math.abs(start) > 8.64e15)
      return { status: 'error', code: ErrorCode.BadHello, message: 'playback start is not a time' };
    if (!(speed >= MIN_PLAYBACK_SPEED && speed <= MAX_PLAYBACK_SPEED))
      return {
        status: 'error',
        code: ErrorCode.BadHello,
        message: `playback speed must be from ${MIN_PLAYBACK_SPEED} to ${MAX_PLAYBACK_SPEED}`,
      };
    playback = { start, speed };
  }
  let view: HelloView | null = null;
  if (version >= 2 && buf.readUInt8(5) & HelloFlag.View) {
    if (buf.length < total + VIEW_BYTES) return { status: 'incomplete' };
    const width = buf.readUInt16BE(total);
    const quality = buf.readUInt8(total + 2);
    const fps = buf.readFloatBE(total + 4);
    total += VIEW_BYTES;
    if (width !== 0 && width < 16)
      return {
        status: 'error',
        code: ErrorCode.BadHello,
        message: `view width must be 0 or 16-16384, got ${width}`,
      };
    if (quality > 100)
      return {
        status: 'error',
        code: ErrorCode.BadHello,
        message: `view quality must be 0 or 1-100, got ${quality}`,
      };
    if (!(fps === 0 || (fps >= 0.1 && fps <= 1000)))
      return { status: 'error', code: ErrorCode.BadHello, message: 'view fps must be 0 or 0.1-1000' };
    view = { width: width || null, quality: quality || null, fps: fps || null };
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
      playback,
      view,
    },
  };
}
