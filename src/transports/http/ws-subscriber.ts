import { WebSocket } from 'ws';
import type { Frame } from '../../hub/frame.js';
import {
  newSubscriberId,
  type EndReason,
  type Subscriber,
  type SubscriberStats,
} from '../../hub/subscriber.js';
import { nowMs } from '../../util/clock.js';
import { wsFrameMessage } from './ws-message.js';

/** Settings of one WebSocket viewer. */
export interface WsSubscriberOptions {
  protocol: string;
  address: string;
  /** --no-pace: keep up to `maxQueue` frames instead of replacing the waiting one. */
  lossless: boolean;
  maxQueue?: number;
  /** Called when a backlog was sent (the hub may resume a paused source). */
  onDrained: () => void;
}

/** Close codes a viewer can act on: a clean end of transmission vs the server going away. */
export const WS_CLOSE = { normal: 1000, goingAway: 1001, tryAgainLater: 1013 } as const;

/**
 * Latest-frame-wins delivery over a WebSocket. A frame is sent only when nothing is buffered for this
 * socket (`bufferedAmount` is 0 and the previous send completed); otherwise it waits in a single slot
 * that a newer frame replaces (a counted drop). Nothing queues up behind a slow viewer.
 */
export class WsSubscriber implements Subscriber {
  readonly id = newSubscriberId();
  readonly protocol: string;
  readonly address: string;
  readonly #ws: WebSocket;
  readonly #opts: WsSubscriberOptions;
  readonly #queue: Frame[] = [];
  readonly #maxQueue: number;
  readonly #connectedAt = Date.now();
  #sending = false;
  #ending: EndReason | null = null;
  #framesSent = 0;
  #bytesSent = 0;
  #drops = 0;
  #lastLatency: number | null = null;
  #sendStartedAt = 0;

  constructor(ws: WebSocket, opts: WsSubscriberOptions) {
    this.#ws = ws;
    this.#opts = opts;
    this.protocol = opts.protocol;
    this.address = opts.address;
    this.#maxQueue = opts.lossless ? Math.max(1, opts.maxQueue ?? 8) : 1;
    ws.once('close', () => (this.#queue.length = 0));
  }

  get backlogged(): boolean {
    return this.#queue.length > 0;
  }

  stalledMs(now: number): number {
    return this.#sending && this.#open ? now - this.#sendStartedAt : 0;
  }

  get #open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  offer(frame: Frame): void {
    if (!this.#open || this.#ending) return;
    if (!this.#sending && this.#ws.bufferedAmount === 0) {
      this.#send(frame);
      return;
    }
    if (this.#queue.length >= this.#maxQueue) {
      this.#queue.shift();
      this.#drops++;
    }
    this.#queue.push(frame);
  }

  #send(frame: Frame): void {
    const msg = wsFrameMessage(frame);
    this.#sending = true;
    const now = nowMs();
    this.#sendStartedAt = now;
    this.#lastLatency = now - frame.capturedAt;
    this.#ws.send(msg, { binary: true }, (err) => {
      this.#sending = false;
      if (err || !this.#open) return;
      this.#framesSent++;
      this.#bytesSent += msg.length;
      this.#next();
    });
  }

  #next(): void {
    const next = this.#queue.shift();
    if (next) {
      this.#send(next);
      if (this.#queue.length === 0) this.#opts.onDrained();
      return;
    }
    if (this.#ending) this.#close();
  }

  /** Tells a waiting viewer its place in line (a text message; frames are binary). */
  waiting(position: number): void {
    if (this.#open) this.#ws.send(JSON.stringify({ type: 'waiting', position }));
  }

  end(reason: EndReason): void {
    if (this.#ending || !this.#open) return;
    this.#ending = reason;
    const timer = setTimeout(() => this.#ws.terminate(), 5000);
    timer.unref();
    this.#ws.once('close', () => clearTimeout(timer));
    if (!this.#sending) this.#next();
  }

  #close(): void {
    const reason = this.#ending ?? 'stopped';
    // 1001 tells the viewer the server is going away (reconnect later); 1000 that the transmission ended.
    this.#ws.close(reason === 'shutdown' ? WS_CLOSE.goingAway : WS_CLOSE.normal, reason);
  }

  stats(): SubscriberStats {
    return {
      id: this.id,
      protocol: this.protocol,
      address: this.address,
      connectedAt: this.#connectedAt,
      framesSent: this.#framesSent,
      bytesSent: this.#bytesSent,
      drops: this.#drops,
      lastLatencyMs: this.#lastLatency,
    };
  }
}
