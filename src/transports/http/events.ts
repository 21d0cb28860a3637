import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Frame } from '../../hub/frame.js';
import {
  newSubscriberId,
  type EndReason,
  type Subscriber,
  type SubscriberStats,
} from '../../hub/subscriber.js';
import { annotationJson, type Annotation } from '../../meta/annotations.js';
import { nowMs } from '../../util/clock.js';
import { admit } from '../admission.js';
import { NO_CACHE, peerOf, sendText, type HttpContext } from './respond.js';
import { wsMetaMessage } from './ws-message.js';

/** A comment line this often keeps proxies and readers from timing the stream out. */
export const HEARTBEAT_MS = 15_000;
/** Events waiting in a connection's buffer beyond this are dropped (counted) until it drains. */
export const MAX_EVENT_BACKLOG = 256 * 1024;
/** Event streams one stream serves at once (they take no viewer place: this is their own cap). */
export const MAX_EVENT_STREAMS = 100;

/**
 * One `GET /streams/NAME/events` connection: a hub subscriber that takes every frame and sends no
 * picture, only `event: meta` for a frame with metadata and `event: annotation` for each annotation
 * (the WebSocket's JSON texts). It is `uncapped`: it carries no JPEG, so it costs what the events
 * cost, not a viewer's bandwidth, and a program reading events never keeps a viewer out (the
 * endpoint caps event streams itself, MAX_EVENT_STREAMS). It starts the source like a viewer and
 * ends with the transmission like one (`event: end`, then the response ends).
 */
export class EventStreamSubscriber implements Subscriber {
  readonly id = newSubscriberId();
  readonly protocol = 'sse';
  readonly address: string;
  readonly stream: string;
  readonly uncapped = true;
  readonly backlogged = false;
  readonly #res: ServerResponse;
  readonly #connectedAt = Date.now();
  readonly #heartbeat: NodeJS.Timeout;
  #events = 0;
  #bytes = 0;
  #drops = 0;
  #latency: number | null = null;
  #ended = false;

  constructor(res: ServerResponse, address: string, stream: string) {
    this.#res = res;
    this.address = address;
    this.stream = stream;
    this.#heartbeat = setInterval(() => this.#write(': heartbeat\n\n', false), HEARTBEAT_MS);
    this.#heartbeat.unref();
    res.once('close', () => {
      this.#ended = true;
      clearInterval(this.#heartbeat);
    });
  }

  offer(frame: Frame): void {
    if (!frame.meta) return;
    if (this.#write(`event: meta\ndata: ${wsMetaMessage(frame).toString('utf8')}\n\n`))
      this.#latency = nowMs() - frame.capturedAt;
  }

  annotation(a: Annotation): void {
    this.#write(`event: annotation\ndata: ${annotationJson(a)}\n\n`);
  }

  end(reason: EndReason): void {
    if (this.#ended) return;
    this.#write(`event: end\ndata: {"type":"end","reason":"${reason}"}\n\n`, false);
    this.#ended = true;
    clearInterval(this.#heartbeat);
    this.#res.end();
  }

  /** Writes one event; false when it was dropped (the peer is not reading) or the stream is over. */
  #write(text: string, counted = true): boolean {
    if (this.#ended || this.#res.destroyed) return false;
    if (this.#res.writableLength > MAX_EVENT_BACKLOG) {
      if (counted) this.#drops++;
      return false;
    }
    this.#res.write(text);
    if (counted) {
      this.#events++;
      this.#bytes += Buffer.byteLength(text);
    }
    return true;
  }

  stats(): SubscriberStats {
    return {
      id: this.id,
      protocol: this.protocol,
      address: this.address,
      stream: this.stream,
      connectedAt: this.#connectedAt,
      framesSent: this.#events,
      bytesSent: this.#bytes,
      drops: this.#drops,
      lastLatencyMs: this.#latency,
    };
  }
}

/** GET /streams/NAME/events: Server-Sent Events of the stream's metadata and annotations. */
export class EventsEndpoint {
  readonly #ctx: HttpContext;
  readonly #open = new Set<EventStreamSubscriber>();

  constructor(ctx: HttpContext) {
    this.#ctx = ctx;
  }

  serve(req: IncomingMessage, res: ServerResponse): void {
    const ctx = this.#ctx;
    if (this.#open.size >= MAX_EVENT_STREAMS) {
      ctx.onRefused(peerOf(req), `events of ${ctx.streamName}: ${MAX_EVENT_STREAMS} event streams already`);
      return sendText(res, 503, `this stream already has ${MAX_EVENT_STREAMS} event streams`, {
        ...ctx.cors,
        'Retry-After': '5',
      });
    }
    res.writeHead(200, {
      ...ctx.cors,
      'Content-Type': 'text/event-stream; charset=utf-8',
      ...NO_CACHE,
      'X-Accel-Buffering': 'no',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    req.socket.setNoDelay(true);
    // The first bytes tell a reader the stream is open before any event comes.
    res.write(': framecast events\n\n');
    const sub = new EventStreamSubscriber(res, peerOf(req), ctx.streamName);
    this.#open.add(sub);
    res.once('close', () => this.#open.delete(sub));
    res.on('error', () => res.destroy());
    admit(ctx.hub, sub, { onceClosed: (fn) => res.once('close', fn), refuse: () => res.destroy() }, ctx);
  }
}
