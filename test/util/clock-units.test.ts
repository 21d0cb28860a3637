/** nowMs: epoch milliseconds (like Date.now()) that move forward, with sub-millisecond resolution. */
import { describe, expect, it } from 'vitest';
import { nowMs } from '../../src/util/clock.js';

describe('nowMs', () => {
  it('is the wall clock in epoch milliseconds', () => {
    expect(Math.abs(nowMs() - Date.now())).toBeLessThan(1000);
  });

  it('moves forward', () => {
    const a = nowMs();
    const start = performance.now();
    while (performance.now() - start < 5);
    expect(nowMs()).toBeGreaterThan(a);
  });
});
