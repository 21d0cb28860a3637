import type { Annotation } from '../meta/annotations.js';
import type { Frame } from './frame.js';
import type { SourceStatus } from './producer.js';

/** Why a client's stream ended. */
export type EndReason = 'eof' | 'stopped' | 'source-error' | 'shutdown' | 'kicked' | 'removed';

/** Counters every subscriber keeps, for status lines, /stats and /metrics. */
export interface SubscriberStats {
  id: number;
  protocol: string;
  address: string;
  /** The stream watched (absent for subscribers that do not know it). */
  stream?: string;
  connectedAt: number;
  framesSent: number;
  bytesSent: number;
  /** Frames replaced by a newer one before this client could take them. */
  drops: number;
  /** Last capture-to-send delay in ms, or null before the first frame. */
  lastLatencyMs: number | null;
}

/** What the hub tells a subscriber and asks of it. Transports implement this per client. */
export interface Subscriber {
  readonly id: number;
  readonly protocol: string;
  readonly address: string;
  /**
   * Offered each frame before the others. Set for viewers that carry timestamps and take the raw JPEG
   * (native TCP, WebSocket): behind 110 seed viewers' base64 writes a native viewer's latency measured
   * +0.7 ms at p50 and p99 6.4 ms; seed viewers cannot see latency, and their order among themselves stays.
   */
  readonly sendFirst?: boolean;
  /**
   * A producer made from this hub's frames (a rendition): offered each frame before every viewer. Its
   * offer only starts an encode on the thread pool, which then runs while the viewers' writes are made
   * (behind 100 MJPEG viewers' writes, a rendition's encode started ~1.3 ms late).
   */
  readonly derived?: boolean;
  /**
   * Served outside maxClients, never queued (the frame bus: one subscriber for every edge viewer, which
   * the edges cap themselves). It takes no place from local viewers either.
   */
  readonly uncapped?: boolean;
  /** Offers the newest frame: sent now if the client can take it, else kept (latest wins). */
  offer(frame: Frame): void;
  /** True while a frame waits for this client (lossless mode holds the source back for it). */
  readonly backlogged: boolean;
  /** Sends what is queued, then closes cleanly. Idempotent. */
  end(reason: EndReason): void;
  /** Told while it waits for a place (`position` 1 is next). Optional. */
  waiting?(position: number): void;
  /** Told when a live source loses or regains its input (e.g. a native STATUS message). Optional. */
  sourceStatus?(status: SourceStatus): void;
  /**
   * Told each annotation an analyzer sent for a recent frame (and, on joining, each analyzer's newest).
   * Optional: transports that carry no annotations leave it out; others send it only to viewers that
   * asked for annotations.
   */
  annotation?(a: Annotation): void;
  /** How long (ms, at wall-clock `now`) the frame being written has waited for the peer to take it; 0 when none is pending. */
  stalledMs?(now: number): number;
  /**
   * Takes over from a subscriber of the same connection that stopped (a seed-framed connection whose
   * late native hello was answered): the frames it still held are sent first, and neither those nor
   * the one it sent last are sent again when the hub offers them.
   */
  takeOver?(from: Handover): void;
  stats(): SubscriberStats;
}

let nextId = 1;

/** A process-wide unique subscriber id. */
export function newSubscriberId(): number {
  return nextId++;
}

/** What a stopped subscriber leaves to the one taking its connection over. */
export interface Handover {
  /** The frame it sent last (or null). */
  sent: Frame | null;
  /** Frames it had queued but not sent, oldest first. */
  pending: readonly Frame[];
}
