import type { Frame } from '../hub/frame.js';
import {
  newSubscriberId,
  type EndReason,
  type Handover,
  type Subscriber,
  type SubscriberStats,
} from '../hub/subscriber.js';
import { nowMs } from '../util/clock.js';

/** Settings every latest-frame-wins subscriber shares. */
export interface LatestFrameOptions {
  protocol: string;
  address: string;
  /** Lossless (--no-pace): queue up to `maxQueue` frames instead of replacing the pending one. */
  lossless: boolean;
  maxQueue?: number;
  /** Called when a backlog was sent (the hub may resume a paused source). */
  onDrained: () => void;
  /** A client that does not take its last frames within this time is cut. */
  endTimeoutMs?: number;
  /** Offered each frame before seed viewers (see Subscriber.sendFirst). */
  sendFirst?: boolean;
  /** The stream this client watches (default `default`). */
  streamName?: string;
  /** At most this many frames a second for this client (frames in between are not offered), or none. */
  maxFps?: number | null;
}

/**
 * Latest-frame-wins delivery, whatever carries the bytes. At most one frame is being sent per client;
 * the next goes out only once the transport says the previous one left user space, and a newer frame
 * replaces a waiting one (a counted drop). Memory per client is bounded by one frame, and a slow client
 * never delays anyone else. Subclasses supply the transport: how to send, when it is ready, how to close.
 */
export abstract class LatestFrameSubscriber implements Subscriber {
  readonly id = newSubscriberId();
  readonly protocol: string;
  readonly address: string;
  readonly sendFirst: boolean;
  readonly stream: string;
  readonly #queue: Frame[] = [];
  readonly #maxQueue: number;
  readonly #onDrained: () => void;
  readonly #endTimeoutMs: number;
  readonly #connectedAt = Date.now();
  #sending = false;
  #ending: EndReason | null = null;
  #endTimer: NodeJS.Timeout | null = null;
  #framesSent = 0;
  #bytesSent = 0;
  #drops = 0;
  #lastLatency: number | null = null;
  #sendStartedAt = 0;
  /** With maxFps: the least capture-time gap between two frames taken, and the last one taken. */
  readonly #minGapMs: number;
  #takenAt = -Infinity;
  /** The frame last handed to the transport. */
  #lastSent: Frame | null = null;
  /** Frames a subscriber this one took over from has already sent or handed on (see takeOver). */
  #seen: Set<Frame> | null = null;

  protected constructor(opts: LatestFrameOptions) {
    // 10% slack: a source's jitter must not make a 5 fps viewer skip every other frame of 10 fps.
    this.#minGapMs = opts.maxFps ? (1000 / opts.maxFps) * 0.9 : 0;
    this.protocol = opts.protocol;
    this.address = opts.address;
    this.sendFirst = opts.sendFirst ?? false;
    this.stream = opts.streamName ?? 'default';
    this.#maxQueue = opts.lossless ? Math.max(1, opts.maxQueue ?? 8) : 1;
    this.#onDrained = opts.onDrained;
    this.#endTimeoutMs = opts.endTimeoutMs ?? 5000;
  }

  /** True while the transport can still carry frames. */
  protected abstract get open(): boolean;

  /** Sends one frame; calls `done(bytes)` once it left user space, `done(null)` if it failed. */
  protected abstract transmit(frame: Frame, done: (bytes: number | null) => void): void;

  /** Closes the transport cleanly once the last frame is out. */
  protected abstract finish(reason: EndReason): void;

  /** Tears the transport down (a client that would not take its last frames in time). */
  protected abstract destroy(): void;

  /** Whether the transport can take a frame now, beyond no send being in progress. */
  protected ready(): boolean {
    return true;
  }

  /**
   * True while the client's own flow control holds frames back. Unlike `ready()` (asked only before a
   * send from idle, so a transport's momentary buffering never strands a backlog), a hold is asked
   * before every send, and a subclass that holds must call `retry()` when the hold lifts.
   */
  protected held(): boolean {
    return false;
  }

  /** Subclasses call this when the transport closed: nothing waits any longer. */
  protected closed(): void {
    this.#queue.length = 0;
    if (this.#endTimer) clearTimeout(this.#endTimer);
    this.#endTimer = null;
  }

  get backlogged(): boolean {
    return this.#queue.length > 0;
  }

  /** How long the frame being sent has been waiting for the transport (0 when idle). */
  stalledMs(now: number): number {
    return this.#sending && this.open ? now - this.#sendStartedAt : 0;
  }

  offer(frame: Frame): void {
    if (!this.open || this.#ending) return;
    if (this.#seen) {
      if (this.#seen.has(frame)) return;
      this.#seen = null;
    }
    if (this.#minGapMs > 0) {
      // A chosen rate, not a slow client: the frames between are not this viewer's (no drop counted).
      if (frame.capturedAt - this.#takenAt < this.#minGapMs && frame.capturedAt >= this.#takenAt) return;
      this.#takenAt = frame.capturedAt;
    }
    if (!this.#sending && this.ready() && !this.held()) {
      this.#send(frame);
      return;
    }
    if (this.#queue.length >= this.#maxQueue) {
      this.#queue.shift();
      this.#drops++;
    }
    this.#queue.push(frame);
  }

  /** What this subscriber leaves when another takes its connection over (call before closing). */
  protected handover(): Handover {
    return { sent: this.#lastSent, pending: [...this.#queue] };
  }

  takeOver(from: Handover): void {
    const seen = new Set<Frame>(from.pending);
    if (from.sent) seen.add(from.sent);
    for (const f of from.pending) this.offer(f);
    this.#seen = seen;
  }

  #send(frame: Frame): void {
    this.#sending = true;
    this.#lastSent = frame;
    const now = nowMs();
    this.#sendStartedAt = now;
    this.#lastLatency = now - frame.capturedAt;
    this.transmit(frame, (bytes) => {
      this.#sending = false;
      if (bytes === null || !this.open) return;
      this.#framesSent++;
      this.#bytesSent += bytes;
      this.#next();
    });
  }

  #next(): void {
    if (this.#queue.length > 0) {
      // A flow-control hold (e.g. a full ACK window): the subclass calls retry() when it lifts.
      if (this.held()) return;
      this.#send(this.#queue.shift() as Frame);
      if (this.#queue.length === 0) this.#onDrained();
      return;
    }
    if (this.#ending) this.finish(this.#ending);
  }

  /** Subclasses call this when a hold lifted (see `held()`): sends the pending frame, if any. */
  protected retry(): void {
    if (!this.#sending && this.open && this.#queue.length > 0) this.#next();
  }

  end(reason: EndReason): void {
    if (this.#ending || !this.open) return;
    this.#ending = reason;
    this.#endTimer = setTimeout(() => this.destroy(), this.#endTimeoutMs);
    this.#endTimer.unref();
    if (!this.#sending) this.#next();
  }

  stats(): SubscriberStats {
    return {
      id: this.id,
      protocol: this.protocol,
      address: this.address,
      stream: this.stream,
      connectedAt: this.#connectedAt,
      framesSent: this.#framesSent,
      bytesSent: this.#bytesSent,
      drops: this.#drops,
      lastLatencyMs: this.#lastLatency,
    };
  }
}
