import { describe, expect, it } from 'vitest';
import {
  announcedDigest,
  AnnouncedStreams,
  FORGET_AFTER_MS,
  MAX_INSTANCES,
  MAX_STREAMS,
  noticeText,
  parseAnnouncement,
  STALE_MS,
  type Announcement,
  type AnnouncementNotice,
} from '../../src/bus/announcement.js';
import { tokenMatches, tokenOpens } from '../../src/util/token.js';

const bytes = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
const a = (origin: string, instance: string, ...names: string[]): Announcement => ({
  origin,
  instance,
  streams: names.map((name) => ({ name, width: 320, height: 240 })),
});
const names = (c: AnnouncedStreams, now: number): string[] => [...c.streams(now).keys()].sort();

describe('announcements: parsing', () => {
  it('keeps valid streams and digests, leaves out bad names and malformed digests', () => {
    const good = announcedDigest('cam', 's3cret');
    const parsed = parseAnnouncement(
      bytes({
        origin: 'o1',
        instance: 'i1',
        streams: [
          { name: 'cam', width: 320, height: 240, readTokenDigest: good },
          { name: 'open', width: null, height: null },
          { name: '../etc', width: 1, height: 1 },
          { name: 'bad', readTokenDigest: { salt: 'zz', sha256: 'nothex' } },
          { name: 'short', readTokenDigest: { salt: good.salt, sha256: 'ab' } },
          7,
        ],
      }),
    );
    expect(parsed).toEqual({
      origin: 'o1',
      instance: 'i1',
      streams: [
        { name: 'cam', width: 320, height: 240, readTokenDigest: good },
        { name: 'open', width: null, height: null },
      ],
    });
  });

  it('is null for what is not an announcement; an older origin without instance counts as one process', () => {
    expect(parseAnnouncement(new TextEncoder().encode('{nope'))).toBeNull();
    expect(parseAnnouncement(bytes({ streams: [] }))).toBeNull();
    expect(parseAnnouncement(bytes({ origin: 'o', streams: 'cam' }))).toBeNull();
    expect(parseAnnouncement(bytes({ origin: 'o', streams: [{ name: 'cam' }] }))?.instance).toBe('o');
  });
});

describe('announcements: read token digests', () => {
  it('opens with the token only, never carries the token, and is the same after an origin restart', () => {
    const d = announcedDigest('cam', 'watch-me');
    expect(tokenMatches(d, 'watch-me')).toBe(true);
    expect(tokenMatches(d, 'watch-m')).toBe(false);
    expect(tokenMatches(d, '')).toBe(false);
    expect(tokenOpens(null, null, d)).toBe(false);
    expect(tokenOpens('server', 'server', d)).toBe(true);
    expect(tokenOpens('watch-me', 'server', d)).toBe(true);
    expect(JSON.stringify(d)).not.toContain('watch-me');
    expect(announcedDigest('cam', 'watch-me')).toEqual(d);
    expect(announcedDigest('cam', 'other').sha256).not.toBe(d.sha256);
    // Another stream with the same token gets another salt.
    expect(announcedDigest('cam2', 'watch-me').salt).not.toBe(d.salt);
  });
});

