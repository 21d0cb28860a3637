import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HookEvent } from '../../src/hooks/hook-spec.js';
import type { HookFields, Hooks } from '../../src/hooks/hooks.js';
import { watchStreamEvents } from '../../src/hooks/stream-events.js';
import type { Recordings } from '../../src/record/recordings.js';
import type { Stream } from '../../src/streams/stream.js';
import { StreamRegistry } from '../../src/streams/streams.js';

afterEach(() => {
  vi.useRealTimers();
});

type Fired = [event: HookEvent, stream: string, fields: HookFields];

/** A Hooks that keeps what it was asked to fire; `wanted`: the events some hook runs on. */
function fakeHooks(wanted: HookEvent[] = ['ready', 'notReady']): { hooks: Hooks; fired: Fired[] } {
  const fired: Fired[] = [];
  const hooks = {
    wants: (e: HookEvent) => wanted.includes(e),
    fire: (e: HookEvent, s: string, f: HookFields = {}) => void fired.push([e, s, f]),
  };
  return { hooks: hooks as unknown as Hooks, fired };
}

interface FakeHub extends EventEmitter {
  source: { kind?: string; status?: { state: string } } | null;
}

interface FakeStream {
  name: string;
  hub: FakeHub;
  ingest: EventEmitter | null;
  /** Rendition hubs: `addRendition` makes one (told to the watchers). */
  addRendition(): EventEmitter;
  watchers: Set<(h: EventEmitter) => void>;
  renditionHubs: EventEmitter[];
  renditions: { watchHubs(w: (h: EventEmitter) => void): () => void };
  close(): void;
}

function fakeStream(name: string, opts: { ingest?: boolean; renditionHubs?: number } = {}): FakeStream {
  const hub = Object.assign(new EventEmitter(), { source: null }) as FakeHub;
  const watchers = new Set<(h: EventEmitter) => void>();
  const hubs: EventEmitter[] = [];
  for (let i = 0; i < (opts.renditionHubs ?? 0); i++) hubs.push(new EventEmitter());
  const s: FakeStream = {
    name,
    hub,
    ingest: opts.ingest === false ? null : new EventEmitter(),
    watchers,
    renditionHubs: hubs,
    addRendition() {
      const h = new EventEmitter();
      hubs.push(h);
      for (const w of watchers) w(h);
      return h;
    },
    renditions: {
      watchHubs(w) {
        for (const h of hubs) w(h);
        watchers.add(w);
        return () => watchers.delete(w);
      },
    },
    close() {},
  };
  return s;
}

const asStream = (s: FakeStream): Stream => s as unknown as Stream;

function setup(
  wanted?: HookEvent[],
  streams: FakeStream[] = [fakeStream('cam')],
  withRecordings = true,
): {
  registry: StreamRegistry;
  fired: Fired[];
  recordings: (EventEmitter & { dirOf(s: Stream): string }) | null;
  stop: () => void;
} {
  const registry = new StreamRegistry();
  for (const s of streams) registry.add(asStream(s));
  const { hooks, fired } = fakeHooks(wanted);
  const recordings = withRecordings
    ? Object.assign(new EventEmitter(), { dirOf: (s: Stream) => `/rec/${s.name}` })
    : null;
  const stop = watchStreamEvents(registry, hooks, recordings as unknown as Recordings | null);
  return { registry, fired, recordings, stop };
}

const viewer = (id: number, protocol = 'native') => ({ id, protocol, address: `10.0.0.${id}:5000` });
const stats = (id: number, protocol = 'native', connectedAt = Date.now(), framesSent = 0) => ({
  id,
  protocol,
  address: `10.0.0.${id}:5000`,
  framesSent,
  connectedAt,
});

