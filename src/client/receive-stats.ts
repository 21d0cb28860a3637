import { nearestRank } from '../util/recent-samples.js';

/** Percentiles of end-to-end latency in ms. */
export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  samples: number;
}

/** What a client reports at the end (`play --json` prints this object). */
export interface ReceiveSummary {
  frames: number;
  bytes: number;
  seconds: number;
  fps: number;
  width: number | null;
  height: number | null;
  badFrames: number;
  protocol: string;
  latencyMs: LatencySummary | null;
}

const MAX_SAMPLES = 1_000_000;

/** Counts what a client receives: frames, bytes, rates over the last second, latency percentiles. */
export class ReceiveStats {
  frames = 0;
  bytes = 0;
  badFrames = 0;
  width: number | null = null;
  height: number | null = null;
  #start: number | null = null;
  #last = 0;
  #latency: number[] = [];
  #windowStart = 0;
  #windowFrames = 0;
  #windowBytes = 0;
  #fps = 0;
  #kBps = 0;

  /** Records one frame: its wire size, size in pixels, arrival time and latency (null if unknown). */
  add(wireBytes: number, width: number, height: number, receivedAt: number, latencyMs: number | null): void {
    if (this.#start === null) {
      this.#start = receivedAt;
      this.#windowStart = receivedAt;
    }
    this.#last = receivedAt;
    this.frames++;
    this.bytes += wireBytes;
    this.width = width;
    this.height = height;
    this.#windowFrames++;
    this.#windowBytes += wireBytes;
    if (latencyMs !== null && this.#latency.length < MAX_SAMPLES) this.#latency.push(latencyMs);
    const span = receivedAt - this.#windowStart;
    if (span >= 1000) {
      this.#fps = (this.#windowFrames * 1000) / span;
      this.#kBps = this.#windowBytes / span;
      this.#windowStart = receivedAt;
      this.#windowFrames = 0;
      this.#windowBytes = 0;
    }
  }

  /** Frames per second over the last full second (like the seed's FPS counter, but every second). */
  get fps(): number {
    return this.#fps;
  }

  /** kB/s over the last full second. */
  get kBps(): number {
    return this.#kBps;
  }

  /** Latency percentiles so far, or null when the protocol gave no timestamps. */
  latency(): LatencySummary | null {
    if (this.#latency.length === 0) return null;
    const sorted = Float64Array.from(this.#latency).sort();
    const r = (v: number): number => Math.round(v * 100) / 100;
    return {
      p50: r(nearestRank(sorted, 0.5)),
      p95: r(nearestRank(sorted, 0.95)),
      p99: r(nearestRank(sorted, 0.99)),
      max: r(sorted[sorted.length - 1] as number),
      samples: sorted.length,
    };
  }

  /** The end-of-run summary. `endedAt` defaults to the last frame's arrival. */
  summary(protocol: string, endedAt?: number): ReceiveSummary {
    const start = this.#start;
    const seconds = start === null ? 0 : Math.max(0, ((endedAt ?? this.#last) - start) / 1000);
    const round = (v: number, d: number): number => Math.round(v * 10 ** d) / 10 ** d;
    return {
      frames: this.frames,
      bytes: this.bytes,
      seconds: round(seconds, 3),
      fps: seconds > 0 ? round((this.frames - 1) / seconds, 2) : 0,
      width: this.width,
      height: this.height,
      badFrames: this.badFrames,
      protocol,
      latencyMs: this.latency(),
    };
  }
}
