import type { FramecastError } from '../errors.js';
import type { ClockEstimate } from './clock-sync.js';
import type { AnnotationRefusal, FrameAnnotation, MetaWants } from './frame-meta.js';
import type { StreamFrame } from './received-frame.js';

/** Which protocol to speak: `auto` says hello and falls back to the seed framing if the server ignores it. */
export type ProtocolChoice = 'auto' | 'native' | 'legacy';

/** How the stream ended cleanly. */
export interface StreamEnd {
  /** The server's END reason, or `closed` when the seed framing just closed. */
  reason: string;
  message: string;
}

/** What the connection settled on. */
export interface HandshakeInfo {
  protocol: 'native' | 'legacy';
  /** Server software name from the welcome, null over the seed framing. */
  server: string | null;
  clock: ClockEstimate | null;
}

/**
 * Options of a StreamClient. Native only, from MetaWants: `meta` (each frame's metadata as
 * `frame.meta`), `annotations` (`annotation` events), `annotate` (`annotate()`), `maxMetaBytes`.
 */
export interface StreamClientOptions extends MetaWants {
  maxFrameBytes?: number;
  connectTimeoutMs?: number;
  /** After the first frame, a silence this long is a stalled stream (0 = wait forever). */
  idleTimeoutMs?: number;
  /** Default `auto`. */
  protocol?: ProtocolChoice;
  /** Token to present in the hello. */
  token?: string | null;
  /** tls:// only: trust this CA certificate (PEM) instead of the system's trust store. */
  ca?: string | Buffer | null;
  /**
   * Native only: acknowledge frames (default true), so the server keeps only a small window of frames
   * unacknowledged (2 on one host, more to cover a long round trip) and a slow reader gets fresh frames
   * instead of ones that waited in socket buffers. Servers that do
   * not know the flag ignore it, and then nothing is acknowledged.
   */
  ack?: boolean;
  /** With `ack`: the caller acknowledges each frame with `ack(seq)` when done with it (default: on receipt). */
  manualAck?: boolean;
  /**
   * Native only: play the stream's recording back from `start` (ms since the epoch) at `speed`
   * (0.1-16, default 1) instead of watching it live; the stream ends with `eof` at the recording's end.
   */
  playback?: { start: number; speed?: number } | null;
  /**
   * Native only: another width (16-16384, snapped down to multiples of 16 by the server, never over the
   * stream's), JPEG quality (1-100) or frame rate (0.1-1000) than the stream's; each optional.
   */
  view?: { width?: number | null; quality?: number | null; fps?: number | null } | null;
}

/** Events of a StreamClient. */
export interface StreamClientEvents {
  connect: [];
  handshake: [info: HandshakeInfo];
  frame: [frame: StreamFrame];
  status: [code: number, value: number, message: string];
  /** An analyzer's annotation of a frame (with the `annotations` option). */
  annotation: [annotation: FrameAnnotation];
  /** The server refused an annotation this client sent (STATUS 4); the connection goes on. */
  'annotation-refused': [refusal: AnnotationRefusal];
  'bad-frame': [reason: string];
  end: [end: StreamEnd];
  error: [err: FramecastError];
}
