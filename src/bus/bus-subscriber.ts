import type { NatsConnection } from '@nats-io/transport-node';
import type { Frame } from '../hub/frame.js';
import type { SourceStatus } from '../hub/producer.js';
import { newSubscriberId, type EndReason, type Subscriber, type SubscriberStats } from '../hub/subscriber.js';
import type { Annotation } from '../meta/annotations.js';
import { MetaKind, encodeMeta, nativeFrameWire } from '../protocol/native.js';
import { publishFrame, type Subjects } from './bus.js';
import type { BusSigner } from './bus-sign.js';

/** What an origin publishes on PREFIX.s.STREAM.status (see docs/PROTOCOL.md, "Bus"). */
export type BusStatus = { state: 'live' | 'no-signal' } | { state: 'ended'; reason: EndReason };

/** How a BusSubscriber reaches its origin. */
export interface BusLink {
  nc: NatsConnection;
  subjects: Subjects;
  /** The origin process (announcement `instance`), sent with frames in parts. */
  instance: string;
  /** False while the connection is down: nats.js would buffer every frame without limit meanwhile. */
  up: () => boolean;
  /** Signs frames and status messages (a bus secret), or null. */
  signer: BusSigner | null;
}

/**
 * The bus as one more viewer of a stream: while any edge has viewers for the stream, this subscriber
 * is in the stream's hub (so the source runs, as for a local viewer) and publishes each frame once,
 * as the native FRAME message edges forward unchanged. It is served outside maxClients (edges cap
 * their own viewers), and tells the bus when the signal is lost or back and when the transmission ends.
 */
export class BusSubscriber implements Subscriber {
  readonly id = newSubscriberId();
  readonly protocol = 'bus';
  readonly address: string;
  readonly backlogged = false;
  readonly uncapped = true;
  readonly #link: BusLink;
  readonly #stream: string;
  readonly #onEnd: (reason: EndReason) => void;
  readonly #connectedAt = Date.now();
  #ended = false;
  #frames = 0;
  #bytes = 0;
  #skipped = 0;
  #latency: number | null = null;

  /** `onEnd`: the hub ended the transmission (this subscriber is out of the hub's list). */
  constructor(link: BusLink, stream: string, onEnd: (reason: EndReason) => void) {
    this.#link = link;
    this.#stream = stream;
    this.#onEnd = onEnd;
    this.address = `nats:${link.subjects.frame(stream)}`;
  }

  /** Frames not published because the bus was down. */
  get skipped(): number {
    return this.#skipped;
  }

  offer(frame: Frame): void {
    if (this.#link.nc.isClosed()) return;
    if (!this.#link.up()) {
      this.#skipped++;
      return;
    }
    const message = nativeFrameWire(frame);
    // The metadata first, on its own subject: the edge keeps it for the frame of the same seq.
    if (frame.meta)
      this.#meta(
        encodeMeta({
          seq: frame.seq,
          kind: MetaKind.Metadata,
          name: '',
          capturedAt: frame.capturedAt,
          json: frame.meta,
        }),
      );
    try {
      publishFrame(
        this.#link.nc,
        this.#link.subjects.frame(this.#stream),
        frame.seq,
        message,
        this.#link.instance,
        this.#link.signer,
      );
    } catch {
      // Closed or draining meanwhile: the next frame tells again; nothing to send it to now.
      return;
    }
    this.#frames++;
    this.#bytes += message.length;
    this.#latency = Date.now() - frame.capturedAt;
  }

  /** An analyzer's annotation at the origin goes to the edges (they file it by capture time). */
  annotation(a: Annotation): void {
    if (this.#link.nc.isClosed() || !this.#link.up()) return;
    this.#meta(
      encodeMeta({
        seq: a.seq,
        kind: MetaKind.Annotation,
        name: a.analyzer,
        capturedAt: a.capturedAt,
        json: a.json,
      }),
    );
  }

  #meta(data: Buffer): void {
    try {
      const subject = this.#link.subjects.meta(this.#stream);
      const signer = this.#link.signer;
      if (signer) this.#link.nc.publish(subject, data, { headers: signer.sign(subject, data) });
      else this.#link.nc.publish(subject, data);
    } catch {
      // Closed or draining meanwhile, as for frames.
    }
  }

  sourceStatus(status: SourceStatus): void {
    if (status.state !== 'starting') this.#status({ state: status.state });
  }

  end(reason: EndReason): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#status({ state: 'ended', reason });
    this.#onEnd(reason);
  }

  #status(status: BusStatus): void {
    const nc = this.#link.nc;
    if (nc.isClosed() || !this.#link.up()) return;
    try {
      const subject = this.#link.subjects.status(this.#stream);
      const data = Buffer.from(JSON.stringify(status));
      const signer = this.#link.signer;
      if (signer) nc.publish(subject, data, { headers: signer.sign(subject, data) });
      else nc.publish(subject, data);
    } catch {
      // As for frames: a connection closing now has no one left to tell.
    }
  }

  stats(): SubscriberStats {
    return {
      id: this.id,
      protocol: this.protocol,
      address: this.address,
      connectedAt: this.#connectedAt,
      framesSent: this.#frames,
      bytesSent: this.#bytes,
      drops: this.#skipped,
      lastLatencyMs: this.#latency,
    };
  }
}
