import { createHmac } from 'node:crypto';
import { headers, type MsgHdrs } from '@nats-io/transport-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ORIGIN_HEADER, PART_HEADER, SEQ_HEADER } from '../../src/bus/bus-headers.js';
import {
  BUS_SECRET_ENV,
  BusSigner,
  BusVerifier,
  COUNT_HEADER,
  dropText,
  SIG_HEADER,
  SIGNED_WINDOW_MS,
  TIME_HEADER,
  type BusDropKind,
} from '../../src/bus/bus-sign.js';

// The bus secret's signatures as docs/PROTOCOL.md ("Bus secret") defines them, computed here on their
// own, so that an origin of another build (or another language) verifies on these edges, and what an
// edge drops: each header's form, the time window, the counter per subject and origin process.

const SECRET = 'bus-secret-5f2a9c0e7d41b836';
const T0 = Date.UTC(2026, 11, 7, 12, 0, 0);
const body = new TextEncoder().encode('{"state":"live"}');

/** The signature of the protocol: HMAC-SHA256 of the text lines and then the payload, hex. */
function protocolSig(
  subject: string,
  origin: string,
  time: string,
  count: string,
  data: Uint8Array,
  part = '',
  seq = '',
  secret = SECRET,
): string {
  return createHmac('sha256', secret)
    .update(`framecast-bus-v1\n${subject}\n${origin}\n${time}\n${count}\n${part}\n${seq}\n`)
    .update(data)
    .digest('hex');
}

/** A message signed by hand: any header values, a valid signature over them. */
function signed(
  subject: string,
  h: { origin: string; time: string; count: string; part?: string; seq?: string },
  data: Uint8Array = body,
): { data: Uint8Array; headers: MsgHdrs } {
  const out = headers();
  out.set(ORIGIN_HEADER, h.origin);
  out.set(TIME_HEADER, h.time);
  out.set(COUNT_HEADER, h.count);
  if (h.part !== undefined) out.set(PART_HEADER, h.part);
  if (h.seq !== undefined) out.set(SEQ_HEADER, h.seq);
  out.set(SIG_HEADER, protocolSig(subject, h.origin, h.time, h.count, data, h.part, h.seq));
  return { data, headers: out };
}

function verifier(): { v: BusVerifier; first: [BusDropKind, string][] } {
  const first: [BusDropKind, string][] = [];
  return { v: new BusVerifier(SECRET, (k, s) => first.push([k, s])), first };
}

