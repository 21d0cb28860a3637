import { describe, expect, it } from 'vitest';
import { Pacer } from '../../src/source/pacer.js';

describe('Pacer', () => {
  it('sends the first frame at once and each next one 1/fps later', () => {
    const p = new Pacer(25);
    expect(p.wait(0, 1000)).toBe(0);
    expect(p.wait(1, 1000)).toBeCloseTo(40);
    expect(p.wait(1, 1040)).toBeCloseTo(0);
    expect(p.wait(10, 1100)).toBeCloseTo(300);
  });

  it('a frame that is late is sent at once; more than a second behind restarts the schedule', () => {
    const p = new Pacer(10);
    p.wait(0, 0);
    expect(p.wait(5, 700)).toBeCloseTo(-200); // late: send now, keep the schedule
    expect(p.wait(6, 700)).toBeCloseTo(-100);
    expect(p.wait(7, 2800)).toBe(0); // 2.1 s behind: rebase
    expect(p.wait(8, 2800)).toBeCloseTo(100);
  });

  it('a loop that starts its indices again rebases', () => {
    const p = new Pacer(30);
    p.wait(100, 5000);
    expect(p.wait(0, 5010)).toBe(0);
    expect(p.wait(3, 5010)).toBeCloseTo(100);
  });
});
