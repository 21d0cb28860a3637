import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { IpLimiter, peerIp } from '../../src/transports/ip-limiter.js';
import { peerAddress } from '../../src/transports/peer.js';

/** A socket stand-in: an address, and 'close' emitted by the test. */
function sock(remoteAddress: string | undefined, remotePort = 1): net.Socket {
  return Object.assign(new EventEmitter(), { remoteAddress, remotePort }) as unknown as net.Socket;
}

describe('peerIp', () => {
  it('folds IPv4-mapped IPv6 to IPv4 and leaves every other address alone', () => {
    expect(peerIp(sock('::ffff:192.168.1.20'))).toBe('192.168.1.20');
    expect(peerIp(sock('::ffff:c0a8:114'))).toBe('::ffff:c0a8:114');
    expect(peerIp(sock('2001:db8::1.2.3.4'))).toBe('2001:db8::1.2.3.4');
    expect(peerIp(sock('fe80::1'))).toBe('fe80::1');
    expect(peerIp(sock('10.1.2.3'))).toBe('10.1.2.3');
    expect(peerIp(sock(undefined))).toBe('?');
  });
});

describe('peerAddress', () => {
  it('ip:port, [v6]:port, ?:port for a socket that is gone', () => {
    expect(peerAddress(sock('10.1.2.3', 4000))).toBe('10.1.2.3:4000');
    expect(peerAddress(sock('::1', 4001))).toBe('[::1]:4001');
    expect(peerAddress(sock('::ffff:10.1.2.3', 4002))).toBe('[::ffff:10.1.2.3]:4002');
    expect(peerAddress(sock(undefined, 4003))).toBe('?:4003');
  });
});

describe('IpLimiter: the cap', () => {
  it('accepts 0 and positive integers, refuses negative and fractional caps with a RangeError', () => {
    expect(new IpLimiter(0).max).toBe(0);
    expect(new IpLimiter(1).max).toBe(1);
    expect(new IpLimiter(64).max).toBe(64);
    expect(() => new IpLimiter(-1)).toThrow(new RangeError('max connections per IP must be >= 0, got -1'));
    expect(() => new IpLimiter(2.5)).toThrow(new RangeError('max connections per IP must be >= 0, got 2.5'));
    expect(() => new IpLimiter(Number.NaN)).toThrow(RangeError);
    expect(() => new IpLimiter(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it('a cap of 0 admits everyone and counts nothing', () => {
    const l = new IpLimiter(0);
    const socks = [sock('1.1.1.1'), sock('1.1.1.1'), sock('1.1.1.1')];
    for (const s of socks) expect(l.admit(s)).toBe(true);
    expect(l.count('1.1.1.1')).toBe(0);
    expect(l.addresses).toBe(0);
    expect(socks[0]?.listenerCount('close')).toBe(0);
  });
});

describe('IpLimiter: counting', () => {
  it('admits up to the cap per address, then refuses without counting', () => {
    const l = new IpLimiter(3);
    for (let i = 0; i < 3; i++) expect(l.admit(sock('5.5.5.5'))).toBe(true);
    expect(l.count('5.5.5.5')).toBe(3);
    const refused = sock('5.5.5.5');
    expect(l.admit(refused)).toBe(false);
    expect(l.count('5.5.5.5')).toBe(3);
    expect(refused.listenerCount('close')).toBe(0);
    // Another address has its own budget.
    expect(l.admit(sock('6.6.6.6'))).toBe(true);
    expect(l.count('6.6.6.6')).toBe(1);
    expect(l.addresses).toBe(2);
    expect(l.count('7.7.7.7')).toBe(0);
  });

  it('a mapped IPv6 address counts against its IPv4 address', () => {
    const l = new IpLimiter(1);
    expect(l.admit(sock('::ffff:8.8.8.8'))).toBe(true);
    expect(l.admit(sock('8.8.8.8'))).toBe(false);
    expect(l.count('8.8.8.8')).toBe(1);
    expect(l.count('::ffff:8.8.8.8')).toBe(0);
  });

  it('a closing socket frees its place, one at a time, and the last one forgets the address', () => {
    const l = new IpLimiter(2);
    const a = sock('9.9.9.9');
    const b = sock('9.9.9.9');
    const c = sock('4.4.4.4');
    l.admit(a);
    l.admit(b);
    l.admit(c);
    expect(l.admit(sock('9.9.9.9'))).toBe(false);
    expect(l.addresses).toBe(2);
    a.emit('close');
    expect(l.count('9.9.9.9')).toBe(1);
    expect(l.addresses).toBe(2);
    const d = sock('9.9.9.9');
    expect(l.admit(d)).toBe(true);
    expect(l.count('9.9.9.9')).toBe(2);
    b.emit('close');
    d.emit('close');
    expect(l.count('9.9.9.9')).toBe(0);
    expect(l.addresses).toBe(1);
    // Released once only.
    a.emit('close');
    expect(l.count('9.9.9.9')).toBe(0);
    expect(l.count('4.4.4.4')).toBe(1);
    c.emit('close');
    expect(l.addresses).toBe(0);
  });
});
