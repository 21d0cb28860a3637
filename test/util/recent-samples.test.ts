/** RecentSamples: a fixed ring of the newest samples, nearest-rank percentiles. */
import { describe, expect, it } from 'vitest';
import { RecentSamples } from '../../src/util/recent-samples.js';

describe('RecentSamples', () => {
  it('has no percentiles before its first sample', () => {
    expect(new RecentSamples(4).percentiles()).toBeNull();
  });

  it('gives nearest-rank p50 and p99 of what it holds, rounded to 0.01', () => {
    const r = new RecentSamples(200);
    for (let i = 100; i >= 1; i--) r.add(i + 0.004);
    // 100 samples 1.004..100.004: p50 is the 50th smallest, p99 the 99th.
    expect(r.percentiles()).toEqual({ p50: 50, p99: 99, samples: 100 });
    const one = new RecentSamples(8);
    one.add(3.456);
    expect(one.percentiles()).toEqual({ p50: 3.46, p99: 3.46, samples: 1 });
  });

  it('keeps only the newest `capacity` samples', () => {
    const r = new RecentSamples(3);
    for (const v of [1000, 2000, 1, 2, 3]) r.add(v);
    expect(r.percentiles()).toEqual({ p50: 2, p99: 3, samples: 3 });
    r.add(50);
    expect(r.percentiles()).toEqual({ p50: 3, p99: 50, samples: 3 });
  });

  it('refuses a capacity that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => new RecentSamples(bad)).toThrow(RangeError);
    expect(() => new RecentSamples(0)).toThrow('capacity must be an integer >= 1, got 0');
  });

  it('takes a capacity of 1: the newest sample only', () => {
    const r = new RecentSamples(1);
    r.add(5);
    r.add(7);
    expect(r.percentiles()).toEqual({ p50: 7, p99: 7, samples: 1 });
  });
});
