import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ANNOUNCE_MS,
  announcedDigest,
  AnnouncedStreams,
  askSubject,
  FORGET_AFTER_MS,
  MAX_INSTANCES,
  MAX_PINS,
  MAX_STREAMS,
  noticeText,
  parseAnnouncement,
  STALE_MS,
  type AnnouncedStream,
  type Announcement,
  type AnnouncementNotice,
} from '../../src/bus/announcement.js';
import { Subjects } from '../../src/bus/bus.js';
import type { TokenDigest } from '../../src/util/token.js';

// What an origin announces and how an edge merges what it hears, on the documented numbers
// (docs/PROTOCOL.md, "Bus"): every 2 s, stale after 6.5 s, forgotten after 60 s; the message's exact
// form; which digest and which seed port each stream gets, and what is reported.

const bytes = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
const a = (origin: string, instance: string, ...names: string[]): Announcement => ({
  origin,
  instance,
  streams: names.map((name) => ({ name, width: 320, height: 240 })),
});
const with_ = (origin: string, instance: string, ...streams: Partial<AnnouncedStream>[]): Announcement => ({
  origin,
  instance,
  streams: streams.map((s) => ({ name: 'cam', width: 1, height: 1, ...s })),
});
const names = (c: AnnouncedStreams, now: number): string[] => [...c.streams(now).keys()].sort();
const HEX32 = 'a'.repeat(32);
const HEX64 = 'b'.repeat(64);

describe('announcement timing and subjects, as documented', () => {
  it('every 2 s; stale after 6.5 s; forgotten after 60 s; asks on PREFIX.streams.ask', () => {
    expect(ANNOUNCE_MS).toBe(2000);
    expect(STALE_MS).toBe(6500);
    expect(FORGET_AFTER_MS).toBe(60_000);
    expect(askSubject(new Subjects())).toBe('framecast.streams.ask');
    expect(askSubject(new Subjects('site1'))).toBe('site1.streams.ask');
  });

  it('a silent origin is stale after exactly 6.5 s: a new process of the same name replaces it then, not before', () => {
    const c = new AnnouncedStreams();
    c.take(a('o1', 'old', 'cam', 'door'), 0);
    c.take(a('o1', 'new', 'cam'), 6500);
    expect(names(c, 6500)).toEqual(['cam', 'door']);
    c.take(a('o1', 'new', 'cam'), 6501);
    expect(names(c, 6501)).toEqual(['cam']);
  });

  it("by default a silent origin's streams are forgotten after exactly 60 s", () => {
    const c = new AnnouncedStreams();
    c.take(a('o1', 'i1', 'cam'), 0);
    expect(names(c, 60_000)).toEqual(['cam']);
    expect(names(c, 60_001)).toEqual([]);
  });
});

describe('announcedDigest: the salted digest of a readToken', () => {
  it('is the known value for cam/watch-me (an upgraded origin must announce the digest edges pinned)', () => {
    expect(announcedDigest('cam', 'watch-me')).toEqual({
      salt: 'bf088ad867ede55b11cc29178de00e27',
      sha256: 'ed1e7407a2f1fee12ca45a884ea0a4050c2b1699a4335f84cd92c85a655e8a4b',
    });
  });

  it('salt: the first 32 hex of HMAC-SHA256(token, "framecast bus salt\\0" + stream); sha256 of salt + token', () => {
    for (const [stream, token] of [
      ['door', 'another-token'],
      ['cam.1', 'ü-tökén'],
    ] as const) {
      const salt = createHmac('sha256', token)
        .update(`framecast bus salt\0${stream}`)
        .digest('hex')
        .slice(0, 32);
      const sha256 = createHash('sha256')
        .update(salt + token, 'utf8')
        .digest('hex');
      expect(announcedDigest(stream, token)).toEqual({ salt, sha256 });
    }
  });
});

