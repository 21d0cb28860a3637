import { SafeEmitter } from '../../util/safe-emitter.js';
import { Frame } from '../../hub/frame.js';
import type { FrameProducer, ProducerEvents, SourceDescription, SourceStatus } from '../../hub/producer.js';
import { noSignalJpeg, noSignalSize } from '../../encode/no-signal.js';
import { nowMs } from '../../util/clock.js';
import type { IngestFrame, PublisherConnection, PublisherSlot } from './publisher-slot.js';

/** A frame younger than this is shown at once to a first viewer (a publisher between two frames). */
const FRESH_MS = 2000;

/** The stream settings a publisher stream's producer uses: those of its NO SIGNAL picture. */
export interface IngestSettings {
  quality: number;
  /** The stream's configured width (0: its sources'), the NO SIGNAL picture's width. */
  width: number;
  maxImagePixels: number;
}

/**
 * The producer of a publisher stream for one transmission: each JPEG the remote publisher sends is
 * handed to the hub as it came (passthrough: no decode, no re-encode). Without a publisher the
 * stream is in state no-signal and viewers get the NO SIGNAL picture once a second, as with a lost
 * camera; frames resume, seq continuing, as soon as a publisher sends again.
 */
export class IngestProducer extends SafeEmitter<ProducerEvents> implements FrameProducer {
  readonly #slot: PublisherSlot;
  readonly #settings: IngestSettings;
  #seq = 0;
  #size: { width: number; height: number } | null = null;
  #running = false;
  #paused = false;
  #timer: NodeJS.Timeout | null = null;
  #status: SourceStatus = {
    state: 'no-signal',
    since: nowMs(),
    retries: 0,
    nextRetryAt: null,
    lastError: 'no frames yet (no publisher connected, or its origin is not sending)',
  };
  readonly #onFrame = (f: IngestFrame): void => this.#frame(f);
  readonly #onConnected = (): void => this.#setStatus('live', null);
  readonly #onGone = (_c: PublisherConnection, why: string): void => {
    this.#setStatus('no-signal', `the publisher left: ${why}`);
    this.#noSignal();
  };

  constructor(slot: PublisherSlot, settings: IngestSettings) {
    super();
    this.#slot = slot;
    this.#settings = settings;
  }

  describe(): SourceDescription {
    const c = this.#slot.current;
    return {
      kind: 'publisher',
      name: c ? `publisher ${c.address} (${c.via})` : 'publisher (none connected)',
      width: this.#size?.width ?? null,
      height: this.#size?.height ?? null,
      inputFps: null,
      status: { ...this.#status },
    };
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#slot.on('frame', this.#onFrame);
    this.#slot.on('connected', this.#onConnected);
    this.#slot.on('disconnected', this.#onGone);
    const last = this.#slot.last;
    if (this.#slot.current) {
      this.#status = { ...this.#status, state: 'live', lastError: null };
      if (last && nowMs() - last.receivedAt < FRESH_MS) this.#frame(last);
    } else {
      this.emit('status', { ...this.#status });
      this.#noSignal();
    }
  }

  #frame(f: IngestFrame): void {
    if (!this.#running || this.#paused) return;
    if (this.#status.state !== 'live') this.#setStatus('live', null);
    this.#size = { width: f.width, height: f.height };
    this.emit(
      'frame',
      new Frame({
        seq: this.#seq++,
        width: f.width,
        height: f.height,
        capturedAt: f.capturedAt,
        encodedAt: f.receivedAt,
        jpeg: f.jpeg,
        meta: f.meta ?? null,
      }),
    );
  }

  #setStatus(state: 'live' | 'no-signal', why: string | null): void {
    if (this.#timer && state === 'live') {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#status.state === state) return;
    this.#status = { state, since: nowMs(), retries: 0, nextRetryAt: null, lastError: why };
    if (this.#running) this.emit('status', { ...this.#status });
  }

  #noSignal(): void {
    if (!this.#running || this.#status.state !== 'no-signal' || this.#timer) return;
    const { quality, width: configured, maxImagePixels } = this.#settings;
    const { width, height } = noSignalSize(configured, this.#size, maxImagePixels);
    noSignalJpeg(width, height, quality).then(
      (jpeg) => {
        if (!this.#running || this.#status.state !== 'no-signal') return;
        const t = nowMs();
        if (!this.#paused)
          this.emit(
            'frame',
            new Frame({ seq: this.#seq++, width, height, capturedAt: t, encodedAt: t, jpeg }),
          );
        this.#timer = setTimeout(() => {
          this.#timer = null;
          this.#noSignal();
        }, 1000);
      },
      () => {
        // Without the picture, viewers still get the status.
      },
    );
  }

  /** Lossless backpressure: frames that arrive meanwhile are dropped here (the publisher is told to wait by its ACKs). */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
  }

  stop(): void {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#slot.off('frame', this.#onFrame);
    this.#slot.off('connected', this.#onConnected);
    this.#slot.off('disconnected', this.#onGone);
  }
}
