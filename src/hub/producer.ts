import type { EventEmitter } from 'node:events';
import type { FramecastError } from '../errors.js';
import type { Frame } from './frame.js';

/** Events every frame producer emits. */
export interface ProducerEvents {
  /** A new encoded frame, in order. */
  frame: [frame: Frame];
  /** The source ended normally (end of file): the transmission is over. */
  end: [];
  /** The source failed; no frame follows. */
  error: [err: FramecastError];
  /** A live source lost or regained its input (optional: only retrying producers emit it). */
  status: [status: SourceStatus];
  /** A recording's annotation of the frame just emitted (optional: only playback emits it). */
  annotation: [analyzer: string, seq: number, json: Buffer];
}

/** Where a source stands: frames flowing, or a lost live input being retried (a state, not an error). */
export interface SourceStatus {
  state: 'starting' | 'live' | 'no-signal';
  /** Wall-clock ms of the last change of state. */
  since: number;
  /** Restarts tried since the signal was lost (0 while live). */
  retries: number;
  /** Wall-clock ms of the next restart while no-signal, else null. */
  nextRetryAt: number | null;
  /** Why the signal was lost (one line, credentials removed), or null. */
  lastError: string | null;
}

/** What /stats and status lines say about the source. */
export interface SourceDescription {
  kind: string;
  name: string;
  /** Output size, null until the first frame. */
  width: number | null;
  height: number | null;
  /** The input's own frame rate when known. */
  inputFps: number | null;
  /** Signal state of a live source that is retried when lost; absent for other producers. */
  status?: SourceStatus;
}

/**
 * Something the hub can start when the first client arrives and stop when the last leaves:
 * the ffmpeg+JPEG pipeline, or frames a program publishes itself.
 */
export interface FrameProducer extends EventEmitter<ProducerEvents> {
  start(): void;
  /** Idempotent; no event follows. */
  stop(): void;
  /** Backpressure for lossless (--no-pace) delivery: stop producing until resume(). */
  pause(): void;
  resume(): void;
  describe(): SourceDescription;
}
