import type { Annotation } from '../meta/annotations.js';
import type { FramecastError } from '../errors.js';
import type { Frame } from './frame.js';
import type { FrameProducer, SourceDescription, SourceStatus } from './producer.js';
import type { EndReason, Subscriber, SubscriberStats } from './subscriber.js';

/**
 * Why a transmission ended: the reasons its clients are given (EndReason) but `kicked`, which ends one
 * client and not the transmission, plus `idle` (its last client left).
 */
export type TransmissionEnd = Exclude<EndReason, 'kicked'> | 'idle';

/** Hub settings. */
export interface HubOptions {
  /** Creates the producer for a new transmission (a file plays from its start each time). */
  createProducer: () => FrameProducer;
  /** Clients served at once; the rest wait in turn. */
  maxClients: number;
  /** Clients allowed to wait for a place; beyond it they are refused. */
  maxWaiting: number;
  /** --no-pace: never drop, hold the source until every client took the frame (the seed's sendall). */
  lossless: boolean;
  /**
   * Keep the source running with nobody watching, so the first viewer gets a frame at once (default
   * false: the source runs only while someone watches or is about to; see warm()).
   */
  preload?: boolean;
  /**
   * Before the first client is admitted, keep the first frames and pause the source (default: when
   * lossless). Set for files, which play from their start for the first client.
   */
  holdFirstFrames?: boolean;
  /** Cap on one annotation's JSON (bytes; the stream's maxMetaBytes). Default 64 KiB. */
  maxMetaBytes?: number;
}

/** Events of the hub. */
export interface HubEvents {
  'transmission-start': [source: SourceDescription];
  /** A live source lost or regained its input; the transmission goes on. */
  'source-status': [status: SourceStatus];
  'transmission-end': [reason: TransmissionEnd, err: FramecastError | null];
  frame: [frame: Frame];
  /** An analyzer's annotation was accepted and sent to the viewers. */
  annotation: [a: Annotation];
  admitted: [sub: Subscriber];
  waiting: [sub: Subscriber, position: number];
  left: [stats: SubscriberStats];
  /** A listener of another event threw (it was isolated; delivery went on). */
  'listener-error': [event: string, err: unknown];
}

/** Totals since the hub started. */
export interface HubTotals {
  framesIn: number;
  bytesIn: number;
  transmissions: number;
  clientsServed: number;
}
