/**
 * Hand-driven stand-ins for the hub's collaborators: a producer whose frames and end the test emits,
 * and a subscriber that records what the hub did to it.
 */
import { Hub, type HubOptions, type TransmissionEnd } from '../../src/hub/hub.js';
import type { FramecastError } from '../../src/errors.js';
import { EventEmitter } from 'node:events';
import { Frame } from '../../src/hub/frame.js';
import type {
  FrameProducer,
  ProducerEvents,
  SourceDescription,
  SourceStatus,
} from '../../src/hub/producer.js';
import type { EndReason, Subscriber, SubscriberStats } from '../../src/hub/subscriber.js';

/** A producer the test drives by hand. */
export class FakeProducer extends EventEmitter<ProducerEvents> implements FrameProducer {
  started = 0;
  stopped = 0;
  paused = false;
  pauses = 0;
  resumes = 0;
  /** What describe() reports as the signal state (a retrying live source has one). */
  status: SourceStatus | undefined = undefined;
  #seq = 0;
  constructor(readonly index: number) {
    super();
  }
  start(): void {
    this.started++;
  }
  stop(): void {
    this.stopped++;
  }
  pause(): void {
    this.paused = true;
    this.pauses++;
  }
  resume(): void {
    this.paused = false;
    this.resumes++;
  }
  describe(): SourceDescription {
    const d: SourceDescription = {
      kind: 'fake',
      name: `fake#${this.index}`,
      width: 8,
      height: 8,
      inputFps: 30,
    };
    if (this.status) d.status = this.status;
    return d;
  }
  /** Emits a new frame and returns it. */
  frame(): Frame {
    const f = new Frame({
      seq: this.#seq++,
      width: 8,
      height: 8,
      capturedAt: 0,
      encodedAt: 0,
      jpeg: Buffer.alloc(10),
    });
    this.emit('frame', f);
    return f;
  }
}

let nextId = 1000;

/** A subscriber that records what the hub does to it. */
export class FakeSub implements Subscriber {
  readonly id = nextId++;
  readonly protocol = 'fake';
  readonly address: string;
  readonly offered: Frame[] = [];
  readonly positions: number[] = [];
  readonly statuses: SourceStatus[] = [];
  readonly uncapped: boolean;
  ended: EndReason | null = null;
  backlogged = false;
  constructor(name: string, opts: { uncapped?: boolean } = {}) {
    this.address = name;
    this.uncapped = opts.uncapped ?? false;
  }
  offer(frame: Frame): void {
    this.offered.push(frame);
  }
  end(reason: EndReason): void {
    this.ended ??= reason;
  }
  waiting(position: number): void {
    this.positions.push(position);
  }
  sourceStatus(status: SourceStatus): void {
    this.statuses.push(status);
  }
  stats(): SubscriberStats {
    return {
      id: this.id,
      protocol: this.protocol,
      address: this.address,
      connectedAt: 0,
      framesSent: this.offered.length,
      bytesSent: 0,
      drops: 0,
      lastLatencyMs: null,
    };
  }
}

/**
 * A hub whose producers are FakeProducers, or what `make` makes (the newest is `current()`), recording
 * transmission ends.
 */
export function setup<P extends FakeProducer = FakeProducer>(
  opts: Partial<Omit<HubOptions, 'createProducer'>> = {},
  make: (index: number) => P = (index) => new FakeProducer(index) as P,
) {
  const producers: P[] = [];
  const hub = new Hub({
    createProducer: () => {
      const p = make(producers.length);
      producers.push(p);
      return p;
    },
    maxClients: 100,
    maxWaiting: 1000,
    lossless: false,
    ...opts,
  });
  const ends: Array<{ reason: TransmissionEnd; err: FramecastError | null }> = [];
  hub.on('transmission-end', (reason, err) => ends.push({ reason, err }));
  const current = (): P => producers[producers.length - 1] as P;
  return { hub, producers, ends, current };
}
