import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AnnouncedStreams, MAX_INSTANCES, type Announcement } from '../../src/bus/announcement.js';
import { AnnouncementGate, TAKE_INTERVAL_MS } from '../../src/bus/announcement-gate.js';

// The gate between the bus and an edge's catalog, on fake timers: which announcement is taken when,
// what is parsed again, and what a peer inventing processes or payloads can make it hold.

const T0 = 1_000_000;
const payload = (instance: string, ...names: string[]): Uint8Array =>
  new TextEncoder().encode(
    JSON.stringify({ origin: 'o', instance, streams: names.map((name) => ({ name, width: 1, height: 1 })) }),
  );
const ann = (instance: string, ...names: string[]): Announcement => ({
  origin: 'o',
  instance,
  streams: names.map((name) => ({ name, width: 1, height: 1 })),
});

/** A catalog that records what it is handed (and says whether that changed the edge's streams). */
function recordingCatalog(changes = true): { catalog: AnnouncedStreams; taken: [Announcement, number][] } {
  const taken: [Announcement, number][] = [];
  const catalog = {
    take: (a: Announcement, now: number) => {
      taken.push([a, now]);
      return changes;
    },
  } as unknown as AnnouncedStreams;
  return { catalog, taken };
}

const gates: AnnouncementGate[] = [];
function gate(catalog: AnnouncedStreams, changed: () => void = () => {}, ms?: number): AnnouncementGate {
  const g = new AnnouncementGate(catalog, changed, ms);
  gates.push(g);
  return g;
}

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  for (const g of gates.splice(0)) g.close();
  vi.useRealTimers();
});

