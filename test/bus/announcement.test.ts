import { describe, expect, it } from 'vitest';
import {
  announcedDigest,
  AnnouncedStreams,
  FORGET_AFTER_MS,
  parseAnnouncement,
  STALE_MS,
  type Announcement,
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

  it('the most recent announcement gives a stream its digest', () => {
    const c = new AnnouncedStreams();
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
});
