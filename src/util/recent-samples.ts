/** Percentiles of the newest samples kept. */
export interface RecentPercentiles {
  p50: number;
  p99: number;
  samples: number;
}

/** The nearest-rank `fraction` quantile (0 < fraction <= 1) of sorted values; 0 when there are none. */
export function nearestRank(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[i] as number;
}

/**
 * The newest `capacity` samples of a measure (a ring: memory is fixed however long it runs), and
 * their percentiles on demand (nearest rank, rounded to 0.01).
 */
export class RecentSamples {
  readonly #ring: Float64Array;
  #count = 0;
  #next = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
    this.#ring = new Float64Array(capacity);
  }

  add(value: number): void {
    this.#ring[this.#next] = value;
    this.#next = (this.#next + 1) % this.#ring.length;
    if (this.#count < this.#ring.length) this.#count++;
  }

  /** p50 and p99 of the samples kept, or null before the first. */
  percentiles(): RecentPercentiles | null {
    if (this.#count === 0) return null;
    const sorted = this.#ring.slice(0, this.#count).sort();
    const at = (p: number): number => Math.round(nearestRank(sorted, p) * 100) / 100;
    return { p50: at(0.5), p99: at(0.99), samples: this.#count };
  }
}