describe('watchStreamEvents: readiness', () => {
  it('ready on the first frame that is not NO SIGNAL, once; notReady with the reason, once', () => {
    const cam = fakeStream('cam');
    const { fired } = setup(undefined, [cam]);
    cam.hub.source = { kind: 'publisher', status: { state: 'no-signal' } };
    cam.hub.emit('frame');
    expect(fired).toEqual([]);
    // Not ready yet: nothing to end.
    cam.hub.emit('transmission-end', 'source ended');
    cam.hub.emit('source-status', { state: 'no-signal', lastError: 'x' });
    expect(fired).toEqual([]);
    cam.hub.source = { kind: 'publisher', status: { state: 'live' } };
    cam.hub.emit('frame');
    cam.hub.emit('frame');
    expect(fired).toEqual([['ready', 'cam', { source: 'publisher' }]]);
    cam.hub.emit('source-status', { state: 'live', lastError: 'ignored' });
    expect(fired).toHaveLength(1);
    cam.hub.emit('source-status', { state: 'no-signal', lastError: 'camera unplugged' });
    cam.hub.emit('source-status', { state: 'no-signal', lastError: 'again' });
    expect(fired).toEqual([
      ['ready', 'cam', { source: 'publisher' }],
      ['notReady', 'cam', { reason: 'camera unplugged' }],
    ]);
  });

  it('the reasons: no signal, no viewers, or as the transmission ended', () => {
    const cam = fakeStream('cam');
    const { fired } = setup(undefined, [cam]);
    const cycle = (end: () => void): void => {
      cam.hub.emit('frame');
      end();
    };
    cycle(() => cam.hub.emit('source-status', { state: 'no-signal', lastError: null }));
    cycle(() => cam.hub.emit('transmission-end', 'idle'));
    cycle(() => cam.hub.emit('transmission-end', 'removed'));
    expect(fired).toEqual([
      ['ready', 'cam', { source: 'unknown' }],
      ['notReady', 'cam', { reason: 'no signal' }],
      ['ready', 'cam', { source: 'unknown' }],
      ['notReady', 'cam', { reason: 'no viewers' }],
      ['ready', 'cam', { source: 'unknown' }],
      ['notReady', 'cam', { reason: 'removed' }],
    ]);
  });

  it('a source without a status or a kind is ready all the same', () => {
    const cam = fakeStream('cam');
    const { fired } = setup(undefined, [cam]);
    cam.hub.source = {};
    cam.hub.emit('frame');
    expect(fired).toEqual([['ready', 'cam', { source: 'unknown' }]]);
  });

  it('readiness is watched when a hook runs on ready or on notReady, not otherwise', () => {
    for (const [wanted, listens] of [
      [['ready'], true],
      [['notReady'], true],
      [['demandStart', 'viewerJoined'], false],
    ] as const) {
      const cam = fakeStream('cam');
      setup([...wanted], [cam]);
      expect(cam.hub.listenerCount('frame'), wanted.join()).toBe(listens ? 1 : 0);
      expect(cam.hub.listenerCount('source-status'), wanted.join()).toBe(listens ? 1 : 0);
      expect(cam.hub.listenerCount('transmission-end'), wanted.join()).toBe(listens ? 1 : 0);
      expect(cam.hub.listenerCount('admitted')).toBe(1);
      expect(cam.hub.listenerCount('left')).toBe(1);
    }
  });
});

