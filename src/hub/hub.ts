import { SafeEmitter } from '../util/safe-emitter.js';
import type { FramecastError } from '../errors.js';
import type { Frame } from './frame.js';
import type { FrameProducer, SourceDescription } from './producer.js';
import type { EndReason, Subscriber } from './subscriber.js';
import type { HubEvents, HubOptions, HubTotals, TransmissionEnd } from './hub-types.js';
import {
  AnnotationBook,
  type Annotation,
  type AnnotationRefusal,
  type FrameRef,
} from '../meta/annotations.js';
import { DEFAULT_MAX_META_BYTES } from '../meta/meta-json.js';
import { nowMs } from '../util/clock.js';

export type { HubEvents, HubOptions, HubTotals, TransmissionEnd } from './hub-types.js';

/** Frames kept for a first client in lossless mode: more than a paused pipeline has in flight. */
const MAX_HELD = 64;

/**
 * The hub: one producer, many subscribers. It holds the newest frame and offers each new frame to
 * every admitted subscriber once (encode once, send many); subscribers decide per socket whether to
 * send it now or keep it as their single pending frame (latest frame wins).
 */
export class Hub extends SafeEmitter<HubEvents> {
  readonly #opts: HubOptions;
  readonly #admitted = new Set<Subscriber>();
  /**
   * The admitted subscribers in the order each frame is offered: `derived` ones (renditions), then
   * those with `sendFirst`, then the rest; each tier in the order they came.
   */
  readonly #tiers: readonly Set<Subscriber>[] = [new Set(), new Set(), new Set()];
  readonly #waiting: Subscriber[] = [];
  /** Admitted subscribers outside maxClients (`uncapped`). */
  #uncapped = 0;
  /** Clients the hub ended whose connection has not closed yet: their final stats come with the close. */
  readonly #closing = new Set<Subscriber>();
  #producer: FrameProducer | null = null;
  #latest: Frame | null = null;
  /**
   * Lossless, before the first client: frames the source made while held at its first one (encodes
   * already in flight when it paused), kept in order for that client so none is lost to the wait.
   */
  #held: Frame[] = [];
  #paused = false;
  #closed = false;
  #lastSource: SourceDescription | null = null;
  /** Connections that may become clients soon (warm()): the source runs for them. */
  #warmers = 0;
  #restartTimer: NodeJS.Timeout | null = null;
  readonly totals: HubTotals = { framesIn: 0, bytesIn: 0, transmissions: 0, clientsServed: 0 };
  /** The transmission's recent frames, each analyzer's newest annotation and its rate. */
  readonly annotations: AnnotationBook;

