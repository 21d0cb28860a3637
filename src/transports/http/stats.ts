import type { RecorderStatus } from '../../record/stream-recorder.js';
import type { RenditionReport } from '../../streams/renditions.js';
import type { Frame } from '../../hub/frame.js';
import type { Hub, TransmissionEnd } from '../../hub/hub.js';
import type { Subscriber, SubscriberStats } from '../../hub/subscriber.js';
import type { SourceStatus } from '../../hub/producer.js';

/** Sent/dropped counters of one protocol since the server started. */
export interface ProtocolTotals {
  framesSent: number;
  bytesSent: number;
  drops: number;
}

/** One client as /stats shows it. */
export interface ClientReport {
  id: number;
  protocol: string;
  address: string;
  connectedSeconds: number;
  /** Frames sent per second over the last sampling interval. */
  fps: number;
  framesSent: number;
  bytesSent: number;
  drops: number;
  latencyMs: number | null;
}

/** The /stats document. */
export interface StatsReport {
  uptimeSeconds: number;
  source: {
    kind: string | null;
    name: string | null;
    width: number | null;
    height: number | null;
    /** The input's own rate (from the container or the device), when known. */
    fpsIn: number | null;
    /** Encoded frames per second the hub received over the last interval. */
    fpsOut: number;
    /** `no-signal`: a live source lost its input and is being retried (clients see NO SIGNAL). */
    state: 'idle' | 'starting' | 'live' | 'no-signal';
    /** A retried live source's signal (retries, next retry, last error); null for files and the test pattern. */
    signal: SourceStatus | null;
    lastEnd: { reason: TransmissionEnd; error: string | null } | null;
  };
  encoder: {
    kind: string;
    implementation: string | null;
    quality: number;
    width: number;
    msPerFrame: number | null;
  };
  clients: ClientReport[];
  /** Passive viewers (the dashboard preview): they watch without being hub clients. */
  monitors: ClientReport[];
  waiting: number;
  /**
   * Analyzers' annotations: accepted and refused since the stream started, and the analyzers whose
   * newest annotation is of a recent frame.
   */
  annotations: { accepted: number; refused: number; analyzers: string[] };
  /**
   * Recording, when the stream is being recorded: `recording`, or `failing` (the disk is full or not
   * writable: live viewing goes on, recording resumes by itself), with frames written and dropped.
   */
  recording: RecorderStatus | null;
  /** Renditions running now (other sizes and qualities viewers asked for): size, viewers, encodes. */
  renditions?: RenditionReport[];
  totals: {
    framesIn: number;
    bytesIn: number;
    transmissions: number;
    clientsServed: number;
    framesSent: number;
    bytesSent: number;
    drops: number;
    byProtocol: Record<string, ProtocolTotals>;
    /** Images peers sent that never reached a viewer: over maxImagePixels, or without a readable size. */
    imagesRefused: number;
  };
}

/** Encoder settings /stats reports. */
export interface EncoderSettings {
  /** `libjpeg` (in-process libjpeg-turbo) or `ffmpeg` (ffmpeg's MJPEG encoder). */
  kind: string;
  /** What encodes on this install, e.g. `libjpeg-turbo, native, 4:2:0 input`. */
  implementation?: string;
  quality: number;
  width: number;
}

interface Sample {
  frames: number;
  at: number;
  fps: number;
}

const round = (v: number, digits = 1): number => Math.round(v * 10 ** digits) / 10 ** digits;

/**
 * Samples the hub once per interval so rates are real measurements over a known window: per-client
 * fps from frames sent, source fps from frames published, encode time from each frame's own
 * timestamps (capture -> JPEG ready). Also keeps per-protocol totals across clients that left.
 */
