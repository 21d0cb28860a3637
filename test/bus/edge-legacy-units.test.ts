import { describe, expect, it } from 'vitest';
import { AnnouncedStreams, type AnnouncementNotice, parseAnnouncement } from '../../src/bus/announcement.js';
import {
  bindFailure,
  checkLegacyPorts,
  LegacyPortPlan,
  parseLegacyPorts,
} from '../../src/app/edge-legacy-ports.js';
import { FramecastError } from '../../src/errors.js';

// The legacy ports an edge opens, without sockets: what an announcement carries, which port the
// catalog keeps, how the option is read and which port each stream gets.

const bytes = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

describe('announcements: legacyPort', () => {
  it('keeps an integer port 1-65535 and drops any other value, keeping the stream', () => {
    const values: unknown[] = [9100, 1, 65535, 0, 65536, -5, 91.5, '9100', null, { p: 1 }];
    const parsed = parseAnnouncement(
      bytes({
        origin: 'o1',
        instance: 'i1',
        streams: values.map((legacyPort, i) => ({ name: `s${i}`, width: 1, height: 1, legacyPort })),
      }),
    );
    expect(parsed?.streams.map((s) => s.legacyPort ?? null)).toEqual([
      9100,
      1,
      65535,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
    ]);
    expect(parsed?.streams).toHaveLength(values.length);
    expect(parsed?.streams[3]).not.toHaveProperty('legacyPort');
  });

  it('the catalog gives the announced port, the lowest when origins differ, and forgets it (with a bus secret)', () => {
    const c = new AnnouncedStreams(undefined, undefined, { trusted: true });
    const s = (name: string, legacyPort?: number) => ({ name, width: 1, height: 1, legacyPort });
    c.take({ origin: 'o1', instance: 'i1', streams: [s('cam', 9200), s('plain')] }, 0);
    c.take({ origin: 'o2', instance: 'i2', streams: [s('cam', 9100)] }, 0);
    c.streams(0);
    expect(c.legacyPort('cam')).toBe(9100);
    expect(c.legacyPort('plain')).toBeNull();
    // o2 announces cam without a port now: o1's remains.
    c.take({ origin: 'o2', instance: 'i2', streams: [s('cam')] }, 1);
    c.streams(1);
    expect(c.legacyPort('cam')).toBe(9200);
    c.take({ origin: 'o1', instance: 'i1', streams: [] }, 2);
    c.streams(2);
    expect(c.legacyPort('cam')).toBeNull();
  });

  it('without a bus secret the port (or none) a stream was first served with stays, reported once', () => {
    const notices: AnnouncementNotice[] = [];
    const c = new AnnouncedStreams(undefined, (n) => notices.push(n));
    const s = (name: string, legacyPort?: number) => ({ name, width: 1, height: 1, legacyPort });
    c.take({ origin: 'o1', instance: 'i1', streams: [s('cam', 9200), s('plain')] }, 0);
    c.streams(0);
    for (let t = 1; t < 20; t++) {
      c.take(
        { origin: 'o1', instance: 'i1', streams: [s('cam', t % 2 ? 9100 : undefined), s('plain', 9300)] },
        t,
      );
      c.streams(t);
      expect(c.legacyPort('cam')).toBe(9200);
      expect(c.legacyPort('plain')).toBeNull();
    }
    expect(notices.map((n) => [n.kind, 'stream' in n ? n.stream : null])).toEqual([
      ['kept-port', 'cam'],
      ['kept-port', 'plain'],
    ]);
  });
});