  constructor(opts: HubOptions) {
    super();
    if (!Number.isInteger(opts.maxClients) || opts.maxClients < 1)
      throw new RangeError('maxClients must be >= 1');
    this.#opts = opts;
    this.annotations = new AnnotationBook(opts.maxMetaBytes ?? DEFAULT_MAX_META_BYTES);
    if (opts.preload) queueMicrotask(() => this.#keepWarm());
  }

  /**
   * Starts the source now for a connection that is still in its handshake, so decoding its first
   * frame overlaps the hello grace instead of following it. Returns the release to call once the
   * connection joined or went away; when nobody joined, the source stops again. In lossless mode the
   * source holds its first frame until a client takes it, so no frame is lost to the wait.
   */
  warm(): () => void {
    if (this.#closed) return () => {};
    this.#warmers++;
    if (!this.#producer) this.#startTransmission();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#warmers--;
      if (this.#warmers === 0 && this.#admitted.size === 0 && !this.#opts.preload && this.#producer)
        this.#endTransmission('idle', null);
    };
  }

  /** The newest frame of the current transmission, or null. */
  get latest(): Frame | null {
    return this.#latest;
  }

  /** True while a producer runs. */
  get transmitting(): boolean {
    return this.#producer !== null;
  }

  /** The current (or last) source's description. */
  get source(): SourceDescription | null {
    return this.#producer?.describe() ?? this.#lastSource;
  }

  /** Subscribers being served now. */
  get clients(): readonly Subscriber[] {
    return [...this.#admitted];
  }

  /** Number of subscribers being served now (no array copy, cheap enough to ask per frame). */
  get clientCount(): number {
    return this.#admitted.size;
  }

  /** Number of subscribers served now that take a place under maxClients (not `uncapped`). */
  get cappedCount(): number {
    return this.#admitted.size - this.#uncapped;
  }

  /** Number of subscribers waiting for a place. */
  get waitingCount(): number {
    return this.#waiting.length;
  }

  /**
   * Adds a subscriber: served at once if there is a place, else queued. Returns false (and the
   * caller should refuse the client) when the hub is closed or the waiting line is full.
   */
  join(sub: Subscriber): boolean {
    if (this.#closed) return false;
    if (sub.uncapped || this.#hasPlace()) {
      this.#admit(sub);
      return true;
    }
    if (this.#waiting.length >= this.#opts.maxWaiting) return false;
    this.#waiting.push(sub);
    const position = this.#waiting.length;
    sub.waiting?.(position);
    this.emit('waiting', sub, position);
    return true;
  }

  /**
   * Puts `next` in `old`'s place, served or waiting (a connection that changed its protocol): no place
   * is freed or taken and the transmission goes on. `old` leaves as it would on close. False when
   * `old` is neither served nor waiting (then nothing changes).
   */
  replace(old: Subscriber, next: Subscriber): boolean {
    const i = this.#waiting.indexOf(old);
    if (i >= 0) {
      this.#waiting[i] = next;
      next.waiting?.(i + 1);
      return true;
    }
    if (this.#closed || !this.#admitted.delete(old)) return false;
    if (old.uncapped) this.#uncapped--;
    for (const t of this.#tiers) t.delete(old);
    this.emit('left', old.stats());
    this.#admit(next);
    return true;
  }

  /** Removes a subscriber whose connection closed (idempotent). */
  leave(sub: Subscriber): void {
    const i = this.#waiting.indexOf(sub);
    if (i >= 0) {
      this.#waiting.splice(i, 1);
      this.#waiting.forEach((w, j) => j >= i && w.waiting?.(j + 1));
      return;
    }
    if (this.#closing.delete(sub)) {
      this.emit('left', sub.stats());
      return;
    }
    if (!this.#admitted.delete(sub)) return;
    if (sub.uncapped) this.#uncapped--;
    for (const t of this.#tiers) t.delete(sub);
    this.emit('left', sub.stats());
    if (this.#admitted.size === 0) {
      // Nobody watches: stop the source (unless it is kept warm). The next client starts a fresh transmission.
      if (this.#warmers === 0 && !this.#opts.preload) this.#endTransmission('idle', null);
      else if (this.#opts.lossless) this.#pause();
    } else {
      this.drained();
    }
    this.#admitNext();
  }

  /** A subscriber sent its backlog: in lossless mode the source may go on. */
  drained(): void {
    if (!this.#paused || this.#admitted.size === 0) return;
    for (const s of this.#admitted) if (s.backlogged) return;
    this.#paused = false;
    this.#producer?.resume();
  }

  /** Ends the current transmission as the seed's 'q' key does: clients are closed cleanly. */
  stopTransmission(): boolean {
    if (this.#admitted.size === 0 && !this.#producer) return false;
    this.#endTransmission('stopped', null);
    return true;
  }

  /**
   * Ends everything: clients (served and waiting) are closed, the source stops. `removed`: the stream
   * itself went away (or restarts with new settings) while the server goes on. Idempotent.
   */
  close(reason: 'shutdown' | 'removed' = 'shutdown'): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    for (const sub of this.#waiting.splice(0)) sub.end(reason);
    this.#endTransmission(reason, null);
  }

  /**
   * An analyzer's annotation of a recent frame (by seq or capture time): checked, rate-capped, then
   * sent to every admitted viewer that carries annotations. Returns it, or why it was refused (only
   * the sender is told; viewers and frames go on).
   */
  annotate(analyzer: string, ref: FrameRef, data: unknown): Annotation | AnnotationRefusal {
    const a = this.annotations.add(analyzer, ref, data, nowMs());
    if ('refused' in a) return a;
    for (const sub of this.#admitted) sub.annotation?.(a);
    this.emit('annotation', a);
    return a;
  }

  /** A place for one more capped subscriber. */
  #hasPlace(): boolean {
    return this.cappedCount < this.#opts.maxClients;
  }

  #admit(sub: Subscriber): void {
    this.#admitted.add(sub);
    if (sub.uncapped) this.#uncapped++;
    (this.#tiers[sub.derived ? 0 : sub.sendFirst ? 1 : 2] as Set<Subscriber>).add(sub);
    this.totals.clientsServed++;
    this.emit('admitted', sub);
    if (!this.#producer) this.#startTransmission();
    else if (this.#held.length > 0) for (const f of this.#held.splice(0)) sub.offer(f);
    else if (this.#latest) sub.offer(this.#latest);
    const status = this.#producer?.describe().status;
    if (status?.state === 'no-signal') sub.sourceStatus?.(status);
    if (sub.annotation) for (const a of this.annotations.newest()) sub.annotation(a);
    // A source held at its first frame for this client goes on once the client can take more.
    if (this.#admitted.size === 1) this.drained();
  }

  #pause(): void {
    if (this.#paused || !this.#producer) return;
    this.#paused = true;
    this.#producer.pause();
  }

  /** preload: (re)start the source when it is not running, a little later after a failure. */
  #keepWarm(delayMs = 0): void {
    if (!this.#opts.preload || this.#closed || this.#producer || this.#restartTimer) return;
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      if (!this.#closed && !this.#producer) this.#startTransmission();
    }, delayMs);
    this.#restartTimer.unref();
  }

  #admitNext(): void {
    while (!this.#closed && this.#waiting.length > 0 && this.#hasPlace()) {
      const next = this.#waiting.shift() as Subscriber;
      this.#waiting.forEach((w, j) => w.waiting?.(j + 1));
      this.#admit(next);
    }
  }

  #startTransmission(): void {
    const producer = this.#opts.createProducer();
    this.#producer = producer;
    this.#latest = null;
    this.#held = [];
    this.#paused = false;
    this.totals.transmissions++;
    producer.on('frame', (frame) => this.#publish(producer, frame));
    producer.on('end', () => producer === this.#producer && this.#endTransmission('eof', null));
    producer.on('error', (err) => producer === this.#producer && this.#endTransmission('source-error', err));
    producer.on('annotation', (analyzer, seq, json) => {
      if (producer === this.#producer) this.annotate(analyzer, { seq }, json);
    });
    producer.on('status', (status) => {
      if (producer !== this.#producer) return;
      for (const sub of this.#admitted) sub.sourceStatus?.(status);
      this.emit('source-status', status);
    });
    this.emit('transmission-start', producer.describe());
    producer.start();
  }

  #publish(producer: FrameProducer, frame: Frame): void {
    if (producer !== this.#producer) return;
    this.#latest = frame;
    this.annotations.frame(frame.seq, frame.capturedAt);
    this.totals.framesIn++;
    this.totals.bytesIn += frame.jpeg.length;
    for (const t of this.#tiers) for (const sub of t) sub.offer(frame);
    this.emit('frame', frame);
    // Nobody admitted yet (warm or preloaded): keep this frame for the first client.
    if (this.#admitted.size === 0 && (this.#opts.holdFirstFrames ?? this.#opts.lossless)) {
      if (this.#held.length < MAX_HELD) this.#held.push(frame);
      this.#pause();
    } else if (this.#opts.lossless && !this.#paused) {
      for (const sub of this.#admitted) {
        if (sub.backlogged) {
          this.#paused = true;
          producer.pause();
          break;
        }
      }
    }
  }

  #endTransmission(reason: TransmissionEnd, err: FramecastError | null): void {
    const producer = this.#producer;
    this.#producer = null;
    if (producer) {
      this.#lastSource = producer.describe();
      producer.stop();
    }
    this.#latest = null;
    this.#held = [];
    this.#paused = false;
    this.annotations.reset();
    const endReason: EndReason = reason === 'idle' ? 'stopped' : reason;
    const served = [...this.#admitted];
    this.#admitted.clear();
    this.#uncapped = 0;
    for (const t of this.#tiers) t.clear();
    for (const sub of served) {
      // 'left' waits for leave() (the connection closed): the frame still in flight then counts.
      this.#closing.add(sub);
      sub.end(endReason);
    }
    if (producer || served.length > 0) this.emit('transmission-end', reason, err);
    if (this.#closed) return;
    this.#admitNext();
    this.#keepWarm(reason === 'source-error' ? 1000 : 0);
  }
}
