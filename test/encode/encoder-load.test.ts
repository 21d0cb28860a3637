import { describe, expect, it } from 'vitest';
import { EncoderLoad } from '../../src/encode/encoder-load.js';
import { nowMs } from '../../src/util/clock.js';

describe('EncoderLoad', () => {
  it('saturates above the high mark and recovers only below the low mark', () => {
    const load = new EncoderLoad(2, { windowMs: 100, high: 0.75, low: 0.4 });
    // The first window starts at construction (real clock); close it explicitly at t.
    let t = nowMs() + 1000;
    load.saturated(t);
    expect(load.saturated(t)).toBe(false);
    // 2 slots x 100 ms = 200 ms of capacity; 180 ms busy = 90%.
    load.add(180, t + 50);
    t += 100;
    expect(load.saturated(t)).toBe(true);
    expect(load.utilisation).toBeCloseTo(0.9, 5);
    // 60%: between the marks, stays saturated (hysteresis).
    load.add(120, t + 50);
    t += 100;
    expect(load.saturated(t)).toBe(true);
    // 10%: recovers.
    load.add(20, t + 50);
    t += 100;
    expect(load.saturated(t)).toBe(false);
  });

  it('stays unsaturated at a paced rate (3 ms encodes, 30 fps)', () => {
    const load = new EncoderLoad(2, { windowMs: 500 });
    let t = nowMs() + 1000;
    load.saturated(t);
    for (let i = 0; i < 90; i++) {
      t += 1000 / 30;
      load.add(3, t);
    }
    expect(load.saturated(t)).toBe(false);
    expect(load.utilisation).toBeLessThan(0.1);
  });

  it('refuses a slot count that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5]) expect(() => new EncoderLoad(bad)).toThrow(RangeError);
  });
});