describe("parseAnnouncement: what is kept of a peer's bytes", () => {
  it("keeps origin, instance and each stream's name, size, digest and port, exactly", () => {
    const d = announcedDigest('cam', 't');
    expect(
      parseAnnouncement(
        bytes({
          origin: 'o',
          instance: 'i',
          extra: 1,
          streams: [
            { name: 'cam', width: 640, height: 360, readTokenDigest: d, legacyPort: 9100, more: 'x' },
          ],
        }),
      ),
    ).toStrictEqual({
      origin: 'o',
      instance: 'i',
      streams: [{ name: 'cam', width: 640, height: 360, readTokenDigest: d, legacyPort: 9100 }],
    });
  });

  it('is null for JSON that is not an object with an origin string and a streams array', () => {
    for (const text of [
      'null',
      '5',
      '"x"',
      '[]',
      '{}',
      '{"origin":"o"}',
      '{"origin":5,"streams":[]}',
      '{"origin":"o","streams":{}}',
    ])
      expect(parseAnnouncement(new TextEncoder().encode(text)), text).toBeNull();
    expect(parseAnnouncement(new Uint8Array([0xff, 0xfe]))).toBeNull();
    expect(parseAnnouncement(bytes({ origin: 'o', streams: [] }))).toEqual({
      origin: 'o',
      instance: 'o',
      streams: [],
    });
  });

  it('an instance that is not a string counts as the origin name', () => {
    expect(parseAnnouncement(bytes({ origin: 'o', instance: 7, streams: [] }))?.instance).toBe('o');
    expect(parseAnnouncement(bytes({ origin: 'o', instance: '', streams: [] }))?.instance).toBe('');
  });

  it('leaves out entries that are not streams with a valid name', () => {
    const p = parseAnnouncement(
      bytes({
        origin: 'o',
        streams: [
          null,
          5,
          'cam',
          [],
          { name: 5 },
          { name: '' },
          { name: 'a b' },
          { name: 'x'.repeat(65) },
          { name: 'ok' },
        ],
      }),
    );
    expect(p?.streams.map((s) => s.name)).toEqual(['ok']);
  });

  it('sizes are integers or null', () => {
    const p = parseAnnouncement(
      bytes({
        origin: 'o',
        streams: [
          { name: 'a', width: 1.5, height: '240' },
          { name: 'b', width: 0, height: -1 },
          { name: 'c' },
        ],
      }),
    );
    expect(p?.streams).toEqual([
      { name: 'a', width: null, height: null },
      { name: 'b', width: 0, height: -1 },
      { name: 'c', width: null, height: null },
    ]);
  });

  it('a digest needs a salt of 16-128 lowercase hex and a sha256 of 64; a malformed one leaves the stream out, null means none', () => {
    const digestOk = (readTokenDigest: unknown): boolean | null => {
      const p = parseAnnouncement(bytes({ origin: 'o', streams: [{ name: 'cam', readTokenDigest }] }));
      if (p?.streams.length === 0) return false;
      return p?.streams[0]?.readTokenDigest === undefined ? null : true;
    };
    expect(digestOk({ salt: 'a'.repeat(16), sha256: HEX64 })).toBe(true);
    expect(digestOk({ salt: 'a'.repeat(128), sha256: HEX64 })).toBe(true);
    expect(digestOk({ salt: '0123456789abcdef', sha256: '0123456789abcdef'.repeat(4) })).toBe(true);
    expect(digestOk({ salt: 'a'.repeat(15), sha256: HEX64 })).toBe(false);
    expect(digestOk({ salt: 'a'.repeat(129), sha256: HEX64 })).toBe(false);
    expect(digestOk({ salt: 'A'.repeat(32), sha256: HEX64 })).toBe(false);
    expect(digestOk({ salt: `${HEX32}g`, sha256: HEX64 })).toBe(false);
    expect(digestOk({ salt: `-${HEX32}`, sha256: HEX64 })).toBe(false);
    expect(digestOk({ salt: HEX32, sha256: 'b'.repeat(63) })).toBe(false);
    expect(digestOk({ salt: HEX32, sha256: 'b'.repeat(65) })).toBe(false);
    expect(digestOk({ salt: HEX32, sha256: `${'b'.repeat(63)}B` })).toBe(false);
    expect(digestOk({ salt: HEX32 })).toBe(false);
    expect(digestOk({ sha256: HEX64 })).toBe(false);
    expect(digestOk({ salt: 5, sha256: HEX64 })).toBe(false);
    // Not strings, though their text would match.
    expect(digestOk({ salt: [HEX32], sha256: HEX64 })).toBe(false);
    expect(digestOk({ salt: HEX32, sha256: [HEX64] })).toBe(false);
    expect(digestOk('digest')).toBe(false);
    expect(digestOk(null)).toBeNull();
    expect(digestOk(undefined)).toBeNull();
    const p = parseAnnouncement(
      bytes({
        origin: 'o',
        streams: [{ name: 'cam', readTokenDigest: { salt: HEX32, sha256: HEX64, x: 1 } }],
      }),
    );
    expect(p?.streams[0]?.readTokenDigest).toStrictEqual({ salt: HEX32, sha256: HEX64 });
  });
});

