import { randomUUID } from 'node:crypto';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { FramecastServer } from '../app/framecast-server.js';
import type { Frame } from '../hub/frame.js';
import { newSubscriberId, type EndReason, type Subscriber, type SubscriberStats } from '../hub/subscriber.js';
import { nativeFrameWire } from '../protocol/native.js';
import type { Stream } from '../streams/stream.js';
import { publishFrame, type Subjects } from './bus.js';
import { ANNOUNCE_MS, announcedDigest, askSubject, type Announcement } from './announcement.js';

export { ANNOUNCE_MS } from './announcement.js';

/** An edge's demand counts for this long after its last message (edges repeat it every second). */
export const DEMAND_TTL_MS = 3000;

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
  readonly #asked: Subscription;
  /** Tells this process from an earlier one of the same name (a restarted origin). */
  readonly #instance = randomUUID();
  #announceSoon: NodeJS.Immediate | null = null;
  #closed = false;

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
    this.#asked = nc.subscribe(askSubject(subjects), { callback: () => this.#changed() });
    server.streams.on('removed', (s) => {
      this.#subs.delete(s);
      this.#changed();
    });
    server.streams.on('added', () => this.#changed());
    this.#timers.push(
      setInterval(() => this.#tick(), 500),
      setInterval(() => this.announce(), ANNOUNCE_MS),
    );
    for (const t of this.#timers) t.unref();
    this.announce();
  }

  /** Publishes the list of this origin's streams (a readToken as its salted digest, never itself). */
  announce(): void {
    if (this.#nc.isClosed()) return;
    const streams = this.#server.streams.list().map((s) => ({
      name: s.name,
      width: s.hub.source?.width ?? null,
      height: s.hub.source?.height ?? null,
      ...(s.config.readToken !== null
        ? { readTokenDigest: announcedDigest(s.name, s.config.readToken) }
        : {}),
    }));
    const a: Announcement = { origin: this.#name, instance: this.#instance, streams };
    this.#nc.publish(this.#subjects.streams, JSON.stringify(a));
  }

  /**
   * A stream added, changed or removed: edges hear it at once rather than up to 2 s later. One
   * announcement after the whole change (a restart is 'removed' then 'added' in the same tick).
   */
  #changed(): void {
    if (this.#closed) return;
    this.#announceSoon ??= setImmediate(() => {
      this.#announceSoon = null;
      this.announce();
    });
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
    this.#closed = true;
    for (const t of this.#timers.splice(0)) clearInterval(t);
    if (this.#announceSoon) clearImmediate(this.#announceSoon);
    this.#announceSoon = null;
    for (const [stream, sub] of this.#subs) stream.hub.leave(sub);
    this.#subs.clear();
    if (!this.#nc.isClosed()) {
      this.#sub.unsubscribe();
      this.#asked.unsubscribe();
    }
  }
}
