/**
 * LoginLimiter beyond its basics (authorize.test.ts): which client an address stands for, a failure
 * taken back, the leak and the wait told to a client, exactly at their bounds.
 */
import { describe, expect, it } from 'vitest';
import { clientOf, LoginLimiter } from '../../src/access/login-limiter.js';

describe('clientOf', () => {
  it('an IPv4 address is itself, v4-mapped or not', () => {
    expect(clientOf('192.0.2.7')).toBe('192.0.2.7');
    expect(clientOf('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(clientOf('::ffff:zzz')).toBe('::ffff:zzz');
  });

  it('an IPv6 address is its /64, however it is written', () => {
    expect(clientOf('2001:db8:1:2::5')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:0DB8:0001:0002:ffff:1:2:3')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:db8:1:2:3:4:5:6%eth0')).toBe('2001:db8:1:2::/64');
    expect(clientOf('::1')).toBe('0:0:0:0::/64');
    expect(clientOf('fe80::1:2.3.4.5')).toBe('fe80:0:0:0::/64');
    expect(clientOf('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(clientOf('1:2:3:4:5:6:7:8')).toBe('1:2:3:4::/64');
    expect(clientOf('1:2:3:4:5:6:1.2.3.4')).toBe('1:2:3:4::/64');
    // A short head: the groups after :: reach into the /64.
    expect(clientOf('1::2:3:4:5:6:7')).toBe('1:0:2:3::/64');
    expect(clientOf('::2:3:4:5:6:7')).toBe('0:0:2:3::/64');
  });

  it('what is no address is itself (an empty socket address)', () => {
    expect(clientOf('')).toBe('');
    expect(clientOf('not an address')).toBe('not an address');
  });
});

describe('LoginLimiter at its bounds', () => {
  it('blocks at exactly max failures, not one before', () => {
    const l = new LoginLimiter(3, 3000);
    l.failed('a', 0);
    expect(l.retryAfterMs('a', 0)).toBe(0);
    l.failed('a', 0);
    expect(l.blocked('a', 0)).toBe(false);
    expect(l.retryAfterMs('a', 0)).toBe(0);
    l.failed('a', 0);
    expect(l.blocked('a', 0)).toBe(true);
    // One failure leaks every 1000 ms: the wait is to below max - 1.
    expect(l.retryAfterMs('a', 0)).toBe(1000);
    expect(l.retryAfterMs('a', 500)).toBe(500);
    expect(l.blocked('a', 999)).toBe(true);
    expect(l.blocked('a', 1000)).toBe(false);
    expect(l.blockedTotal).toBe(2);
    // Fully leaked: forgotten.
    expect(l.retryAfterMs('a', 10_000)).toBe(0);
    l.failed('a', 10_000);
    expect(l.blocked('a', 10_000)).toBe(false);
  });

  it('forgive takes one failure back, and nothing from a client with none', () => {
    const l = new LoginLimiter(2, 2000);
    l.forgive('a', 0);
    l.failed('a', 0);
    l.failed('a', 0);
    expect(l.blocked('a', 0)).toBe(true);
    l.forgive('a', 0);
    expect(l.blocked('a', 0)).toBe(false);
    l.failed('a', 0);
    expect(l.blocked('a', 0)).toBe(true);
    l.forgive('a', 0);
    l.forgive('a', 0);
    l.forgive('a', 0);
    // Never below zero: two failures block again.
    l.failed('a', 0);
    expect(l.blocked('a', 0)).toBe(false);
    l.failed('a', 0);
    expect(l.blocked('a', 0)).toBe(true);
  });

  it('forgive counts from what has leaked by then', () => {
    const l = new LoginLimiter(2, 2000);
    l.failed('a', 0);
    l.failed('a', 0);
    l.failed('a', 0);
    // At 1000 ms: 2 left; forgiving one leaves 1, under the limit.
    l.forgive('a', 1000);
    expect(l.blocked('a', 1000)).toBe(false);
    l.failed('a', 1000);
    expect(l.blocked('a', 1000)).toBe(true);
  });

  it('an IPv6 /64 and a v4-mapped address share their client’s count', () => {
    const l = new LoginLimiter(2, 60_000);
    l.failed('2001:db8::1', 0);
    l.failed('2001:db8::2', 0);
    expect(l.blocked('2001:db8::ffff', 0)).toBe(true);
    expect(l.retryAfterMs('2001:db8:0:0:1::', 0)).toBeGreaterThan(0);
    expect(l.blocked('2001:db8:0:1::1', 0)).toBe(false);
    l.failed('::ffff:10.0.0.1', 0);
    l.failed('10.0.0.1', 0);
    expect(l.blocked('10.0.0.1', 0)).toBe(true);
    l.forgive('::ffff:10.0.0.1', 0);
    expect(l.blocked('10.0.0.1', 0)).toBe(false);
  });

  it('keeps exactly maxAddresses clients', () => {
    const l = new LoginLimiter(1, 60_000, 2);
    l.failed('a', 0);
    l.failed('b', 0);
    expect(l.blocked('a', 0)).toBe(true);
    expect(l.blocked('b', 0)).toBe(true);
  });
});