describe('watchStreamEvents: viewers and demand', () => {
  it('viewerJoined and viewerLeft with their values; demand from the first viewer to the last', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    const cam = fakeStream('cam');
    const { fired } = setup(undefined, [cam]);
    cam.hub.emit('admitted', viewer(1));
    cam.hub.emit('admitted', viewer(2, 'mjpeg'));
    expect(fired).toEqual([
      ['demandStart', 'cam', {}],
      ['viewerJoined', 'cam', { viewerId: 1, viewerAddress: '10.0.0.1:5000', protocol: 'native' }],
      ['viewerJoined', 'cam', { viewerId: 2, viewerAddress: '10.0.0.2:5000', protocol: 'mjpeg' }],
    ]);
    fired.length = 0;
    cam.hub.emit('left', stats(1, 'native', 1_000_000 - 12_345, 99));
    expect(fired).toEqual([
      [
        'viewerLeft',
        'cam',
        { viewerId: 1, viewerAddress: '10.0.0.1:5000', protocol: 'native', framesSent: 99, seconds: 12.3 },
      ],
    ]);
    cam.hub.emit('left', stats(2, 'mjpeg', 1_000_000 - 12_350, 5));
    expect(fired.slice(1)).toEqual([
      [
        'viewerLeft',
        'cam',
        { viewerId: 2, viewerAddress: '10.0.0.2:5000', protocol: 'mjpeg', framesSent: 5, seconds: 12.4 },
      ],
      ['demandStop', 'cam', {}],
    ]);
  });

  it('a viewer whose connection time is later than now stayed 0 seconds', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    const cam = fakeStream('cam');
    const { fired } = setup(undefined, [cam]);
    cam.hub.emit('left', stats(3, 'ws', 1_005_000));
    expect(fired).toEqual([
      [
        'viewerLeft',
        'cam',
        { viewerId: 3, viewerAddress: '10.0.0.3:5000', protocol: 'ws', framesSent: 0, seconds: 0 },
      ],
    ]);
  });

  it('the recorder is no viewer and no demand; a rendition or the bus is demand but no viewer', () => {
    const cam = fakeStream('cam');
    const { fired } = setup(undefined, [cam]);
    cam.hub.emit('admitted', viewer(1, 'record'));
    cam.hub.emit('left', stats(1, 'record'));
    expect(fired).toEqual([]);
    cam.hub.emit('admitted', viewer(2, 'rendition'));
    expect(fired).toEqual([['demandStart', 'cam', {}]]);
    cam.hub.emit('admitted', viewer(3, 'bus'));
    cam.hub.emit('admitted', viewer(4, 'record'));
    cam.hub.emit('left', stats(4, 'record'));
    cam.hub.emit('left', stats(2, 'rendition'));
    expect(fired).toEqual([['demandStart', 'cam', {}]]);
    cam.hub.emit('left', stats(3, 'bus'));
    expect(fired).toEqual([
      ['demandStart', 'cam', {}],
      ['demandStop', 'cam', {}],
    ]);
  });

  it('a viewer leaving that never joined does not end demand, nor push it below zero', () => {
    const cam = fakeStream('cam');
    const { fired } = setup(['demandStart', 'demandStop'], [cam]);
    cam.hub.emit('left', stats(9, 'rendition'));
    cam.hub.emit('left', stats(8, 'rendition'));
    expect(fired).toEqual([]);
    cam.hub.emit('admitted', viewer(1, 'rendition'));
    expect(fired).toEqual([['demandStart', 'cam', {}]]);
    cam.hub.emit('left', stats(1, 'rendition'));
    expect(fired).toEqual([
      ['demandStart', 'cam', {}],
      ['demandStop', 'cam', {}],
    ]);
  });

  it("a rendition's viewers are viewers (their demand is the rendition's), those of hubs made later too", () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(2_000_000);
    const cam = fakeStream('cam', { renditionHubs: 1 });
    const { fired, stop } = setup(undefined, [cam]);
    const later = cam.addRendition();
    later.emit('admitted', viewer(5, 'mjpeg'));
    later.emit('admitted', viewer(6, 'rendition'));
    later.emit('left', stats(5, 'mjpeg', 2_000_000 - 1000, 10));
    expect(fired).toEqual([
      ['viewerJoined', 'cam', { viewerId: 5, viewerAddress: '10.0.0.5:5000', protocol: 'mjpeg' }],
      [
        'viewerLeft',
        'cam',
        { viewerId: 5, viewerAddress: '10.0.0.5:5000', protocol: 'mjpeg', framesSent: 10, seconds: 1 },
      ],
    ]);
    fired.length = 0;
    stop();
    // Once the watch ended, the hubs it listens on say nothing, and no new hub is watched.
    later.emit('admitted', viewer(7));
    later.emit('left', stats(7));
    expect(cam.watchers.size).toBe(0);
    cam.addRendition().emit('admitted', viewer(8));
    expect(fired).toEqual([]);
  });

  it('a rendition hub made before the watch began is watched', () => {
    const cam = fakeStream('cam', { renditionHubs: 1 });
    const { fired } = setup(undefined, [cam]);
    cam.renditionHubs[0]?.emit('admitted', viewer(1, 'ws'));
    expect(fired).toEqual([
      ['viewerJoined', 'cam', { viewerId: 1, viewerAddress: '10.0.0.1:5000', protocol: 'ws' }],
    ]);
  });
});

describe('watchStreamEvents: publishers and segments', () => {
  it('publisherConnected and publisherGone with the address, protocol and reason', () => {
    const cam = fakeStream('cam');
    const { fired } = setup(undefined, [cam]);
    cam.ingest?.emit('connected', { address: '1.2.3.4:99', via: 'tcp' });
    cam.ingest?.emit('disconnected', { address: '1.2.3.4:99', via: 'tcp' }, 'idle timeout');
    expect(fired).toEqual([
      ['publisherConnected', 'cam', { publisherAddress: '1.2.3.4:99', protocol: 'tcp' }],
      ['publisherGone', 'cam', { publisherAddress: '1.2.3.4:99', protocol: 'tcp', reason: 'idle timeout' }],
    ]);
  });

  it('a stream without a publisher slot is watched all the same', () => {
    const cam = fakeStream('cam', { ingest: false });
    const { fired, stop } = setup(undefined, [cam]);
    cam.hub.emit('admitted', viewer(1));
    expect(fired.map((f) => f[0])).toEqual(['demandStart', 'viewerJoined']);
    stop();
    expect(fired.map((f) => f[0])).toEqual(['demandStart', 'viewerJoined', 'demandStop']);
  });

  it('segmentComplete carries the file, its times, frames and bytes', () => {
    const cam = fakeStream('cam');
    const { fired, recordings } = setup(undefined, [cam]);
    const start = Date.parse('2026-05-06T07:08:09.010Z');
    recordings?.emit('segment', 'cam', {
      name: 'seg-1',
      start,
      end: start + 60_000,
      frames: 1500,
      bytes: 123456,
    });
    expect(fired).toEqual([
      [
        'segmentComplete',
        'cam',
        {
          segmentPath: join('/rec/cam', 'seg-1.mkv'),
          segmentStart: '2026-05-06T07:08:09.010Z',
          segmentEnd: '2026-05-06T07:09:09.010Z',
          segmentFrames: 1500,
          segmentBytes: 123456,
        },
      ],
    ]);
    // A stream that is not there (any more): nothing.
    recordings?.emit('segment', 'gone', { name: 's', start, end: start, frames: 1, bytes: 1 });
    recordings?.emit('segment', '', { name: 's', start, end: start, frames: 1, bytes: 1 });
    expect(fired).toHaveLength(1);
  });

  it('without recordings, there are no segments to watch', () => {
    const cam = fakeStream('cam');
    const { fired, stop } = setup(undefined, [cam], false);
    cam.hub.emit('frame');
    stop();
    expect(fired).toEqual([['ready', 'cam', { source: 'unknown' }]]);
  });
});

