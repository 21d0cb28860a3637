import { afterEach, describe, expect, it, vi } from 'vitest';
import { watchStalls } from '../../src/hub/stall-watch.js';
import { nowMs } from '../../src/util/clock.js';
import { FakeSub, setup } from './fakes.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A subscriber whose pending frame has waited `stalled` ms (0: nothing pending); it counts the sweeps that asked. */
class StalledSub extends FakeSub {
  stalled = 0;
  asked = 0;
  stalledMs(_now: number): number {
    this.asked++;
    return this.stalled;
  }
}

function kicks() {
  const list: Array<{ address: string; ms: number }> = [];
  return { list, onKick: (sub: { address: string }, ms: number) => list.push({ address: sub.address, ms }) };
}

describe('watchStalls', () => {
  it('ends a client whose frame waited longer than the timeout with reason kicked, once; others stay', () => {
    vi.useFakeTimers();
    const { hub } = setup();
    const [slow, fast] = [new StalledSub('slow'), new StalledSub('fast')];
    hub.join(slow);
    hub.join(fast);
    const k = kicks();
    const stop = watchStalls(hub, 1000, k.onKick);
    slow.stalled = 1000; // not longer than the timeout yet
    vi.advanceTimersByTime(250);
    expect(slow.ended).toBeNull();
    slow.stalled = 1001;
    vi.advanceTimersByTime(250);
    expect(slow.ended).toBe('kicked');
    expect(fast.ended).toBeNull();
    expect(k.list).toEqual([{ address: 'slow', ms: 1001 }]);
    // Its connection has not closed yet: it is still a client, and is not kicked twice.
    vi.advanceTimersByTime(1000);
    expect(k.list).toHaveLength(1);
    stop();
  });

  it('sweeps every timeout/4 ms, at least every 100 ms and at most every 5 s', () => {
    vi.useFakeTimers();
    const sweepsEvery = (timeoutMs: number): number => {
      const { hub } = setup();
      const sub = new StalledSub('s');
      hub.join(sub);
      const stop = watchStalls(hub, timeoutMs, () => {});
      let ms = 0;
      while (sub.asked === 0 && ms < 10_000) {
        vi.advanceTimersByTime(1);
        ms++;
      }
      stop();
      return ms;
    };
    expect(sweepsEvery(1000)).toBe(250);
    expect(sweepsEvery(200)).toBe(100);
    expect(sweepsEvery(40_000)).toBe(5000);
  });

  it('a client without stalledMs is never kicked', () => {
    vi.useFakeTimers();
    const { hub } = setup();
    const plain = new FakeSub('plain');
    hub.join(plain);
    const k = kicks();
    const stop = watchStalls(hub, 100, k.onKick);
    vi.advanceTimersByTime(10_000);
    expect(plain.ended).toBeNull();
    expect(k.list).toEqual([]);
    stop();
  });

  it('the returned function stops the watch; a timeout of 0 watches nothing', () => {
    vi.useFakeTimers();
    const { hub } = setup();
    const sub = new StalledSub('s');
    sub.stalled = 60_000;
    hub.join(sub);
    const off = watchStalls(hub, 0, () => {});
    vi.advanceTimersByTime(10_000);
    expect(sub.asked).toBe(0);
    off();
    const stop = watchStalls(hub, 1000, () => {});
    stop();
    vi.advanceTimersByTime(10_000);
    expect(sub.asked).toBe(0);
    expect(sub.ended).toBeNull();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('asks stalledMs at the wall-clock time of each sweep', () => {
    vi.useFakeTimers();
    const { hub } = setup();
    const times: number[] = [];
    const sub = Object.assign(new FakeSub('s'), { stalledMs: (now: number) => (times.push(now), 0) });
    hub.join(sub);
    const start = nowMs();
    const stop = watchStalls(hub, 1000, () => {});
    vi.advanceTimersByTime(500);
    stop();
    expect(times).toHaveLength(2);
    expect(times[0]).toBeCloseTo(start + 250, 3);
    expect(times[1]).toBeCloseTo(start + 500, 3);
  });
});
