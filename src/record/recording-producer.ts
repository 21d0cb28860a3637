import { EventEmitter } from 'node:events';
import { FramecastError } from '../errors.js';
import { Frame } from '../hub/frame.js';
import type { FrameProducer, ProducerEvents, SourceDescription } from '../hub/producer.js';
import { Hub } from '../hub/hub.js';
import { GAP_MS, type RecordedFrame, type RecordingReader } from './recording-reader.js';

export { GAP_MS } from './recording-reader.js';

/** Fastest and slowest playback. */
export const MAX_SPEED = 16;
export const MIN_SPEED = 0.1;

/** Where a playback starts and how fast it goes. */
export interface PlaybackRequest {
  /** ms since the epoch: the frame at or just before it comes first. */
  start: number;
  /** ms since the epoch, or Infinity: the last frame is the last one at or before it. */
  end: number;
  /** 1 = the recorded pace. */
  speed: number;
}

/**
 * A recording as a hub's producer: its frames, each with the capture time, seq and metadata it was
 * recorded with, at the recorded pace times `speed` (gaps in the recording skipped), then `end`.
 * Annotations recorded with a frame follow it. A hub of its own per playback serves it to any
 * transport exactly as a live source is served: pausing in lossless mode holds the clock.
 */
export class RecordingProducer extends EventEmitter<ProducerEvents> implements FrameProducer {
  readonly #store: RecordingReader;
  readonly #req: PlaybackRequest;
  #frames: AsyncGenerator<RecordedFrame> | null = null;
  #stopped = false;
  #paused = false;
  #resume: (() => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  #wake: (() => void) | null = null;
  #size: { width: number; height: number } | null = null;

  constructor(store: RecordingReader, req: PlaybackRequest) {
    super();
    this.#store = store;
    this.#req = req;
  }

  start(): void {
    void this.#run().catch((err: unknown) => {
      if (this.#stopped) return;
      this.emit('error', new FramecastError('ERR_SOURCE_FAILED', `playback: ${(err as Error).message}`));
    });
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#wake?.();
    this.#resume?.();
    void this.#frames?.return(undefined);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#resume?.();
  }

  describe(): SourceDescription {
    return {
      kind: 'recording',
      name: `${this.#store.stream} from ${new Date(this.#req.start).toISOString()}`,
      width: this.#size?.width ?? null,
      height: this.#size?.height ?? null,
      inputFps: null,
    };
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
    });
  }

  async #run(): Promise<void> {
    const frames = this.#store.frames(this.#req.start, this.#req.end);
    this.#frames = frames;
    let clock = performance.now();
    let t0: number | null = null;
    let prev = 0;
    for await (const f of frames) {
      if (this.#stopped) return;
      if (t0 === null) t0 = prev = f.capturedAt;
      // A gap in the recording (the source was off) is skipped, not waited out.
      if (f.capturedAt - prev > GAP_MS) t0 += f.capturedAt - prev;
      prev = f.capturedAt;
      const wait = clock + (f.capturedAt - t0) / this.#req.speed - performance.now();
      if (wait > 1) await this.#sleep(wait);
      if (this.#paused) {
        // Lossless delivery held the producer: the recorded clock waits with it.
        const heldAt = performance.now();
        await new Promise<void>((resolve) => (this.#resume = resolve));
        this.#resume = null;
        clock += performance.now() - heldAt;
      }
      if (this.#stopped) return;
      this.#size = { width: f.width, height: f.height };
      this.emit(
        'frame',
        new Frame({
          seq: f.seq,
          width: f.width,
          height: f.height,
          capturedAt: f.capturedAt,
          encodedAt: f.capturedAt,
          jpeg: f.jpeg,
          meta: f.meta,
        }),
      );
      for (const a of f.annotations) this.emit('annotation', a.analyzer, f.seq, a.json);
    }
    if (!this.#stopped) this.emit('end');
  }
}

/**
 * A hub of its own that plays `reader`'s recording from `req.start` (lossless: every frame, the
 * clock held while its one viewer is slow), or why there is nothing to play there.
 */
export async function playbackHub(reader: RecordingReader, req: PlaybackRequest): Promise<Hub | string> {
  // The first frame is read once here, so an empty range is told now (a 404, ERROR NoRecording).
  const frames = reader.frames(req.start, req.end);
  const first = await frames.next();
  await frames.return(undefined);
  if (first.done) {
    const from = new Date(req.start).toISOString();
    return Number.isFinite(req.end)
      ? `no recording of ${reader.stream} from ${from} to ${new Date(req.end).toISOString()}`
      : `no recording of ${reader.stream} at or after ${from}`;
  }
  return new Hub({
    createProducer: () => new RecordingProducer(reader, req),
    maxClients: 1,
    maxWaiting: 0,
    lossless: true,
    holdFirstFrames: true,
  });
}
