import { describe, expect, it } from 'vitest';
import { estimateClock, frameLatency, isLocalAddress } from '../../src/client/clock-sync.js';

describe('clock offset from the hello exchange', () => {
  it('recovers a server clock 5 s ahead over a symmetric 20 ms round trip', () => {
    // Client sends at 1000 (client clock); 10 ms later the server (clock +5000) receives it,
    // answers 2 ms after that, and the answer takes 10 ms back.
    const t0 = 1000;
    const t1 = 1000 + 10 + 5000;
    const t2 = t1 + 2;
    const t3 = 1000 + 10 + 2 + 10;
    expect(estimateClock(t0, t1, t2, t3, false)).toEqual({ offsetMs: 5000, rttMs: 20, sameHost: false });
  });

  it('corrects latency across machines and leaves it alone on the same host', () => {
    const clock = { offsetMs: 5000, rttMs: 20, sameHost: false };
    // Captured at server time 9000 = client time 4000; received at client time 4030.
    expect(frameLatency(4030, 9000, clock)).toBe(30);
    expect(frameLatency(4030, 4000, { ...clock, sameHost: true })).toBe(30);
    expect(frameLatency(4030, 4000, null)).toBe(30);
  });

  it('knows loopback addresses are this host', () => {
    expect(isLocalAddress('127.0.0.1')).toBe(true);
    expect(isLocalAddress('127.8.9.10')).toBe(true);
    expect(isLocalAddress('::1')).toBe(true);
    expect(isLocalAddress('::ffff:127.0.0.1')).toBe(true);
    expect(isLocalAddress('192.0.2.1')).toBe(false); // TEST-NET-1, never assigned
    expect(isLocalAddress(undefined)).toBe(false);
  });
});