describe('AnnouncedStreams.take: whether the served streams may have changed', () => {
  it('true for a new or changed announcement; false for the same object again, which only refreshes its time', () => {
    const c = new AnnouncedStreams(1000);
    const first = a('o1', 'i1', 'cam');
    expect(c.take(first, 0)).toBe(true);
    expect(c.take(first, 900)).toBe(false);
    // Refreshed at 900: kept at 1900, forgotten after.
    expect(names(c, 1900)).toEqual(['cam']);
    expect(c.take(a('o1', 'i1', 'cam'), 1900)).toBe(true);
    // The same object heard with an older time does not move its time back.
    const again = a('o1', 'i1', 'cam', 'door');
    expect(c.take(again, 2000)).toBe(true);
    expect(c.take(again, 1500)).toBe(false);
    expect(names(c, 3000)).toEqual(['cam', 'door']);
    expect(names(c, 3001)).toEqual([]);
  });

  it('true when taking it forgot a silent process or replaced a stale one, even for the same object', () => {
    const c = new AnnouncedStreams(10_000);
    const mine = a('o1', 'i1', 'cam');
    c.take(mine, 0);
    c.take(a('o2', 'j1', 'door'), 0);
    expect(c.take(mine, 5000)).toBe(false);
    expect(c.take(mine, 10_001)).toBe(true);
    expect(names(c, 10_001)).toEqual(['cam']);
    const s = new AnnouncedStreams();
    const restarted = a('o1', 'new', 'cam');
    s.take(a('o1', 'old', 'door'), 0);
    s.take(restarted, 100);
    expect(s.take(restarted, 6500)).toBe(false);
    expect(s.take(restarted, 6501)).toBe(true);
    expect(names(s, 6501)).toEqual(['cam']);
  });

  it('another origin name is never stale for this one, nor a process for itself', () => {
    const c = new AnnouncedStreams();
    const mine = a('o1', 'i1', 'cam');
    c.take(mine, 0);
    c.take(a('o2', 'j1', 'door'), 10_000);
    expect(names(c, 10_000)).toEqual(['cam', 'door']);
    // The same process heard again after 10 s of silence: kept, so its same announcement changes nothing.
    expect(c.take(mine, 10_000)).toBe(false);
    expect(names(c, 10_000)).toEqual(['cam', 'door']);
  });

  it('resume never moves a time back', () => {
    const c = new AnnouncedStreams(1000);
    c.take(a('o1', 'i1', 'cam'), 5000);
    c.resume(100);
    expect(names(c, 6000)).toEqual(['cam']);
    expect(names(c, 6001)).toEqual([]);
  });

  it(`beyond ${MAX_INSTANCES} processes a new one is ignored (the result says whether others were forgotten); reported again once under half`, () => {
    const notices: AnnouncementNotice[] = [];
    const c = new AnnouncedStreams(1000, (n) => notices.push(n));
    for (let i = 0; i < MAX_INSTANCES; i++)
      expect(c.take(a('p', `i${i}`, `s${i}`), i < 200 ? 0 : 500)).toBe(true);
    expect(c.take(a('late', 'z1', 'late'), 600)).toBe(false);
    expect(notices).toEqual([{ kind: 'instances', origin: 'late', max: MAX_INSTANCES }]);
    expect(noticeText(notices[0]!)).toBe(
      `bus: more than ${MAX_INSTANCES} origin processes announce; origin late's new process is ignored until one is forgotten`,
    );
    // Those kept may still announce.
    expect(c.take(a('p', 'i0', 's0', 'x'), 700)).toBe(true);
    // 199 of them forgotten at 1001 (under half are left): the newcomer is taken, and the forgetting counts.
    expect(c.take(a('late', 'z1', 'late'), 1001)).toBe(true);
    expect(c.streams(1001).has('late')).toBe(true);
    // Filled again: reported again, since the count fell under half meanwhile.
    for (let i = 0; i < 300; i++) c.take(a('q', `q${i}`, `q${i}`), 1100);
    expect(notices.map((n) => n.kind)).toEqual(['instances', 'instances']);
  });

  it('the instances notice is not reported again while half or more stay', () => {
    const notices: AnnouncementNotice[] = [];
    const c = new AnnouncedStreams(1000, (n) => notices.push(n));
    for (let i = 0; i < MAX_INSTANCES; i++) c.take(a('p', `i${i}`, `s${i}`), i < 128 ? 0 : 500);
    c.take(a('late', 'z1', 'late'), 600);
    // 128 forgotten: 128 left, exactly half; a newcomer is taken, then the list fills again.
    expect(c.take(a('late', 'z1', 'late'), 1001)).toBe(true);
    for (let i = 0; i < 120; i++) c.take(a('q', `q${i}`, `q${i}`), 1100);
    expect(notices.map((n) => n.kind)).toEqual(['instances']);
  });

  it('trusted too, streams() does not clear the instances notice: it is not reported again while full', () => {
    const notices: AnnouncementNotice[] = [];
    const c = new AnnouncedStreams(FORGET_AFTER_MS, (n) => notices.push(n), { trusted: true });
    for (let i = 0; i <= MAX_INSTANCES; i++) c.take(a('p', `i${i}`, `s${i}`), 0);
    c.streams(0);
    c.take(a('p', 'another', 'x'), 1);
    c.streams(1);
    expect(notices.map((n) => n.kind)).toEqual(['instances']);
  });

  it(`takes the first ${MAX_STREAMS} streams of a list; reported once per process, again after a normal list`, () => {
    const notices: AnnouncementNotice[] = [];
    const c = new AnnouncedStreams(FORGET_AFTER_MS, (n) => notices.push(n));
    const exact = Array.from({ length: MAX_STREAMS }, (_, i) => `cam${i}`);
    c.take(a('o', 'i', ...exact), 0);
    expect(c.streams(0).size).toBe(MAX_STREAMS);
    expect(notices).toEqual([]);
    const big = [...exact, 'one-more'];
    c.take(a('o', 'i', ...big), 1);
    c.take(a('o', 'i', ...big, 'two-more'), 2);
    expect(c.streams(2).has('one-more')).toBe(false);
    expect(notices).toEqual([{ kind: 'streams', origin: 'o', announced: MAX_STREAMS + 1, max: MAX_STREAMS }]);
    expect(noticeText(notices[0]!)).toBe(
      `bus: origin o announces ${MAX_STREAMS + 1} streams; only the first ${MAX_STREAMS} are taken`,
    );
    c.take(a('o', 'i', 'cam'), 3);
    c.take(a('o', 'i', ...big), 4);
    expect(notices).toHaveLength(2);
    // Another process with an oversized list is reported on its own.
    c.take(a('o2', 'j', ...big), 5);
    expect(notices).toHaveLength(3);
    // Ports of streams past the first MAX_STREAMS are not taken either.
    c.take(
      {
        origin: 'o3',
        instance: 'k',
        streams: [
          ...exact.map((name) => ({ name, width: 1, height: 1 })),
          { name: 'p', width: 1, height: 1, legacyPort: 9000 },
        ],
      },
      6,
    );
    c.streams(6);
    expect(c.legacyPort('p')).toBeNull();
  });
});

