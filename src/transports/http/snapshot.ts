import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Frame } from '../../hub/frame.js';
import type { Hub } from '../../hub/hub.js';
import { newSubscriberId, type Subscriber, type SubscriberStats } from '../../hub/subscriber.js';
import { nowMs } from '../../util/clock.js';
import { annotationJson } from '../../meta/annotations.js';
import { NO_CACHE, peerOf, sendText, type HttpContext } from './respond.js';

/**
 * A subscriber that only wants one frame: joining the hub starts the source when nobody else is
 * watching; it leaves as soon as a frame arrives (the source then stops again if it was alone).
 */
class SnapshotSubscriber implements Subscriber {
  readonly id = newSubscriberId();
  readonly protocol = 'snapshot';
  readonly address: string;
  readonly backlogged = false;
  readonly #connectedAt = Date.now();
  readonly #done: (frame: Frame | null) => void;
  #settled = false;
  #latency: number | null = null;
  #bytes = 0;

  constructor(address: string, done: (frame: Frame | null) => void) {
    this.address = address;
    this.#done = done;
  }

  offer(frame: Frame): void {
    if (this.#settled) return;
    this.#latency = nowMs() - frame.capturedAt;
    this.#bytes = frame.jpeg.length;
    this.#settle(frame);
  }

  end(): void {
    this.#settle(null);
  }

  /** Gives up (timeout, or the hub refused it). */
  cancel(): void {
    this.#settle(null);
  }

  #settle(frame: Frame | null): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#done(frame);
  }

  stats(): SubscriberStats {
    return {
      id: this.id,
      protocol: this.protocol,
      address: this.address,
      connectedAt: this.#connectedAt,
      framesSent: this.#latency === null ? 0 : 1,
      bytesSent: this.#bytes,
      drops: 0,
      lastLatencyMs: this.#latency,
    };
  }
}

/**
 * The newest frame: the hub's current one, or, when nothing is being transmitted, the first frame of
 * a transmission started for this request. Resolves null after `timeoutMs`, or when the server is full
 * or the transmission ends first.
 */
export function newestFrame(hub: Hub, address: string, timeoutMs: number): Promise<Frame | null> {
  if (hub.latest) return Promise.resolve(hub.latest);
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | null = null;
    const sub = new SnapshotSubscriber(address, (frame) => {
      if (timer) clearTimeout(timer);
      // Leave outside the hub's delivery loop (offer() may run inside join() or a publish).
      setImmediate(() => hub.leave(sub));
      resolve(frame);
    });
    if (!hub.join(sub)) {
      sub.cancel();
      return;
    }
    timer = setTimeout(() => sub.cancel(), timeoutMs);
  });
}

/** GET /snapshot.jpg: one JPEG, or 503 when no frame came in time. */
export async function serveSnapshot(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HttpContext,
  timeoutMs: number,
  rendition: ((f: Frame) => Promise<Frame | null>) | null = null,
): Promise<void> {
  let closed = false;
  res.once('close', () => (closed = true));
  const newest = await newestFrame(ctx.hub, peerOf(req), timeoutMs);
  // Another size: the newest frame encoded at it (once per frame and size), without waiting for the next.
  const frame = newest && rendition ? await rendition(newest) : newest;
  if (closed) return;
  if (!frame) {
    sendText(res, 503, `no frame within ${timeoutMs / 1000} s (source not ready or server full)`, {
      ...ctx.cors,
      'Retry-After': '1',
    });
    return;
  }
  res.writeHead(200, {
    ...ctx.cors,
    'Content-Type': 'image/jpeg',
    'Content-Length': frame.jpeg.length,
    'X-Timestamp': (frame.capturedAt / 1000).toFixed(6),
    'X-Framecast-Seq': String(frame.seq),
    ...NO_CACHE,
  });
  res.end(req.method === 'HEAD' ? undefined : frame.jpeg);
}

/**
 * GET /snapshot.json: what is known of the newest frame, without its pixels: `{"seq", "capturedAt",
 * "width", "height", "meta" (the publisher's metadata or null), "annotations" (each analyzer's newest
 * of a recent frame, as viewers get them)}`, or 503 as /snapshot.jpg.
 */
export async function serveSnapshotJson(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HttpContext,
  timeoutMs: number,
): Promise<void> {
  let closed = false;
  res.once('close', () => (closed = true));
  const frame = await newestFrame(ctx.hub, peerOf(req), timeoutMs);
  if (closed) return;
  if (!frame) {
    sendText(res, 503, `no frame within ${timeoutMs / 1000} s (source not ready or server full)`, {
      ...ctx.cors,
      'Retry-After': '1',
    });
    return;
  }
  const annotations = ctx.hub.annotations.newest().map(annotationJson).join(',');
  const meta = frame.meta ? frame.meta.toString('utf8') : 'null';
  const body = Buffer.from(
    `{"seq":${frame.seq},"capturedAt":${frame.capturedAt},"width":${frame.width},"height":${frame.height},` +
      `"meta":${meta},"annotations":[${annotations}]}\n`,
    'utf8',
  );
  res.writeHead(200, {
    ...ctx.cors,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': body.length,
    ...NO_CACHE,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