describe('edge legacyPorts option', () => {
  it('reads same, off and +N; refuses anything else', () => {
    expect(parseLegacyPorts('same')).toBe('same');
    expect(parseLegacyPorts('off')).toBe('off');
    expect(parseLegacyPorts('+10')).toEqual({ offset: 10 });
    expect(parseLegacyPorts('+0')).toBe('same');
    expect(parseLegacyPorts('+65534')).toEqual({ offset: 65534 });
    for (const bad of ['', '10', '+', '+65535', '-1', '+1.5', 'Same', '+999999', ' +1'])
      expect(parseLegacyPorts(bad), bad).toBeNull();
    expect(() => checkLegacyPorts({ offset: -1 })).toThrow(/legacyPorts must be/);
    expect(() => checkLegacyPorts({ offset: 2.5 })).toThrow(RangeError);
    expect(() => checkLegacyPorts('on' as 'same')).toThrow(/got "on"/);
  });

  it('names a port in use plainly, other listen errors as they are', () => {
    expect(bindFailure(new FramecastError('ERR_PORT_IN_USE', 'x'))).toBe('it is already in use');
    expect(bindFailure(new Error('no permission'))).toBe('no permission');
  });
});

describe('LegacyPortPlan', () => {
  const open = { tokenRequired: false, allowLegacy: false };
  const planOf = (mode: Parameters<typeof checkLegacyPorts>[0], policy = open) => {
    const notices: string[] = [];
    const plan = new LegacyPortPlan(mode, policy, (s, p, r) => notices.push(`${s} ${p} ${r}`));
    return { plan, notices };
  };

  it('same, an offset, off', () => {
    const same = planOf('same');
    same.plan.begin(9999);
    expect(same.plan.pick('cam', 9100, null)).toBe(9100);
    expect(same.plan.pick('plain', null, null)).toBeNull();
    const shifted = planOf({ offset: 7 });
    shifted.plan.begin(9999);
    expect(shifted.plan.pick('cam', 9100, null)).toBe(9107);
    const off = planOf('off');
    off.plan.begin(9999);
    expect(off.plan.pick('cam', 9100, null)).toBeNull();
    expect([...same.notices, ...shifted.notices, ...off.notices]).toEqual([]);
  });

  it('leaves out a port beyond 65535, the main port, a port taken twice; each reported once', () => {
    const { plan, notices } = planOf({ offset: 100 });
    for (let pass = 0; pass < 3; pass++) {
      plan.begin(9200);
      expect(plan.pick('high', 65500, null)).toBeNull();
      expect(plan.pick('main', 9100, null)).toBeNull();
      expect(plan.pick('a', 9000, null)).toBe(9100);
      expect(plan.pick('b', 9000, null)).toBeNull();
    }
    expect(notices).toEqual([
      'high 65600 65500 + 100 is beyond 65535',
      "main 9200 it is this edge's TCP port or another stream's legacy port",
      "b 9100 it is this edge's TCP port or another stream's legacy port",
    ]);
    // Once fixed and broken again, it is reported again; a stream gone and back likewise.
    plan.begin(9200);
    expect(plan.pick('b', 9001, null)).toBe(9101);
    plan.keep(new Set(['b']));
    plan.begin(9200);
    expect(plan.pick('b', 9100, null)).toBeNull();
    expect(plan.pick('high', 65500, null)).toBeNull();
    expect(notices).toHaveLength(5);
  });

  it('a kept port is taken for the pass', () => {
    const { plan } = planOf('same');
    plan.begin(9999);
    expect(plan.hold(9100)).toBe(9100);
    expect(plan.pick('cam', 9100, null)).toBeNull();
  });

  it('a stream that needs a token gets no seed port unless allowLegacy', () => {
    const digest = { salt: 'a'.repeat(32), sha256: 'b'.repeat(64) };
    const locked = planOf('same');
    locked.plan.begin(9999);
    expect(locked.plan.pick('cam', 9100, digest)).toBeNull();
    expect(locked.notices[0]).toMatch(/cam 9100 the stream needs a token.*--allow-legacy/);
    const edgeToken = planOf('same', { tokenRequired: true, allowLegacy: false });
    edgeToken.plan.begin(9999);
    expect(edgeToken.plan.pick('cam', 9100, null)).toBeNull();
    const allowed = planOf('same', { tokenRequired: true, allowLegacy: true });
    allowed.plan.begin(9999);
    expect(allowed.plan.pick('cam', 9100, digest)).toBe(9100);
    expect(allowed.notices).toEqual([]);
  });
});