describe('AnnouncedStreams: seed ports', () => {
  it('the lowest port announced wins; a stream without one has none; gone with its announcement', () => {
    const c = new AnnouncedStreams(FORGET_AFTER_MS, () => {}, { trusted: true });
    c.take(with_('o1', 'i1', { legacyPort: 9200 }, { name: 'door' }), 0);
    c.take(with_('o2', 'j1', { legacyPort: 9100 }), 0);
    c.take(with_('o3', 'k1', { legacyPort: 9300 }), 0);
    c.streams(0);
    expect(c.legacyPort('cam')).toBe(9100);
    expect(c.legacyPort('door')).toBeNull();
    expect(c.legacyPort('nothing')).toBeNull();
    // Trusted: a changed port applies.
    c.take(with_('o2', 'j1', {}), 1);
    c.take(with_('o3', 'k1', { legacyPort: 9050 }), 1);
    c.streams(1);
    expect(c.legacyPort('cam')).toBe(9050);
    c.take(with_('o1', 'i1', { name: 'door' }), 2);
    c.take(with_('o3', 'k1', {}), 2);
    c.streams(2);
    expect(c.legacyPort('cam')).toBeNull();
  });

  it('untrusted: the port (or none) a stream is first served with stays, another reported once', () => {
    const notices: AnnouncementNotice[] = [];
    const c = new AnnouncedStreams(FORGET_AFTER_MS, (n) => notices.push(n));
    c.take(with_('o1', 'i1', { legacyPort: 9100 }, { name: 'door' }), 0);
    c.streams(0);
    expect(c.legacyPort('cam')).toBe(9100);
    c.take(with_('o1', 'i1', { legacyPort: 9200 }, { name: 'door', legacyPort: 9300 }), 1);
    c.streams(1);
    expect(c.legacyPort('cam')).toBe(9100);
    expect(c.legacyPort('door')).toBeNull();
    c.take(with_('o1', 'i1', {}, { name: 'door', legacyPort: 9400 }), 2);
    c.streams(2);
    expect(c.legacyPort('cam')).toBe(9100);
    expect(c.legacyPort('door')).toBeNull();
    // The pinned port again: nothing to report.
    c.take(with_('o1', 'i1', { legacyPort: 9100 }, { name: 'door' }), 3);
    c.streams(3);
    expect(notices).toEqual([
      { kind: 'kept-port', stream: 'cam', port: 9100 },
      { kind: 'kept-port', stream: 'door', port: null },
    ]);
    expect(noticeText(notices[0]!)).toBe(
      'stream cam: announced on the bus with another seed port; the edge keeps port 9100 (without a bus secret it cannot tell an origin from any peer: restart the edge to take a changed legacyPort)',
    );
    expect(noticeText(notices[1]!)).toContain('the edge keeps none (without a bus secret');
  });
});