beforeEach(() => {
  vi.useFakeTimers({ now: T0, toFake: ['Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('BusSigner: the headers of docs/PROTOCOL.md', () => {
  it("signs with the origin process, the time, a counter over all its messages and the protocol's HMAC", () => {
    const s = new BusSigner(SECRET, 'inst-1');
    const h1 = s.sign('p.streams', body);
    expect(h1.get(ORIGIN_HEADER)).toBe('inst-1');
    expect(h1.get(TIME_HEADER)).toBe(String(T0));
    expect(h1.get(COUNT_HEADER)).toBe('1');
    expect(h1.get(SIG_HEADER)).toBe(protocolSig('p.streams', 'inst-1', String(T0), '1', body));
    vi.setSystemTime(T0 + 1234);
    const h2 = s.sign('p.s.cam.status', body);
    expect(h2.get(TIME_HEADER)).toBe(String(T0 + 1234));
    expect(h2.get(COUNT_HEADER)).toBe('2');
    expect(h2.get(SIG_HEADER)).toBe(protocolSig('p.s.cam.status', 'inst-1', String(T0 + 1234), '2', body));
  });

  it("a part's index and seq are in what is signed, and its own headers are kept", () => {
    const s = new BusSigner(SECRET, 'inst-1');
    const h = headers();
    h.set(PART_HEADER, '2/3');
    h.set(SEQ_HEADER, '41');
    const out = s.sign('p.s.cam.frame', body, h);
    expect(out).toBe(h);
    expect(out.get(PART_HEADER)).toBe('2/3');
    expect(out.get(SIG_HEADER)).toBe(
      protocolSig('p.s.cam.frame', 'inst-1', String(T0), '1', body, '2/3', '41'),
    );
  });

  it('refuses a secret that is short, too long or holds control characters, naming the rule only', () => {
    expect(() => new BusSigner('fifteen-chars!!', 'i')).toThrow(
      new RangeError('bus secret must be at least 16 characters (openssl rand -hex 32 makes one)'),
    );
    expect(() => new BusSigner('sixteen-chars!!!', 'i')).not.toThrow();
    expect(() => new BusVerifier('fifteen-chars!!')).toThrow(
      new RangeError('bus secret must be at least 16 characters (openssl rand -hex 32 makes one)'),
    );
    expect(() => new BusVerifier('x'.repeat(1025))).toThrow(/^bus secret must be at most 1024 bytes$/);
    expect(() => new BusVerifier('sixteen-chars!!!')).not.toThrow();
    expect(BUS_SECRET_ENV).toBe('FRAMECAST_BUS_SECRET');
  });
});

describe('BusVerifier: what an edge takes and drops', () => {
  it('takes a message signed as the protocol says (from any implementation), returning its origin process', () => {
    const { v } = verifier();
    const m = signed('p.streams', { origin: 'other-impl', time: String(T0), count: '17' });
    expect(v.verify('p.streams', m)).toBe('other-impl');
    const p = signed('p.s.cam.frame', { origin: 'o', time: String(T0), count: '1', part: '1/2', seq: '9' });
    expect(v.verify('p.s.cam.frame', p)).toBe('o');
    expect(v.dropped).toEqual({ unsigned: 0, forged: 0, replayed: 0, stale: 0 });
  });

  it('no Framecast-Sig is unsigned (headers or not); reported once with the subject', () => {
    const { v, first } = verifier();
    const h = headers();
    h.set(PART_HEADER, '1/2');
    expect(v.verify('p.s.cam.frame', { data: body, headers: h })).toBeNull();
    expect(v.verify('p.streams', { data: body, headers: undefined })).toBeNull();
    expect(v.dropped).toEqual({ unsigned: 2, forged: 0, replayed: 0, stale: 0 });
    expect(first).toEqual([['unsigned', 'p.s.cam.frame']]);
  });

  it.each([
    [
      'a signature that is not 64 lowercase hex',
      (m: { headers: MsgHdrs }) => m.headers.set(SIG_HEADER, 'AB'.repeat(32)),
    ],
    ['a signature of 63 hex', (m: { headers: MsgHdrs }) => m.headers.set(SIG_HEADER, 'a'.repeat(63))],
    ['a signature of 65 hex', (m: { headers: MsgHdrs }) => m.headers.set(SIG_HEADER, 'a'.repeat(65))],
  ])('%s is forged', (_what, spoil) => {
    const { v } = verifier();
    const m = signed('p.streams', { origin: 'o', time: String(T0), count: '1' });
    spoil(m);
    expect(v.verify('p.streams', m)).toBeNull();
    expect(v.dropped.forged).toBe(1);
  });

  it.each([
    ['a time that is not decimal', { origin: 'o', time: `${T0}.5`, count: '1' }],
    ['a time with a sign', { origin: 'o', time: `+${T0}`, count: '1' }],
    ['a time of 17 digits', { origin: 'o', time: '1'.repeat(17), count: '1' }],
    ['a count that is not decimal', { origin: 'o', time: String(T0), count: '0x10' }],
    ['a count of 17 digits', { origin: 'o', time: String(T0), count: '1'.repeat(17) }],
    ['a negative count', { origin: 'o', time: String(T0), count: '-1' }],
    ['an empty origin', { origin: '', time: String(T0), count: '1' }],
    ['an origin of 129 characters', { origin: 'o'.repeat(129), time: String(T0), count: '1' }],
    ['an origin with a NUL', { origin: 'o\0p', time: String(T0), count: '1' }],
    ['a part index with a NUL', { origin: 'o', time: String(T0), count: '1', part: '1/2\0', seq: '1' }],
    ['a seq with a NUL', { origin: 'o', time: String(T0), count: '1', part: '1/2', seq: '1\0' }],
  ])('%s is forged, even with a valid signature over it', (_what, h) => {
    const { v, first } = verifier();
    expect(v.verify('p.streams', signed('p.streams', h))).toBeNull();
    expect(v.dropped).toEqual({ unsigned: 0, forged: 1, replayed: 0, stale: 0 });
    expect(first).toEqual([['forged', 'p.streams']]);
  });

  it('the longest forms are taken: 16-digit time and count, a 128-character origin', () => {
    const { v } = verifier();
    const origin = 'o'.repeat(128);
    expect(
      v.verify('p.streams', signed('p.streams', { origin, time: String(T0), count: '9'.repeat(16) })),
    ).toBe(origin);
    expect(
      v.verify('p.x', signed('p.x', { origin: 'o', time: `0${T0}`.padStart(16, '0'), count: '1' })),
    ).toBe('o');
  });

  it('a changed body, subject, header or secret does not verify', () => {
    const { v } = verifier();
    const m = signed('p.streams', { origin: 'o', time: String(T0), count: '1' });
    expect(v.verify('p.streams', { data: new TextEncoder().encode('{}'), headers: m.headers })).toBeNull();
    expect(v.verify('p.other', m)).toBeNull();
    const moved = signed('p.s.cam.frame', {
      origin: 'o',
      time: String(T0),
      count: '2',
      part: '1/2',
      seq: '3',
    });
    moved.headers.set(SEQ_HEADER, '4');
    expect(v.verify('p.s.cam.frame', moved)).toBeNull();
    const renamed = signed('p.streams', { origin: 'o', time: String(T0), count: '3' });
    renamed.headers.set(ORIGIN_HEADER, 'p');
    expect(v.verify('p.streams', renamed)).toBeNull();
    const other = new BusSigner('another-secret-0123456789', 'o');
    expect(v.verify('p.streams', { data: body, headers: other.sign('p.streams', body) })).toBeNull();
    expect(v.dropped).toEqual({ unsigned: 0, forged: 5, replayed: 0, stale: 0 });
    // None of them used up a count: the origin's own message 1 is still taken.
    expect(v.verify('p.streams', m)).toBe('o');
  });

  it('the time window is 30 s either way, inclusive', () => {
    expect(SIGNED_WINDOW_MS).toBe(30_000);
    const { v, first } = verifier();
    const at = (count: number): { data: Uint8Array; headers: MsgHdrs } =>
      signed('p.streams', { origin: 'o', time: String(T0), count: String(count) });
    expect(v.verify('p.streams', at(1), T0 + 30_000)).toBe('o');
    expect(v.verify('p.streams', at(2), T0 - 30_000)).toBe('o');
    expect(v.verify('p.streams', at(3), T0 + 30_001)).toBeNull();
    expect(v.verify('p.streams', at(4), T0 - 30_001)).toBeNull();
    // The edge's clock by default.
    vi.setSystemTime(T0 + 30_001);
    expect(v.verify('p.streams', at(5))).toBeNull();
    vi.setSystemTime(T0 + 29_999);
    expect(v.verify('p.streams', at(6))).toBe('o');
    expect(v.dropped).toEqual({ unsigned: 0, forged: 0, replayed: 0, stale: 3 });
    expect(first).toEqual([['stale', 'p.streams']]);
  });

  it("counters are per subject and per origin process: each one's order, not one for all", () => {
    const { v } = verifier();
    const m = (subject: string, origin: string, count: number): { data: Uint8Array; headers: MsgHdrs } =>
      signed(subject, { origin, time: String(T0), count: String(count) });
    expect(v.verify('p.a', m('p.a', 'o1', 5))).toBe('o1');
    expect(v.verify('p.b', m('p.b', 'o1', 3))).toBe('o1');
    expect(v.verify('p.a', m('p.a', 'o2', 1))).toBe('o2');
    expect(v.verify('p.a', m('p.a', 'o1', 5))).toBeNull();
    expect(v.verify('p.a', m('p.a', 'o1', 4))).toBeNull();
    expect(v.verify('p.a', m('p.a', 'o1', 6))).toBe('o1');
    expect(v.verify('p.a', m('p.a', 'o1', 100))).toBe('o1');
    expect(v.verify('p.a', m('p.a', 'o1', 99))).toBeNull();
    expect(v.dropped).toEqual({ unsigned: 0, forged: 0, replayed: 3, stale: 0 });
  });

  it("a process's last counter is remembered for 60 s after its last message (forgotten every 1024 messages checked)", () => {
    const { v } = verifier();
    const m = (origin: string, count: number, time: number): { data: Uint8Array; headers: MsgHdrs } =>
      signed('p.a', { origin, time: String(time), count: String(count) });
    expect(v.verify('p.a', m('old', 10, T0), T0)).toBe('old');
    // 1023 more checked messages (1024 in all) 60 s later: 'old' is not older than 60 s yet.
    const t1 = T0 + 60_000;
    for (let i = 1; i <= 1023; i++) expect(v.verify('p.a', m('busy', i, t1), t1)).toBe('busy');
    expect(v.verify('p.a', m('old', 9, t1), t1)).toBeNull();
    // 1 ms later, 1024 more: now it is, and its counter is forgotten (a restarted count is taken).
    const t2 = t1 + 1;
    for (let i = 1024; i < 2047; i++) expect(v.verify('p.a', m('busy', i, t2), t2)).toBe('busy');
    expect(v.verify('p.a', m('old', 8, t2), t2)).toBeNull();
    expect(v.verify('p.a', m('busy', 2047, t2), t2)).toBe('busy');
    expect(v.verify('p.a', m('old', 7, t2), t2)).toBe('old');
    // The busy process, heard within 60 s, is still remembered.
    expect(v.verify('p.a', m('busy', 5, t2), t2)).toBeNull();
  });

  it('the first drop of each kind is reported once, then only counted; dropped is a copy', () => {
    const { v, first } = verifier();
    const d = v.dropped as Record<BusDropKind, number>;
    d.forged = 99;
    expect(v.drop('forged', 'p.x')).toBeNull();
    expect(v.drop('forged', 'p.y')).toBeNull();
    expect(v.drop('replayed', 'p.z')).toBeNull();
    expect(v.dropped).toEqual({ unsigned: 0, forged: 2, replayed: 1, stale: 0 });
    expect(first).toEqual([
      ['forged', 'p.x'],
      ['replayed', 'p.z'],
    ]);
    // Without a callback, drops are counted all the same.
    const quiet = new BusVerifier(SECRET);
    expect(quiet.verify('p.x', { data: body, headers: undefined })).toBeNull();
    expect(quiet.dropped.unsigned).toBe(1);
  });
});

describe('dropText: one line per kind of drop', () => {
  it('names the subject and why, and says further drops are only counted', () => {
    const tail = '; such messages are counted, not logged again';
    expect(dropText('unsigned', 'p.streams')).toBe(
      `bus: dropped a message on p.streams that is not signed (an origin without the bus secret, or a peer)${tail}`,
    );
    expect(dropText('forged', 'p.s.cam.frame')).toBe(
      `bus: dropped a message on p.s.cam.frame that has a signature that does not verify with the bus secret (another secret, or a peer)${tail}`,
    );
    expect(dropText('replayed', 'p.streams')).toBe(
      `bus: dropped a message on p.streams that repeats an older message of its origin process (replayed)${tail}`,
    );
    expect(dropText('stale', 'p.streams')).toBe(
      `bus: dropped a message on p.streams that was signed more than 30 s from this host's time (replayed, or the clocks differ)${tail}`,
    );
  });
});