export class StatsSampler {
  readonly #hub: Hub;
  readonly #monitors: () => readonly Subscriber[];
  readonly #startedAt: number;
  readonly #clients = new Map<number, Sample>();
  readonly #departed = new Map<string, ProtocolTotals>();
  readonly #timer: NodeJS.Timeout;
  #source: Sample;
  #encodeSum = 0;
  #encodeCount = 0;
  #msPerFrame: number | null = null;
  #lastEnd: StatsReport['source']['lastEnd'] = null;
  readonly #onFrame = (f: Frame): void => {
    this.#encodeSum += f.encodedAt - f.capturedAt;
    this.#encodeCount++;
  };
  readonly #onLeft = (s: SubscriberStats): void => {
    const t = this.#departed.get(s.protocol) ?? { framesSent: 0, bytesSent: 0, drops: 0 };
    t.framesSent += s.framesSent;
    t.bytesSent += s.bytesSent;
    t.drops += s.drops;
    this.#departed.set(s.protocol, t);
  };
  readonly #onEnd = (reason: TransmissionEnd, err: Error | null): void => {
    this.#lastEnd = { reason, error: err ? err.message : null };
  };

  constructor(hub: Hub, monitors: () => readonly Subscriber[], startedAt: number, intervalMs = 1000) {
    this.#hub = hub;
    this.#monitors = monitors;
    this.#startedAt = startedAt;
    this.#source = { frames: hub.totals.framesIn, at: performance.now(), fps: 0 };
    hub.on('frame', this.#onFrame);
    hub.on('left', this.#onLeft);
    hub.on('transmission-end', this.#onEnd);
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  /** Takes a sample now (the timer does this every interval). */
  sample(): void {
    const now = performance.now();
    const rate = (prev: Sample, frames: number): number =>
      now - prev.at > 0 ? ((frames - prev.frames) * 1000) / (now - prev.at) : prev.fps;
    const framesIn = this.#hub.totals.framesIn;
    this.#source = { frames: framesIn, at: now, fps: rate(this.#source, framesIn) };
    this.#msPerFrame = this.#encodeCount > 0 ? this.#encodeSum / this.#encodeCount : null;
    this.#encodeSum = 0;
    this.#encodeCount = 0;
    const seen = new Set<number>();
    for (const sub of [...this.#hub.clients, ...this.#monitors()]) {
      const s = sub.stats();
      seen.add(s.id);
      const prev = this.#clients.get(s.id);
      this.#clients.set(s.id, { frames: s.framesSent, at: now, fps: prev ? rate(prev, s.framesSent) : 0 });
    }
    for (const id of this.#clients.keys()) if (!seen.has(id)) this.#clients.delete(id);
  }

  /** Frames sent / bytes / drops per protocol since start: departed clients plus current ones. */
  totalsByProtocol(): Map<string, ProtocolTotals> {
    const out = new Map<string, ProtocolTotals>();
    for (const [p, t] of this.#departed) out.set(p, { ...t });
    for (const sub of this.#hub.clients) {
      const s = sub.stats();
      const t = out.get(s.protocol) ?? { framesSent: 0, bytesSent: 0, drops: 0 };
      t.framesSent += s.framesSent;
      t.bytesSent += s.bytesSent;
      t.drops += s.drops;
      out.set(s.protocol, t);
    }
    return out;
  }

  #client(sub: Subscriber, now: number): ClientReport {
    const s = sub.stats();
    return {
      id: s.id,
      protocol: s.protocol,
      address: s.address,
      connectedSeconds: round((now - s.connectedAt) / 1000),
      fps: round(this.#clients.get(s.id)?.fps ?? 0),
      framesSent: s.framesSent,
      bytesSent: s.bytesSent,
      drops: s.drops,
      latencyMs: s.lastLatencyMs === null ? null : round(s.lastLatencyMs),
    };
  }

  /** The /stats document now; `imagesRefused` is the stream's count (its ImageBound's). */
  report(encoder: EncoderSettings, imagesRefused = 0, recording: RecorderStatus | null = null): StatsReport {
    const hub = this.#hub;
    const now = Date.now();
    const src = hub.source;
    const byProtocol = Object.fromEntries(this.totalsByProtocol());
    const sum = (k: keyof ProtocolTotals): number => Object.values(byProtocol).reduce((a, t) => a + t[k], 0);
    return {
      uptimeSeconds: round((now - this.#startedAt) / 1000),
      source: {
        kind: src?.kind ?? null,
        name: src?.name ?? null,
        width: src?.width ?? null,
        height: src?.height ?? null,
        fpsIn: src?.inputFps ?? null,
        fpsOut: hub.transmitting ? round(this.#source.fps) : 0,
        state: !hub.transmitting
          ? 'idle'
          : src?.status?.state === 'no-signal'
            ? 'no-signal'
            : hub.latest
              ? 'live'
              : 'starting',
        signal: hub.transmitting ? (src?.status ?? null) : null,
        lastEnd: this.#lastEnd,
      },
      encoder: {
        kind: encoder.kind,
        implementation: encoder.implementation ?? null,
        quality: encoder.quality,
        width: encoder.width,
        msPerFrame: this.#msPerFrame === null ? null : round(this.#msPerFrame, 2),
      },
      clients: hub.clients.map((c) => this.#client(c, now)),
      monitors: this.#monitors().map((c) => this.#client(c, now)),
      waiting: hub.waitingCount,
      annotations: {
        ...hub.annotations.counts,
        analyzers: hub.annotations.newest().map((a) => a.analyzer),
      },
      recording,
      totals: {
        ...hub.totals,
        framesSent: sum('framesSent'),
        bytesSent: sum('bytesSent'),
        drops: sum('drops'),
        byProtocol,
        imagesRefused,
      },
    };
  }

  /** Stops sampling and listening. Idempotent. */
  close(): void {
    clearInterval(this.#timer);
    this.#hub.off('frame', this.#onFrame);
    this.#hub.off('left', this.#onLeft);
    this.#hub.off('transmission-end', this.#onEnd);
  }
}