describe('AnnouncedStreams: read-token digests', () => {
  const d = (salt: string, sha: string): TokenDigest => ({ salt, sha256: sha });

  it('two digests with the same salt and another sha256 (or the reverse) disagree', () => {
    for (const [x, y] of [
      [d(HEX32, HEX64), d(HEX32, 'c'.repeat(64))],
      [d(HEX32, HEX64), d('c'.repeat(32), HEX64)],
    ] as const) {
      const c = new AnnouncedStreams(FORGET_AFTER_MS, () => {}, { trusted: true });
      c.take(with_('o1', 'i1', { readTokenDigest: x }), 0);
      c.take(with_('o2', 'j1', { readTokenDigest: y }), 0);
      expect(c.streams(0).get('cam')).toBe(c.locked);
    }
    const same = new AnnouncedStreams(FORGET_AFTER_MS, () => {}, { trusted: true });
    same.take(with_('o1', 'i1', { readTokenDigest: d(HEX32, HEX64) }), 0);
    same.take(with_('o2', 'j1', { readTokenDigest: d(HEX32, HEX64) }), 0);
    expect(same.streams(0).get('cam')).toEqual(d(HEX32, HEX64));
  });

  it('the locked digest is a well-formed digest that no announcement carries', () => {
    const c = new AnnouncedStreams();
    expect(c.locked.salt).toMatch(/^[0-9a-f]{32}$/);
    expect(c.locked.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(new AnnouncedStreams().locked).not.toEqual(c.locked);
  });

  it('a conflict names each origin once, sorted; untrusted it is for good', () => {
    const trusted: AnnouncementNotice[] = [];
    const t = new AnnouncedStreams(FORGET_AFTER_MS, (n) => trusted.push(n), { trusted: true });
    t.take(with_('zeta', 'z1', { readTokenDigest: announcedDigest('cam', 'one') }), 0);
    t.take(with_('alpha', 'a1', { readTokenDigest: announcedDigest('cam', 'two') }), 0);
    t.take(with_('alpha', 'a2', { readTokenDigest: announcedDigest('cam', 'two') }), 0);
    t.streams(0);
    expect(trusted).toStrictEqual([{ kind: 'conflict', stream: 'cam', origins: ['alpha', 'zeta'] }]);
    const untrusted: AnnouncementNotice[] = [];
    const u = new AnnouncedStreams(FORGET_AFTER_MS, (n) => untrusted.push(n));
    u.take(with_('zeta', 'z1', { readTokenDigest: announcedDigest('cam', 'one') }), 0);
    u.take(with_('alpha', 'a1', { readTokenDigest: announcedDigest('cam', 'two') }), 0);
    expect(u.streams(0).get('cam')).toBe(u.locked);
    expect(untrusted).toStrictEqual([
      { kind: 'conflict', stream: 'cam', origins: ['alpha', 'zeta'], forGood: true },
    ]);
    expect(noticeText(untrusted[0]!)).toBe(
      "stream cam: origins alpha, zeta announce different read tokens; closed to viewers without this edge's --token until the edge restarts (no bus secret: it cannot tell which is the origin)",
    );
    // Still locked when they agree again: the conflict is not reported again, the kept lock is.
    u.take(with_('alpha', 'a1', { readTokenDigest: announcedDigest('cam', 'one') }), 1);
    expect(u.streams(1).get('cam')).toBe(u.locked);
    u.streams(2);
    expect(untrusted.map((n) => n.kind)).toEqual(['conflict', 'kept']);
  });

  it('unprotected: names the origins without a digest, once, sorted; cleared and reported again when trusted', () => {
    const notices: AnnouncementNotice[] = [];
    const c = new AnnouncedStreams(FORGET_AFTER_MS, (n) => notices.push(n), { trusted: true });
    const digest = announcedDigest('cam', 'one');
    c.take(with_('o1', 'i1', { readTokenDigest: digest }), 0);
    c.take(with_('zz', 'z1', {}), 0);
    c.take(with_('bb', 'b1', {}), 0);
    c.take(with_('bb', 'b2', {}), 0);
    expect(c.streams(0).get('cam')).toEqual(digest);
    c.streams(1);
    expect(notices).toStrictEqual([{ kind: 'unprotected', stream: 'cam', origins: ['bb', 'zz'] }]);
    expect(noticeText(notices[0]!)).toBe(
      'stream cam: origin bb, zz announces it without a read token while another announces one; the read token stays',
    );
    // They agree: cleared; they disagree again: reported again.
    for (const [o, i] of [
      ['zz', 'z1'],
      ['bb', 'b1'],
      ['bb', 'b2'],
    ] as const)
      c.take(with_(o, i, { readTokenDigest: digest }), 2);
    c.streams(2);
    c.take(with_('zz', 'z1', {}), 3);
    c.streams(3);
    expect(notices.map((n) => n.kind)).toEqual(['unprotected', 'unprotected']);
    expect(notices[1]).toStrictEqual({ kind: 'unprotected', stream: 'cam', origins: ['zz'] });
  });

  it('untrusted, a notice is not reported again after it cleared (a peer flipping would log on each flip)', () => {
    const notices: AnnouncementNotice[] = [];
    const c = new AnnouncedStreams(FORGET_AFTER_MS, (n) => notices.push(n));
    const digest = announcedDigest('cam', 'one');
    c.take(with_('o1', 'i1', { readTokenDigest: digest }), 0);
    for (let t = 1; t < 20; t++) {
      c.take(with_('peer', 'p1', t % 2 ? {} : { readTokenDigest: digest }), t);
      expect(c.streams(t).get('cam')).toEqual(digest);
    }
    expect(notices).toStrictEqual([{ kind: 'unprotected', stream: 'cam', origins: ['peer'] }]);
  });

  it('untrusted: a pinned stream whose processes then disagree is reported as a conflict, not as kept', () => {
    const notices: AnnouncementNotice[] = [];
    const c = new AnnouncedStreams(FORGET_AFTER_MS, (n) => notices.push(n));
    c.take(with_('o1', 'i1', { readTokenDigest: announcedDigest('cam', 'one') }), 0);
    c.streams(0);
    c.take(with_('o2', 'j1', { readTokenDigest: announcedDigest('cam', 'two') }), 1);
    expect(c.streams(1).get('cam')).toBe(c.locked);
    expect(notices.map((n) => n.kind)).toEqual(['conflict']);
  });

  it('untrusted: each stream kept closed is reported once, on its own', () => {
    const notices: AnnouncementNotice[] = [];
    const c = new AnnouncedStreams(FORGET_AFTER_MS, (n) => notices.push(n));
    const both = (digests: boolean): Announcement =>
      with_(
        'o1',
        'i1',
        { name: 'cam', ...(digests ? { readTokenDigest: announcedDigest('cam', 'one') } : {}) },
        { name: 'door', ...(digests ? { readTokenDigest: announcedDigest('door', 'one') } : {}) },
      );
    c.take(both(true), 0);
    c.streams(0);
    c.take(both(false), 1);
    c.streams(1);
    c.streams(2);
    expect(notices).toStrictEqual([
      { kind: 'kept', stream: 'cam' },
      { kind: 'kept', stream: 'door' },
    ]);
  });

  it('untrusted: a stream served open that later announces a digest takes it, then is kept', () => {
    const notices: AnnouncementNotice[] = [];
    const c = new AnnouncedStreams(FORGET_AFTER_MS, (n) => notices.push(n));
    c.take(with_('o1', 'i1', {}), 0);
    expect(c.streams(0).get('cam')).toBeNull();
    c.take(with_('o1', 'i1', {}), 1);
    expect(c.streams(1).get('cam')).toBeNull();
    expect(notices).toEqual([]);
    const one = announcedDigest('cam', 'one');
    c.take(with_('o1', 'i1', { readTokenDigest: one }), 2);
    expect(c.streams(2).get('cam')).toEqual(one);
    c.take(with_('o1', 'i1', {}), 3);
    expect(c.streams(3).get('cam')).toEqual(one);
    expect(notices).toStrictEqual([{ kind: 'kept', stream: 'cam' }]);
    expect(noticeText(notices[0]!)).toBe(
      'stream cam: announced on the bus without its read token, or with another; it stays closed (without a bus secret an edge cannot tell an origin from any peer: restart the edge to take a removed or changed read token)',
    );
  });

  it(`untrusted pins are bounded (${MAX_PINS}): the oldest pin of a stream not served gives way, a served one never`, () => {
    const c = new AnnouncedStreams(FORGET_AFTER_MS, () => {});
    const digest = (name: string): TokenDigest => ({
      salt: HEX32,
      sha256: createHash('sha256').update(name).digest('hex'),
    });
    const list = (prefix: string, n: number): Partial<AnnouncedStream>[] =>
      Array.from({ length: n }, (_, i) => ({
        name: `${prefix}${i}`,
        readTokenDigest: digest(`${prefix}${i}`),
      }));
    // 'kept0', pinned first, stays served all along (announced without its digest since: still
    // closed by its pin); MAX_PINS other names pass through another process.
    c.take(with_('o1', 'keeper', { name: 'kept0', readTokenDigest: digest('kept0') }), 0);
    c.streams(0);
    c.take(with_('o1', 'keeper', { name: 'kept0' }), 1);
    expect(c.streams(1).get('kept0')).toEqual(digest('kept0'));
    const rounds = MAX_PINS / MAX_STREAMS;
    for (let r = 0; r < rounds; r++) {
      c.take(with_('o2', 'churn', ...list(`r${r}-`, MAX_STREAMS)), r + 2);
      c.streams(r + 2);
    }
    // MAX_PINS + 1 pins were taken: the oldest one of a stream not served now ('r0-0') gave way;
    // 'r0-1' did not, nor 'kept0', served.
    const t = rounds + 2;
    c.take(with_('o2', 'churn', { name: 'r0-0', legacyPort: 9100 }, { name: 'r0-1', legacyPort: 9101 }), t);
    c.take(with_('o1', 'keeper', { name: 'kept0', legacyPort: 9200 }), t);
    const served = c.streams(t);
    expect(served.get('r0-0')).toBeNull();
    expect(served.get('r0-1')).toEqual(digest('r0-1'));
    expect(served.get('kept0')).toEqual(digest('kept0'));
    // Seed-port pins (each stream's first: none here) are bounded alike: r0-0's gave way, so it takes
    // the port now announced; r0-1 and kept0 keep none.
    expect(c.legacyPort('r0-0')).toBe(9100);
    expect(c.legacyPort('r0-1')).toBeNull();
    expect(c.legacyPort('kept0')).toBeNull();
  });
});

describe('noticeText', () => {
  it('a conflict between processes that may agree later says so', () => {
    expect(noticeText({ kind: 'conflict', stream: 's', origins: ['a'] })).toBe(
      "stream s: origins a announce different read tokens; closed to viewers without this edge's --token until they agree",
    );
    expect(noticeText({ kind: 'conflict', stream: 's', origins: ['a'], forGood: false })).toContain(
      'until they agree',
    );
  });
});
