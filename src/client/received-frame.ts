import type { NativeMessage } from '../protocol/native-parser.js';
import { jpegInfo, looksLikeJpeg } from '../util/jpeg.js';
import { frameLatency, type ClockEstimate } from './clock-sync.js';
import type { MetaObject } from './frame-meta.js';

/** A frame as a client receives it. */
export interface ReceivedFrame {
  jpeg: Buffer;
  /** Sequence number: the server's when the protocol carries one, else counted locally from 0. */
  seq: number;
  width: number;
  height: number;
  /** Server wall-clock ms of capture, or null when the protocol carries no timestamps (seed framing). */
  capturedAt: number | null;
  /** Local wall-clock ms when the last byte arrived. */
  receivedAt: number;
  /** Bytes this frame took on the wire, framing included. */
  wireBytes: number;
}

/** A received frame with the native protocol's timestamps (null over the seed framing). */
export interface StreamFrame extends ReceivedFrame {
  /** Server wall-clock ms when the JPEG was ready. */
  encodedAt: number | null;
  /** Server wall-clock ms when the server handed the frame to this connection. */
  sentAt: number | null;
  /** Capture-to-receive delay in ms, clock offset applied across machines; null over the seed framing. */
  latencyMs: number | null;
  /** The publisher's metadata of this frame (with the `meta` option), or null: none, not asked, seed framing. */
  meta: MetaObject | null;
}

/** A native FRAME as the client reports it, or the reason it is not a usable JPEG. */
export function fromNativeFrame(
  m: Extract<NativeMessage, { type: 'frame' }>,
  receivedAt: number,
  clock: ClockEstimate | null,
  meta: MetaObject | null = null,
): StreamFrame | string {
  // The header gives the size; checking SOI/EOI is cheap, a full marker walk per frame is not needed.
  if (!looksLikeJpeg(m.jpeg)) return `frame ${m.seq} is not a JPEG (${m.jpeg.length} bytes)`;
  return {
    jpeg: m.jpeg,
    seq: m.seq,
    width: m.width,
    height: m.height,
    capturedAt: m.capturedAt,
    encodedAt: m.encodedAt,
    sentAt: m.sentAt,
    receivedAt,
    wireBytes: m.wireBytes,
    latencyMs: frameLatency(receivedAt, m.capturedAt, clock),
    meta,
  };
}

/** A seed-framed payload (base64 text of a JPEG) as the client reports it, or why it is unusable. */
export function fromSeedPayload(payload: Buffer, seq: number, receivedAt: number): StreamFrame | string {
  const jpeg = Buffer.from(payload.toString('latin1'), 'base64');
  const info = looksLikeJpeg(jpeg) ? jpegInfo(jpeg) : null;
  if (!info) return `frame ${seq} is not a JPEG (${payload.length} bytes)`;
  return {
    jpeg,
    seq,
    width: info.width,
    height: info.height,
    capturedAt: null,
    encodedAt: null,
    sentAt: null,
    receivedAt,
    wireBytes: payload.length + 4,
    latencyMs: null,
    meta: null,
  };
}