describe('watchStreamEvents: streams that come and go', () => {
  it('watches the streams there, those added later, and stops with those removed', () => {
    const a = fakeStream('a');
    const { registry, fired } = setup(undefined, [a]);
    const b = fakeStream('b');
    registry.add(asStream(b));
    a.hub.emit('frame');
    b.hub.emit('frame');
    expect(fired).toEqual([
      ['ready', 'a', { source: 'unknown' }],
      ['ready', 'b', { source: 'unknown' }],
    ]);
    fired.length = 0;
    b.hub.emit('admitted', viewer(1));
    fired.length = 0;
    // Removed with a viewer: its demand ends with it; then it says nothing.
    registry.remove('b');
    expect(fired).toEqual([['demandStop', 'b', {}]]);
    for (const ev of ['frame', 'source-status', 'transmission-end', 'admitted', 'left'])
      expect(b.hub.listenerCount(ev), ev).toBe(0);
    expect(b.ingest?.listenerCount('connected')).toBe(0);
    expect(b.ingest?.listenerCount('disconnected')).toBe(0);
    expect(b.watchers.size).toBe(0);
    b.hub.emit('admitted', viewer(2));
    expect(fired).toHaveLength(1);
    // Removed without viewers: no demandStop.
    registry.remove('a');
    expect(fired).toHaveLength(1);
  });

  it('a stream told twice is watched once', () => {
    const a = fakeStream('a');
    const { registry, fired } = setup(undefined, [a]);
    registry.emit('added', asStream(a));
    expect(a.hub.listenerCount('admitted')).toBe(1);
    a.hub.emit('admitted', viewer(1));
    expect(fired.map((f) => f[0])).toEqual(['demandStart', 'viewerJoined']);
  });

  it('a stream removed that it never watched is nothing to stop', () => {
    const a = fakeStream('a');
    const { registry, fired } = setup(undefined, [a]);
    const errors: unknown[] = [];
    (registry as EventEmitter).on('listener-error', (_e: string, err: unknown) => errors.push(err));
    registry.emit('removed', asStream(fakeStream('stranger')));
    expect(errors).toEqual([]);
    a.hub.emit('admitted', viewer(1));
    expect(fired.map((f) => f[0])).toEqual(['demandStart', 'viewerJoined']);
  });

  it('the stop function leaves the registry, the recordings and every stream', () => {
    const a = fakeStream('a');
    const { registry, recordings, fired, stop } = setup(undefined, [a]);
    a.hub.emit('admitted', viewer(1));
    fired.length = 0;
    stop();
    expect(fired).toEqual([['demandStop', 'a', {}]]);
    expect(registry.listenerCount('added')).toBe(0);
    expect(registry.listenerCount('removed')).toBe(0);
    expect(recordings?.listenerCount('segment')).toBe(0);
    for (const ev of ['frame', 'source-status', 'transmission-end', 'admitted', 'left'])
      expect(a.hub.listenerCount(ev), ev).toBe(0);
    expect(a.ingest?.listenerCount('connected')).toBe(0);
    expect(a.ingest?.listenerCount('disconnected')).toBe(0);
    const c = fakeStream('c');
    registry.add(asStream(c));
    c.hub.emit('frame');
    a.hub.emit('frame');
    recordings?.emit('segment', 'a', { name: 's', start: 0, end: 0, frames: 0, bytes: 0 });
    // Stopping twice: nothing more.
    stop();
    expect(fired).toEqual([['demandStop', 'a', {}]]);
  });
});