describe('announced streams, as an edge hears them', () => {
  it('a stream the same origin no longer lists is gone at once', () => {
    const c = new AnnouncedStreams();
    c.take(a('o1', 'i1', 'cam', 'door'), 0);
    expect(names(c, 0)).toEqual(['cam', 'door']);
    c.take(a('o1', 'i1', 'cam'), 100);
    expect(names(c, 100)).toEqual(['cam']);
  });

  it("a silent origin's streams stay until forgetAfter, then go", () => {
    const c = new AnnouncedStreams();
    c.take(a('o1', 'i1', 'cam'), 0);
    c.take(a('o2', 'j1', 'door'), 0);
    c.take(a('o2', 'j1', 'door'), FORGET_AFTER_MS);
    expect(names(c, FORGET_AFTER_MS)).toEqual(['cam', 'door']);
    expect(names(c, FORGET_AFTER_MS + 1)).toEqual(['door']);
  });

  it("the edge's own outage forgets no one: silence counts from its reconnection", () => {
    const c = new AnnouncedStreams();
    c.take(a('o1', 'i1', 'cam'), 0);
    c.take(a('o2', 'j1', 'door'), 0);
    const back = FORGET_AFTER_MS - 1;
    c.resume(back);
    c.take(a('o1', 'i1', 'cam'), back + 2000);
    expect(names(c, back + FORGET_AFTER_MS)).toEqual(['cam', 'door']);
    expect(names(c, back + FORGET_AFTER_MS + 1)).toEqual(['cam']);
  });

  it('a restarted origin (same name, new instance) replaces its stale list; a live one of the same name does not', () => {
    const c = new AnnouncedStreams();
    c.take(a('o1', 'old', 'cam', 'door'), 0);
    // Heard soon after the old one: both may be alive (two servers in one process share a name).
    c.take(a('o1', 'new', 'cam'), 1000);
    expect(names(c, 1000)).toEqual(['cam', 'door']);
    c.take(a('o1', 'old', 'cam', 'door'), 2000);
    c.take(a('o1', 'new', 'cam'), 2000 + STALE_MS);
    expect(names(c, 2000 + STALE_MS)).toEqual(['cam', 'door']);
    // The old process has been silent for longer than STALE_MS: it died, the new list counts.
    c.take(a('o1', 'new', 'cam'), 2001 + STALE_MS);
    expect(names(c, 2001 + STALE_MS)).toEqual(['cam']);
  });

  it('with a bus secret (trusted), the most recent announcement gives a stream its digest', () => {
    const c = new AnnouncedStreams(FORGET_AFTER_MS, undefined, { trusted: true });
    const d1 = announcedDigest('cam', 'one');
    const d2 = announcedDigest('cam', 'two');
    c.take(
      { origin: 'o1', instance: 'i1', streams: [{ name: 'cam', width: 1, height: 1, readTokenDigest: d1 }] },
      0,
    );
    expect(c.streams(0).get('cam')).toEqual(d1);
    c.take(
      { origin: 'o1', instance: 'i1', streams: [{ name: 'cam', width: 1, height: 1, readTokenDigest: d2 }] },
      10,
    );
    expect(c.streams(10).get('cam')).toEqual(d2);
    c.take(a('o1', 'i1', 'cam'), 20);
    expect(c.streams(20).get('cam')).toBeNull();
  });

  const withDigest = (
    origin: string,
    instance: string,
    name: string,
    token: string | null,
  ): Announcement => ({
    origin,
    instance,
    streams: [
      { name, width: 1, height: 1, ...(token ? { readTokenDigest: announcedDigest(name, token) } : {}) },
    ],
  });

  it('fails closed: a process announcing a stream without a digest does not open it while another has one', () => {
    const notices: AnnouncementNotice[] = [];
    const c = new AnnouncedStreams(FORGET_AFTER_MS, (n) => notices.push(n), { trusted: true });
    const d = announcedDigest('cam', 'one');
    c.take(withDigest('o1', 'i1', 'cam', 'one'), 0);
    c.take(withDigest('o2', 'j1', 'cam', null), 10);
    expect(c.streams(10).get('cam')).toEqual(d);
    c.take(withDigest('o2', 'j1', 'cam', null), 2000);
    expect(c.streams(2000).get('cam')).toEqual(d);
    expect(notices).toEqual([{ kind: 'unprotected', stream: 'cam', origins: ['o2'] }]);
    // Once the process with the digest is forgotten, the stream is what the others say.
    c.take(withDigest('o2', 'j1', 'cam', null), FORGET_AFTER_MS + 1);
    expect(c.streams(FORGET_AFTER_MS + 1).get('cam')).toBeNull();
  });

  it('two digests: the stream gets the locked digest, the same on every call, reported once per disagreement', () => {
    const notices: AnnouncementNotice[] = [];
    const c = new AnnouncedStreams(FORGET_AFTER_MS, (n) => notices.push(n), { trusted: true });
    c.take(withDigest('o1', 'i1', 'cam', 'one'), 0);
    c.take(withDigest('o2', 'j1', 'cam', 'two'), 0);
    for (let t = 0; t < 10_000; t += 1000) {
      c.take(withDigest(t % 2000 ? 'o1' : 'o2', t % 2000 ? 'i1' : 'j1', 'cam', t % 2000 ? 'one' : 'two'), t);
      expect(c.streams(t).get('cam')).toBe(c.locked);
    }
    expect(notices).toEqual([{ kind: 'conflict', stream: 'cam', origins: ['o1', 'o2'] }]);
    expect(noticeText(notices[0]!)).toBe(
      "stream cam: origins o1, o2 announce different read tokens; closed to viewers without this edge's --token until they agree",
    );
    // o2 drops the stream: o1's digest again; a new disagreement is reported again.
    c.take({ origin: 'o2', instance: 'j1', streams: [] }, 10_000);
    expect(c.streams(10_000).get('cam')).toEqual(announcedDigest('cam', 'one'));
    c.take(withDigest('o2', 'j1', 'cam', 'two'), 11_000);
    expect(c.streams(11_000).get('cam')).toBe(c.locked);
    expect(notices.map((n) => n.kind)).toEqual(['conflict', 'conflict']);
    // The locked digest opens to no token (only the edge's own, checked before digests).
    expect(tokenOpens('one', null, c.locked)).toBe(false);
    expect(tokenOpens('two', null, c.locked)).toBe(false);
  });

  it('a restarted origin with another token: closed until the old process gives way, then the new digest', () => {
    const c = new AnnouncedStreams(FORGET_AFTER_MS, undefined, { trusted: true });
    c.take(withDigest('o1', 'old', 'cam', 'one'), 0);
    c.take(withDigest('o1', 'new', 'cam', 'two'), 1000);
    expect(c.streams(1000).get('cam')).toBe(c.locked);
    c.take(withDigest('o1', 'new', 'cam', 'two'), 1 + STALE_MS);
    expect(c.streams(1 + STALE_MS).get('cam')).toEqual(announcedDigest('cam', 'two'));
    // Without a bus secret the disagreement locks it until the edge restarts.
    const u = new AnnouncedStreams();
    u.take(withDigest('o1', 'old', 'cam', 'one'), 0);
    u.take(withDigest('o1', 'new', 'cam', 'two'), 1000);
    expect(u.streams(1000).get('cam')).toBe(u.locked);
    u.take(withDigest('o1', 'new', 'cam', 'two'), 1 + STALE_MS);
    expect(u.streams(1 + STALE_MS).get('cam')).toBe(u.locked);
  });

  it('without a bus secret the first digest stays: no announcement opens it, another locks it for good, logged once', () => {
    const notices: AnnouncementNotice[] = [];
    const c = new AnnouncedStreams(FORGET_AFTER_MS, (n) => notices.push(n));
    const d = announcedDigest('cam', 'one');
    c.take(withDigest('o1', 'i1', 'cam', 'one'), 0);
    expect(c.streams(0).get('cam')).toEqual(d);
    // The same process (any peer can copy its instance) flips the stream open, many times.
    for (let t = 1; t < 100; t++) {
      c.take(withDigest('o1', 'i1', 'cam', t % 2 ? null : 'one'), t);
      expect(c.streams(t).get('cam')).toEqual(d);
    }
    // Removed, then announced again without a digest: still closed.
    c.take({ origin: 'o1', instance: 'i1', streams: [] }, 100);
    expect(c.streams(100).has('cam')).toBe(false);
    c.take(withDigest('o1', 'i1', 'cam', null), 101);
    expect(c.streams(101).get('cam')).toEqual(d);
    // Another digest: locked, and it stays locked whatever comes next.
    for (let t = 102; t < 200; t++) {
      c.take(withDigest('o1', 'i1', 'cam', ['two', 'one', null][t % 3] ?? null), t);
      expect(c.streams(t).get('cam')).toBe(c.locked);
    }
    expect(notices).toEqual([{ kind: 'kept', stream: 'cam' }]);
    expect(noticeText(notices[0]!)).toContain('restart the edge');
    // A stream first announced open may be closed (that fails closed); open streams stay open.
    c.take(withDigest('o1', 'i1', 'door', null), 200);
    expect(c.streams(200).get('door')).toBeNull();
    c.take(withDigest('o1', 'i1', 'door', 'three'), 201);
    expect(c.streams(201).get('door')).toEqual(announcedDigest('door', 'three'));
  });

  it(`keeps at most ${MAX_INSTANCES} processes and ${MAX_STREAMS} streams of one, reported once`, () => {
    const notices: AnnouncementNotice[] = [];
    const c = new AnnouncedStreams(FORGET_AFTER_MS, (n) => notices.push(n));
    for (let i = 0; i < MAX_INSTANCES + 5; i++) c.take(a('peer', `i${i}`, `s${i}`), 0);
    expect(c.streams(0).size).toBe(MAX_INSTANCES);
    expect(c.streams(0).has(`s${MAX_INSTANCES}`)).toBe(false);
    expect(notices).toEqual([{ kind: 'instances', origin: 'peer', max: MAX_INSTANCES }]);
    // Those kept still announce; once the others are forgotten, a new process is taken.
    c.take(a('peer', 'i0', 's0'), FORGET_AFTER_MS);
    c.take(a('late', 'z', 'late'), FORGET_AFTER_MS + 1);
    expect(names(c, FORGET_AFTER_MS + 1)).toEqual(['late', 's0']);

    const big = Array.from({ length: MAX_STREAMS + 500 }, (_, i) => `cam${i}`);
    c.take(a('o9', 'k', ...big), FORGET_AFTER_MS + 2);
    c.take(a('o9', 'k', ...big), FORGET_AFTER_MS + 3);
    const served = c.streams(FORGET_AFTER_MS + 3);
    expect(served.has(`cam${MAX_STREAMS - 1}`)).toBe(true);
    expect(served.has(`cam${MAX_STREAMS}`)).toBe(false);
    expect(notices.slice(1)).toEqual([
      { kind: 'streams', origin: 'o9', announced: MAX_STREAMS + 500, max: MAX_STREAMS },
    ]);
  });
});
