import type { FramecastError } from '../errors.js';
import type { ReconnectOptions } from './session-client.js';

/** Options of publish(). */
export interface RemotePublisherOptions {
  /** The stream's publish token (or the server's token). */
  token?: string | null;
  /** Come back after the server went away (default: on, retrying forever). false: one connection. */
  reconnect?: ReconnectOptions | boolean;
  /** Aborting it closes the publisher. */
  signal?: AbortSignal;
  /** tls:// only: trust this CA certificate (PEM). */
  ca?: string | Buffer | null;
  /** JPEG quality of publishRaw (default 80). */
  quality?: number;
  /**
   * When the stream already has a publisher, wait and retry (with the reconnect backoff) until it is
   * free, instead of failing with ERR_PUBLISHER_ACTIVE (default false). After this publisher was
   * taken once, a refusal on reconnecting is always retried: the server may still hold its old connection.
   */
  standby?: boolean;
  /** Largest metadata of one frame, in bytes of JSON (default 65536, the server's default `maxMetaBytes`). */
  maxMetaBytes?: number;
}

/** Per-frame options of publish(). */
export interface PublishFrameOptions {
  /** Wall-clock ms when the frame was captured (default: now). */
  capturedAt?: number;
  /**
   * The frame's metadata: one JSON object (at most `maxMetaBytes`, nested at most 32 deep), which
   * viewers that ask for it receive as `frame.meta`. ERR_BAD_META when it cannot be sent.
   */
  meta?: unknown;
}

/** Events of a remote publisher. */
export interface RemotePublisherEvents {
  /** The server took this publisher for its stream. */
  connected: [];
  /** The connection was lost; with reconnect, the next attempt follows after `delayMs`. */
  reconnecting: [attempt: number, delayMs: number, reason: string];
  /** The server acknowledged frame `seq` (it reached the stream). */
  accepted: [seq: number];
  /** A failure that ends the publisher (a refused token, a stream that takes no publisher, ...). */
  error: [err: FramecastError];
  /** Closed (by close(), the signal, or an error). */
  close: [];
}
