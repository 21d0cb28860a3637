import { SafeEmitter } from '../util/safe-emitter.js';
import type { FramecastError } from '../errors.js';
import { Frame } from '../hub/frame.js';
import type { FrameProducer, ProducerEvents, SourceDescription, SourceStatus } from '../hub/producer.js';
import { nowMs } from '../util/clock.js';
import { redactCredentials } from '../util/redact.js';
import { noSignalJpeg, noSignalSize } from './no-signal.js';

/** Settings of a producer that survives the loss of a live input. */
export interface ResilientOptions {
  /** Makes a fresh inner producer (one ffmpeg run). */
  create: () => FrameProducer;
  /** Wait before the first restart; doubles per failed attempt up to maxRetryDelayMs. */
  retryDelayMs: number;
  maxRetryDelayMs?: number;
  /** Live inputs (cameras, rtsp): an end of stream is also a lost signal, not the end of the show. */
  retryOnEnd: boolean;
  /** The stream's configured width (0: the source's), the NO SIGNAL picture's width (see noSignalSize). */
  noSignalWidth: number;
  /** The stream's bound on width x height, which the NO SIGNAL picture keeps too. */
  maxImagePixels: number;
  quality: number;
  /** The NO SIGNAL picture is repeated this often, so clients with idle timeouts stay connected. */
  noSignalIntervalMs?: number;
}

/**
 * Wraps the ffmpeg pipeline of a live source so that losing it is a state: clients get a NO SIGNAL
 * picture (repeated at a low rate) and a 'status' event, the input is restarted with backoff (like
 * uStreamer's --device-error-delay), and frames resume on the same transmission with seq continuing.
 */
export class ResilientProducer extends SafeEmitter<ProducerEvents> implements FrameProducer {
  readonly #opts: ResilientOptions;
  #inner: FrameProducer | null = null;
  #last: SourceDescription | null = null;
  #stopped = false;
  #paused = false;
  #seq = 0;
  #attempt = 0;
  #size: { width: number; height: number } | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #noSignalTimer: NodeJS.Timeout | null = null;
  #status: SourceStatus = {
    state: 'starting',
    since: nowMs(),
    retries: 0,
    nextRetryAt: null,
    lastError: null,
  };

  constructor(opts: ResilientOptions) {
    super();
    if (!(opts.retryDelayMs > 0)) throw new RangeError('retryDelayMs must be > 0');
    this.#opts = opts;
  }

  /** The current signal state. */
  get status(): SourceStatus {
    return { ...this.#status };
  }

  describe(): SourceDescription {
    const d = this.#inner?.describe() ?? this.#last;
    return {
      kind: d?.kind ?? 'unknown',
      name: d?.name ?? 'unknown',
      width: d?.width ?? this.#size?.width ?? null,
      height: d?.height ?? this.#size?.height ?? null,
      inputFps: d?.inputFps ?? null,
      status: this.status,
    };
  }

  start(): void {
    if (this.#stopped || this.#inner) return;
    const inner = this.#opts.create();
    this.#inner = inner;
    inner.on('frame', (f) => inner === this.#inner && this.#onFrame(f));
    inner.on('end', () => {
      if (inner !== this.#inner) return;
      if (this.#opts.retryOnEnd) this.#lost(inner, 'the source ended');
      else {
        this.#stopped = true;
        this.emit('end');
      }
    });
    inner.on('error', (err: FramecastError) => inner === this.#inner && this.#lost(inner, err.message));
    if (this.#paused) inner.pause();
    inner.start();
  }

  #onFrame(frame: Frame): void {
    if (this.#status.state !== 'live') {
      this.#clearTimers();
      this.#attempt = 0;
      this.#setStatus({ state: 'live', since: nowMs(), retries: 0, nextRetryAt: null, lastError: null });
    }
    this.#size = { width: frame.width, height: frame.height };
    const seq = this.#seq++;
    // Each ffmpeg run counts from 0; clients must see one sequence across restarts.
    this.emit('frame', frame.seq === seq ? frame : new Frame({ ...frame, seq }));
  }

  #lost(inner: FrameProducer, why: string): void {
    this.#last = inner.describe();
    this.#inner = null;
    inner.stop();
    if (this.#stopped) return;
    const delay = Math.min(
      this.#opts.retryDelayMs * 2 ** this.#attempt,
      Math.max(this.#opts.retryDelayMs, this.#opts.maxRetryDelayMs ?? 30_000),
    );
    this.#attempt++;
    const wasLive = this.#status.state !== 'no-signal';
    this.#setStatus({
      state: 'no-signal',
      since: wasLive ? nowMs() : this.#status.since,
      retries: this.#attempt - 1,
      nextRetryAt: nowMs() + delay,
      lastError: redactCredentials(why),
    });
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.start();
    }, delay);
    if (wasLive) this.#sendNoSignal();
  }

  #sendNoSignal(): void {
    if (this.#stopped || this.#status.state !== 'no-signal') return;
    const { width, height } = noSignalSize(this.#opts.noSignalWidth, this.#size, this.#opts.maxImagePixels);
    noSignalJpeg(width, height, this.#opts.quality).then(
      (jpeg) => {
        if (this.#stopped || this.#status.state !== 'no-signal') return;
        const t = nowMs();
        this.emit('frame', new Frame({ seq: this.#seq++, width, height, capturedAt: t, encodedAt: t, jpeg }));
        this.#noSignalTimer = setTimeout(() => this.#sendNoSignal(), this.#opts.noSignalIntervalMs ?? 1000);
      },
      () => {
        // Without the picture, clients still get the status; nothing else to do.
      },
    );
  }

  #setStatus(s: SourceStatus): void {
    this.#status = s;
    this.emit('status', { ...s });
  }

  #clearTimers(): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#noSignalTimer) clearTimeout(this.#noSignalTimer);
    this.#retryTimer = null;
    this.#noSignalTimer = null;
  }

  pause(): void {
    this.#paused = true;
    this.#inner?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#inner?.resume();
  }

  stop(): void {
    this.#stopped = true;
    this.#clearTimers();
    const inner = this.#inner;
    this.#inner = null;
    if (inner) {
      this.#last = inner.describe();
      inner.stop();
    }
  }
}