describe('AnnouncementGate.offer: at most one take per process per interval, its latest winning', () => {
  it('takes at once, then at most every 500 ms by default; the latest waiting one is taken when its turn comes', () => {
    expect(TAKE_INTERVAL_MS).toBe(500);
    const { catalog, taken } = recordingCatalog();
    let changed = 0;
    const g = gate(catalog, () => changed++);
    const first = ann('i1', 'a');
    g.offer(first);
    expect(taken).toEqual([[first, T0]]);
    expect(changed).toBe(1);
    vi.advanceTimersByTime(100);
    g.offer(ann('i1', 'b'));
    const latest = ann('i1', 'c');
    g.offer(latest);
    vi.advanceTimersByTime(399);
    expect(taken).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(taken).toEqual([
      [first, T0],
      [latest, T0 + 500],
    ]);
    expect(changed).toBe(2);
    // Its turn again 500 ms after that take: at T0 + 1000 exactly, heard then, taken at once.
    vi.advanceTimersByTime(500);
    const next = ann('i1', 'd');
    g.offer(next);
    expect(taken.at(-1)).toEqual([next, T0 + 1000]);
    // Nothing left waiting: no more takes.
    vi.advanceTimersByTime(5000);
    expect(taken).toHaveLength(3);
  });

  it("offer's own time decides: heard exactly one interval after the last take, taken at once", () => {
    const { catalog, taken } = recordingCatalog();
    const g = gate(catalog, () => {}, 100);
    g.offer(ann('i1', 'a'), 50);
    g.offer(ann('i1', 'b'), 149);
    expect(taken).toHaveLength(1);
    g.offer(ann('i1', 'c'), 150);
    expect(taken.map(([a, at]) => [a.streams[0]?.name, at])).toEqual([
      ['a', 50],
      ['c', 150],
    ]);
  });

  it('changed is called only when the catalog says the streams may have changed', () => {
    const { catalog } = recordingCatalog(false);
    let changed = 0;
    const g = gate(catalog, () => changed++);
    g.offer(ann('i1', 'a'));
    vi.advanceTimersByTime(100);
    g.offer(ann('i1', 'b'));
    vi.advanceTimersByTime(1000);
    expect(changed).toBe(0);
  });

  it('each process has its own turn; one timer serves them all, each taken when its own turn comes', () => {
    const { catalog, taken } = recordingCatalog();
    const g = gate(catalog, () => {}, 100);
    g.offer(ann('A', '1'));
    vi.advanceTimersByTime(50);
    g.offer(ann('B', '1'));
    expect(taken.map(([a]) => a.instance)).toEqual(['A', 'B']);
    vi.advanceTimersByTime(10);
    g.offer(ann('A', '2'));
    g.offer(ann('B', '2'));
    // A's turn at T0 + 100, B's at T0 + 150.
    vi.advanceTimersByTime(39);
    expect(taken).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(taken.map(([a, at]) => `${a.instance}${a.streams[0]?.name}@${at - T0}`)).toEqual([
      'A1@0',
      'B1@50',
      'A2@100',
    ]);
    vi.advanceTimersByTime(49);
    expect(taken).toHaveLength(3);
    vi.advanceTimersByTime(1);
    expect(taken.map(([a, at]) => `${a.instance}${a.streams[0]?.name}@${at - T0}`).at(-1)).toBe('B2@150');
  });

  it('a process taken by the timer waits a whole interval again before its next take', () => {
    const { catalog, taken } = recordingCatalog();
    const g = gate(catalog, () => {}, 100);
    g.offer(ann('A', '1'));
    vi.advanceTimersByTime(10);
    g.offer(ann('A', '2'));
    vi.advanceTimersByTime(90);
    expect(taken).toHaveLength(2);
    // Taken at T0 + 100 by the timer: an offer 1 ms later waits until T0 + 200.
    vi.advanceTimersByTime(1);
    g.offer(ann('A', '3'));
    expect(taken).toHaveLength(2);
    vi.advanceTimersByTime(98);
    expect(taken).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(taken.map(([, at]) => at - T0)).toEqual([0, 100, 200]);
  });

  it(`holds at most ${MAX_INSTANCES} processes waiting; a process already waiting may always replace its own`, () => {
    const { catalog, taken } = recordingCatalog();
    const g = gate(catalog, () => {}, 100);
    const n = MAX_INSTANCES + 10;
    for (let i = 0; i < n; i++) g.offer(ann(`p${i}`, 'first'));
    expect(taken).toHaveLength(n);
    for (let i = 0; i < n; i++) g.offer(ann(`p${i}`, 'second'));
    g.offer(ann('p0', 'third'));
    vi.advanceTimersByTime(100);
    const second = taken.slice(n);
    expect(second).toHaveLength(MAX_INSTANCES);
    expect(second[0]?.[0].streams[0]?.name).toBe('third');
    expect(second.map(([a]) => a.instance)).toEqual(Array.from({ length: MAX_INSTANCES }, (_, i) => `p${i}`));
  });

  it('many processes taken long ago are forgotten, but one taken within the interval still waits its turn', () => {
    const { catalog, taken } = recordingCatalog();
    const g = gate(catalog, () => {}, 100);
    // More processes than the gate keeps turns for (2 x MAX_INSTANCES), long ago.
    for (let i = 0; i < 2 * MAX_INSTANCES; i++) g.offer(ann(`old${i}`, 'x'));
    vi.advanceTimersByTime(1000);
    // One more process: the old turns are pruned when it is taken, its own is not.
    g.offer(ann('recent', 'x'));
    vi.advanceTimersByTime(10);
    const before = taken.length;
    g.offer(ann('recent', 'y'));
    expect(taken).toHaveLength(before);
    vi.advanceTimersByTime(90);
    expect(taken.at(-1)?.[0].streams[0]?.name).toBe('y');
    // An old process is taken at once again.
    g.offer(ann('old0', 'z'));
    expect(taken.at(-1)?.[0].instance).toBe('old0');
  });

  it('close drops what waits and takes nothing more; idempotent', () => {
    const { catalog, taken } = recordingCatalog();
    const g = gate(catalog, () => {}, 100);
    g.offer(ann('A', '1'));
    g.offer(ann('A', '2'));
    g.close();
    expect(vi.getTimerCount()).toBe(0);
    g.close();
    vi.advanceTimersByTime(1000);
    g.offer(ann('B', '1'));
    expect(taken).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('AnnouncementGate.parse: the same payload is parsed once, while cached', () => {
  it('the same bytes give the same object; other bytes another; not an announcement is null (cached too)', () => {
    const g = gate(new AnnouncedStreams());
    const one = g.parse(payload('i1', 'cam'));
    expect(one).toEqual(ann('i1', 'cam'));
    expect(g.parse(payload('i1', 'cam'))).toBe(one);
    expect(g.parse(payload('i1', 'door'))).not.toBe(one);
    expect(g.parse(new TextEncoder().encode('nope'))).toBeNull();
    expect(g.parse(new TextEncoder().encode('nope'))).toBeNull();
  });

  it(`keeps ${2 * MAX_INSTANCES} payloads, evicting the least recently used`, () => {
    const g = gate(new AnnouncedStreams());
    const live = g.parse(payload('live', 'cam'));
    const stale = g.parse(payload('stale', 'cam'));
    // 2 x MAX_INSTANCES - 2 more: the cache is full, nothing evicted yet.
    for (let i = 0; i < 2 * MAX_INSTANCES - 2; i++) g.parse(payload(`flood${i}`, 'x'));
    expect(g.parse(payload('live', 'cam'))).toBe(live);
    // One more: the least recently used ('stale', as 'live' was just used) goes.
    g.parse(payload('flood-last', 'x'));
    expect(g.parse(payload('live', 'cam'))).toBe(live);
    const again = g.parse(payload('stale', 'cam'));
    expect(again).toEqual(stale);
    expect(again).not.toBe(stale);
  });

  it('a taken announcement heard again changes nothing in a real catalog', () => {
    const catalog = new AnnouncedStreams();
    let changed = 0;
    const g = gate(catalog, () => changed++, 100);
    g.offer(g.parse(payload('i1', 'cam'))!);
    vi.advanceTimersByTime(100);
    g.offer(g.parse(payload('i1', 'cam'))!);
    expect(changed).toBe(1);
    expect([...catalog.streams(Date.now()).keys()]).toEqual(['cam']);
  });
});
