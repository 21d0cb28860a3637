import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { FramecastServer } from '../app/framecast-server.js';
import type { Frame } from '../hub/frame.js';
import { newSubscriberId, type EndReason, type Subscriber, type SubscriberStats } from '../hub/subscriber.js';
import { nativeFrameWire } from '../protocol/native.js';
import type { Stream } from '../streams/stream.js';
import { publishFrame, type Subjects } from './bus.js';

/** An edge's demand counts for this long after its last message (edges repeat it every second). */
export const DEMAND_TTL_MS = 3000;
/** Origins announce their streams this often. */
export const ANNOUNCE_MS = 2000;

/**
 * The bus as one more viewer of a stream: while any edge has viewers for the stream, this subscriber
 * is in the stream's hub (so the source runs, as for a local viewer) and publishes each frame once,
 * as the native FRAME message edges forward unchanged.
 */
class BusSubscriber implements Subscriber {
  readonly id = newSubscriberId();
  readonly protocol = 'bus';
  readonly address: string;
  readonly backlogged = false;
  readonly #nc: NatsConnection;
  readonly #subject: string;
  readonly #connectedAt = Date.now();
  #frames = 0;
  #bytes = 0;
  #latency: number | null = null;

  constructor(nc: NatsConnection, subject: string) {
    this.#nc = nc;
    this.#subject = subject;
    this.address = `nats:${subject}`;
  }

  offer(frame: Frame): void {
    if (this.#nc.isClosed()) return;
    const message = nativeFrameWire(frame);
    publishFrame(this.#nc, this.#subject, frame.seq, message);
    this.#frames++;
    this.#bytes += message.length;
    this.#latency = Date.now() - frame.capturedAt;
  }

  end(_reason: EndReason): void {}

  stats(): SubscriberStats {
    return {
      id: this.id,
      protocol: this.protocol,
      address: this.address,
      connectedAt: this.#connectedAt,
      framesSent: this.#frames,
      bytesSent: this.#bytes,
      drops: 0,
      lastLatencyMs: this.#latency,
    };
  }
}

/** The viewer count in a demand message (0 when it is not one). */
function demandOf(data: Uint8Array): number {
  try {
    return Number((JSON.parse(new TextDecoder().decode(data)) as { viewers?: unknown }).viewers) || 0;
  } catch {
    return 0;
  }
}

/**
 * Makes a server an origin: it announces its streams on the bus, and publishes a stream's frames
 * while edges ask for them (their demand), starting the source for them as a local viewer would.
 */
export class BusOrigin {
  readonly #server: FramecastServer;
  readonly #nc: NatsConnection;
  readonly #subjects: Subjects;
  readonly #name: string;
  readonly #demand = new Map<string, number>();
  readonly #subs = new Map<Stream, BusSubscriber>();
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #sub: Subscription;

  constructor(server: FramecastServer, nc: NatsConnection, subjects: Subjects, name: string) {
    this.#server = server;
    this.#nc = nc;
    this.#subjects = subjects;
    this.#name = name;
    this.#sub = nc.subscribe(subjects.anyDemand, {
      callback: (err, msg) => {
        if (err) return;
        const stream = subjects.streamOf(msg.subject);
        if (stream && demandOf(msg.data) > 0) {
          this.#demand.set(stream, Date.now() + DEMAND_TTL_MS);
          this.#tick();
        }
      },
    });
    server.streams.on('removed', (s) => this.#subs.delete(s));
    this.#timers.push(
      setInterval(() => this.#tick(), 500),
      setInterval(() => this.announce(), ANNOUNCE_MS),
    );
    for (const t of this.#timers) t.unref();
    this.announce();
  }

  /** Publishes the list of this origin's streams. */
  announce(): void {
    if (this.#nc.isClosed()) return;
    const streams = this.#server.streams.list().map((s) => ({
      name: s.name,
      width: s.hub.source?.width ?? null,
      height: s.hub.source?.height ?? null,
    }));
    this.#nc.publish(this.#subjects.streams, JSON.stringify({ origin: this.#name, streams }));
  }

  #tick(): void {
    const now = Date.now();
    for (const stream of this.#server.streams.list()) {
      const wanted = (this.#demand.get(stream.name) ?? 0) > now;
      const sub = this.#subs.get(stream);
      if (wanted && !sub) {
        const s = new BusSubscriber(this.#nc, this.#subjects.frame(stream.name));
        if (stream.hub.join(s)) this.#subs.set(stream, s);
      } else if (!wanted && sub) {
        this.#subs.delete(stream);
        stream.hub.leave(sub);
      }
    }
  }

  /** Leaves every hub and stops announcing (the connection is closed by its owner). Idempotent. */
  close(): void {
    for (const t of this.#timers.splice(0)) clearInterval(t);
    for (const [stream, sub] of this.#subs) stream.hub.leave(sub);
    this.#subs.clear();
    if (!this.#nc.isClosed()) this.#sub.unsubscribe();
  }
}
