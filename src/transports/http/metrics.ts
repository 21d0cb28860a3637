import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Frame } from '../../hub/frame.js';
import type { Hub } from '../../hub/hub.js';
import type { SubscriberStats } from '../../hub/subscriber.js';
import type { StatsSampler } from './stats.js';
import type { RecorderStatus } from '../../record/stream-recorder.js';
import type { RenditionReport } from '../../streams/renditions.js';

const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5];

/** A stream as the metrics see it. */
export interface MetricsStream {
  name: string;
  hub: Hub;
  sampler: StatsSampler;
  /** The stream's renditions running now (other sizes viewers asked for), read at scrape time. */
  renditions?: () => RenditionReport[];
}

type RenditionLabel = 'stream' | 'width' | 'quality' | 'passive';

interface Watched extends MetricsStream {
  off: () => void;
}

/**
 * Prometheus metrics of one server, in a registry of its own (several servers may share a process);
 * every series carries a `stream` label. Counters of sent/dropped frames are read from the clients'
 * own counters at scrape time, so the delivery path pays nothing for them; latency is sampled once
 * per frame a client actually sent.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #streams = new Map<string, Watched>();
  readonly #encoded: Counter<'stream'>;
  readonly #encodeSeconds: Histogram<'stream'>;
  readonly #latency: Histogram<'protocol' | 'stream'>;
  readonly #lastSent = new Map<number, number>();

  /** `recordings`: the state of every stream being recorded, read at scrape time. */
  constructor(recordings: () => { stream: string; status: RecorderStatus }[] = () => []) {
    const registers = [this.registry];
    const streams = (): Watched[] => [...this.#streams.values()];
    this.#encoded = new Counter({
      name: 'framecast_frames_encoded_total',
      help: 'Frames the source produced and the encoder turned into JPEG',
      labelNames: ['stream'],
      registers,
    });
    this.#encodeSeconds = new Histogram({
      name: 'framecast_encode_seconds',
      help: 'Time from a decoded frame to its JPEG (queueing in the encoder pool included)',
      labelNames: ['stream'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.#latency = new Histogram({
      name: 'framecast_latency_seconds',
      help: 'Capture-to-send delay of frames sent to clients, by protocol',
      labelNames: ['protocol', 'stream'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    const perProtocol = (name: string, help: string, key: 'framesSent' | 'drops' | 'bytesSent'): void => {
      new Counter({
        name,
        help,
        labelNames: ['protocol', 'stream'],
        registers,
        collect() {
          this.reset();
          for (const s of streams())
            for (const [protocol, t] of s.sampler.totalsByProtocol())
              this.inc({ protocol, stream: s.name }, t[key]);
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
      labelNames: ['protocol', 'stream'],
      registers,
      collect() {
        this.reset();
        for (const s of streams())
          for (const c of s.hub.clients) this.inc({ protocol: c.protocol, stream: s.name });
      },
    });
    const perStream = (name: string, help: string, value: (hub: Hub) => number, counter = false): void => {
      const Metric = counter ? Counter : Gauge;
      new Metric({
        name,
        help,
        labelNames: ['stream'],
        registers,
        collect(this: Counter<'stream'> | Gauge<'stream'>) {
          this.reset();
          for (const s of streams()) this.inc({ stream: s.name }, value(s.hub));
        },
      });
    };
    new Gauge({
      name: 'framecast_recording_failing',
      help: '1 while recording a stream fails (disk full or not writable; live viewing goes on), 0 while it records',
      labelNames: ['stream'],
      registers,
      collect() {
        this.reset();
        for (const r of recordings()) this.set({ stream: r.stream }, r.status.state === 'failing' ? 1 : 0);
      },
    });
    for (const [name, help, key] of [
      ['framecast_recorded_frames_total', 'Frames written to recordings', 'framesWritten'],
      [
        'framecast_recording_dropped_frames_total',
        'Frames not recorded (the disk failing or too slow)',
        'framesDropped',
      ],
    ] as const)
      new Counter({
        name,
        help,
        labelNames: ['stream'],
        registers,
        collect() {
          this.reset();
          for (const r of recordings()) this.inc({ stream: r.stream }, r.status[key]);
        },
      });
    // Per rendition (a size and quality made once per frame for its viewers), read at scrape time. A
    // rendition's series exist while it runs; its counters start again with each run (a reset).
    const perRendition = (
      name: string,
      help: string,
      value: (r: RenditionReport) => number | null,
      counter = false,
    ): void => {
      const Metric = counter ? Counter : Gauge;
      new Metric({
        name,
        help,
        labelNames: ['stream', 'width', 'quality', 'passive'],
        registers,
        collect(this: Counter<RenditionLabel> | Gauge<RenditionLabel>) {
          this.reset();
          for (const s of streams())
            for (const r of s.renditions?.() ?? []) {
              const v = value(r);
              if (v === null) continue;
              const labels = {
                stream: s.name,
                width: String(r.width),
                quality: String(r.quality),
                passive: r.passive ? '1' : '0',
              };
              this.inc(labels, v);
            }
        },
      });
    };
    perRendition(
      'framecast_rendition_viewers',
      'Viewers of each rendition now (passive="1": previews, which never start the source)',
      (r) => r.viewers,
    );
    perRendition(
      'framecast_rendition_frames_encoded_total',
      "Frames of the stream encoded at the rendition's size and quality (once per frame for all its viewers)",
      (r) => r.encoded,
      true,
    );
    perRendition(
      'framecast_rendition_frames_skipped_total',
      'Frames of the stream a rendition skipped (a newer one came while it was encoding)',
      (r) => r.skipped,
      true,
    );
    perRendition(
      'framecast_rendition_encode_seconds',
      "The rendition's last encode (decode, resize and JPEG), seconds",
      (r) => (r.lastEncodeMs === null ? null : r.lastEncodeMs / 1000),
    );
    perRendition(
      'framecast_rendition_delay_seconds',
      "How long after the stream's own frame the rendition's was out, p99 of its last 128 frames, seconds",
      (r) => (r.delayMs === null ? null : r.delayMs.p99 / 1000),
    );
    perStream(
      'framecast_clients_waiting',
      'Clients waiting for a place (max-clients reached)',
      (h) => h.waitingCount,
    );
    perStream('framecast_transmitting', '1 while a transmission runs, else 0', (h) =>
      h.transmitting ? 1 : 0,
    );
    perStream(
      'framecast_transmissions_total',
      'Transmissions started (the first client starts one)',
      (h) => h.totals.transmissions,
      true,
    );
  }

  /** Starts watching a stream's frames and clients. */
  add(stream: MetricsStream): void {
    this.remove(stream.name);
    const onFrame = (f: Frame): void => this.#frame(stream, f);
    const onLeft = (s: SubscriberStats): void => void this.#lastSent.delete(s.id);
    stream.hub.on('frame', onFrame);
    stream.hub.on('left', onLeft);
    this.#streams.set(stream.name, {
      ...stream,
      off: () => {
        stream.hub.off('frame', onFrame);
        stream.hub.off('left', onLeft);
      },
    });
  }

  /** Stops watching a stream (its series disappear at the next scrape). */
  remove(name: string): void {
    this.#streams.get(name)?.off();
    this.#streams.delete(name);
  }

  #frame(s: MetricsStream, f: Frame): void {
    this.#encoded.inc({ stream: s.name });
    this.#encodeSeconds.observe({ stream: s.name }, Math.max(0, f.encodedAt - f.capturedAt) / 1000);
    for (const c of s.hub.clients) {
      const st = c.stats();
      if (st.lastLatencyMs === null || st.framesSent === (this.#lastSent.get(st.id) ?? 0)) continue;
      this.#lastSent.set(st.id, st.framesSent);
      this.#latency.observe({ protocol: st.protocol, stream: s.name }, Math.max(0, st.lastLatencyMs) / 1000);
    }
  }

  /** The Prometheus text exposition and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Stops listening to every stream. Idempotent. */
  close(): void {
    for (const name of [...this.#streams.keys()]) this.remove(name);
  }
}
