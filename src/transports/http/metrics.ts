import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Frame } from '../../hub/frame.js';
import type { Hub } from '../../hub/hub.js';
import type { SubscriberStats } from '../../hub/subscriber.js';
import type { StatsSampler } from './stats.js';

const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5];

/**
 * Prometheus metrics of one server, in a registry of its own (several servers may share a process).
 * Counters of sent/dropped frames are read from the clients' own counters at scrape time, so the
 * delivery path pays nothing for them; latency is sampled once per frame a client actually sent.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #hub: Hub;
  readonly #encoded: Counter;
  readonly #encodeSeconds: Histogram;
  readonly #latency: Histogram<'protocol'>;
  readonly #lastSent = new Map<number, number>();
  readonly #onFrame = (f: Frame): void => this.#frame(f);
  readonly #onLeft = (s: SubscriberStats): void => {
    this.#lastSent.delete(s.id);
  };

  constructor(hub: Hub, sampler: StatsSampler) {
    this.#hub = hub;
    const registers = [this.registry];
    this.#encoded = new Counter({
      name: 'framecast_frames_encoded_total',
      help: 'Frames the source produced and the encoder turned into JPEG',
      registers,
    });
    this.#encodeSeconds = new Histogram({
      name: 'framecast_encode_seconds',
      help: 'Time from a decoded frame to its JPEG (queueing in the encoder pool included)',
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.#latency = new Histogram({
      name: 'framecast_latency_seconds',
      help: 'Capture-to-send delay of frames sent to clients, by protocol',
      labelNames: ['protocol'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    const perProtocol = (name: string, help: string, key: 'framesSent' | 'drops' | 'bytesSent'): void => {
      new Counter({
        name,
        help,
        labelNames: ['protocol'],
        registers,
        collect() {
          this.reset();
          for (const [protocol, t] of sampler.totalsByProtocol()) this.inc({ protocol }, t[key]);
        },
      });
    };
    perProtocol('framecast_frames_sent_total', 'Frames written to clients, by protocol', 'framesSent');
    perProtocol(
      'framecast_frames_dropped_total',
      'Frames replaced by a newer one before a slow client could take them, by protocol',
      'drops',
    );
    perProtocol('framecast_bytes_sent_total', 'Bytes written to clients, by protocol', 'bytesSent');
    new Gauge({
      name: 'framecast_clients',
      help: 'Clients being served now, by protocol',
      labelNames: ['protocol'],
      registers,
      collect() {
        this.reset();
        for (const c of hub.clients) this.inc({ protocol: c.protocol });
      },
    });
    new Gauge({
      name: 'framecast_clients_waiting',
      help: 'Clients waiting for a place (max-clients reached)',
      registers,
      collect() {
        this.set(hub.waitingCount);
      },
    });
    new Gauge({
      name: 'framecast_transmitting',
      help: '1 while a transmission runs, else 0',
      registers,
      collect() {
        this.set(hub.transmitting ? 1 : 0);
      },
    });
    new Counter({
      name: 'framecast_transmissions_total',
      help: 'Transmissions started (the first client starts one)',
      registers,
      collect() {
        this.reset();
        this.inc(hub.totals.transmissions);
      },
    });
    hub.on('frame', this.#onFrame);
    hub.on('left', this.#onLeft);
  }

  #frame(f: Frame): void {
    this.#encoded.inc();
    this.#encodeSeconds.observe(Math.max(0, f.encodedAt - f.capturedAt) / 1000);
    for (const c of this.#hub.clients) {
      const s = c.stats();
      if (s.lastLatencyMs === null || s.framesSent === (this.#lastSent.get(s.id) ?? 0)) continue;
      this.#lastSent.set(s.id, s.framesSent);
      this.#latency.observe({ protocol: s.protocol }, Math.max(0, s.lastLatencyMs) / 1000);
    }
  }

  /** The Prometheus text exposition and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Stops listening to the hub. Idempotent. */
  close(): void {
    this.#hub.off('frame', this.#onFrame);
    this.#hub.off('left', this.#onLeft);
  }
}
