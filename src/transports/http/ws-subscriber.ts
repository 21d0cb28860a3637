import { WebSocket } from 'ws';
import type { Frame } from '../../hub/frame.js';
import type { EndReason } from '../../hub/subscriber.js';
import { annotationJson, type Annotation } from '../../meta/annotations.js';
import { LatestFrameSubscriber, type LatestFrameOptions } from '../latest-frame-subscriber.js';
import { wsFrameMessage, wsMetaMessage } from './ws-message.js';

/** Settings of one WebSocket viewer. */
export interface WsSubscriberOptions extends LatestFrameOptions {
  /** `?meta=1`: each frame's metadata as a text message just before it. */
  meta?: boolean;
  /** `?annotations=1`: analyzers' annotations as text messages. */
  annotations?: boolean;
  /** Takes no place under maxClients (a preview served by a rendition's hub). */
  uncapped?: boolean;
}

/** A viewer this far behind (bytes buffered) gets no annotations until it catches up. */
export const MAX_BUFFERED_FOR_ANNOTATIONS = 1024 * 1024;

/** Close codes a viewer can act on: a clean end of transmission vs the server going away. */
export const WS_CLOSE = { normal: 1000, goingAway: 1001, tryAgainLater: 1013 } as const;

/**
 * Latest-frame-wins delivery over a WebSocket. A frame is sent only when nothing is buffered for this
 * socket (`bufferedAmount` is 0 and the previous send completed); otherwise it waits in a single slot
 * that a newer frame replaces (a counted drop). Nothing queues up behind a slow viewer.
 */
export class WsSubscriber extends LatestFrameSubscriber {
  readonly uncapped: boolean;
  readonly #ws: WebSocket;
  readonly #meta: boolean;
  readonly #annotations: boolean;
  #annotationDrops = 0;

  constructor(ws: WebSocket, opts: WsSubscriberOptions) {
    super(opts);
    this.#ws = ws;
    this.uncapped = opts.uncapped === true;
    this.#meta = opts.meta === true;
    this.#annotations = opts.annotations === true;
    ws.once('close', () => this.closed());
  }

  protected get open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  protected override ready(): boolean {
    return this.#ws.bufferedAmount === 0;
  }

  protected transmit(frame: Frame, done: (bytes: number | null) => void): void {
    const msg = wsFrameMessage(frame);
    let meta = 0;
    if (this.#meta && frame.meta) {
      const text = wsMetaMessage(frame);
      meta = text.length;
      this.#ws.send(text, { binary: false });
    }
    this.#ws.send(msg, { binary: true }, (err) => done(err ? null : msg.length + meta));
  }

  /**
   * Sends an annotation (a text message) to a viewer that asked for them; dropped (counted) while
   * the viewer is more than MAX_BUFFERED_FOR_ANNOTATIONS behind, as its frames are.
   */
  annotation(a: Annotation): void {
    if (!this.#annotations || !this.open) return;
    if (this.#ws.bufferedAmount > MAX_BUFFERED_FOR_ANNOTATIONS) {
      this.#annotationDrops++;
      return;
    }
    this.#ws.send(annotationJson(a), { binary: false });
  }

  /** Annotations not sent because the viewer was behind. */
  get annotationDrops(): number {
    return this.#annotationDrops;
  }

  /** Tells a waiting viewer its place in line (a text message; frames are binary). */
  waiting(position: number): void {
    if (this.open) this.#ws.send(JSON.stringify({ type: 'waiting', position }));
  }

  protected finish(reason: EndReason): void {
    // 1001 tells the viewer the server is going away (reconnect later); 1000 that the transmission ended.
    this.#ws.close(reason === 'shutdown' ? WS_CLOSE.goingAway : WS_CLOSE.normal, reason);
  }

  protected destroy(): void {
    this.#ws.terminate();
  }
}
