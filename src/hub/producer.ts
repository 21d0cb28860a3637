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
