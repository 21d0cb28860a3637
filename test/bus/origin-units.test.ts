import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { announcedDigest } from '../../src/bus/announcement.js';
import { Subjects } from '../../src/bus/bus.js';
import { BusVerifier, SIG_HEADER } from '../../src/bus/bus-sign.js';
import { BusSubscriber } from '../../src/bus/bus-subscriber.js';
import { ASK_INTERVAL_MS, BusOrigin, DEMAND_TTL_MS, type OriginHost } from '../../src/bus/origin.js';
import { Frame } from '../../src/hub/frame.js';
import type { Subscriber } from '../../src/hub/subscriber.js';
import type { Stream } from '../../src/streams/stream.js';
import type { StreamRegistry } from '../../src/streams/streams.js';

// An origin on the bus without a NATS server or sources: a recording connection, streams whose hubs
// record who joins, and fake timers for the 2 s announcements, the 500 ms demand ticks and the asks.

const T0 = 1_700_000_000_000;
const SECRET = 'bus-secret-5f2a9c0e7d41b836';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

type Callback = (err: Error | null, msg: Msg) => void;

class FakeHub {
  source: { width: number; height: number } | null = null;
  accept = true;
  readonly joined: Subscriber[] = [];
  readonly left: Subscriber[] = [];
  join(s: Subscriber): boolean {
    if (!this.accept) return false;
    this.joined.push(s);
    return true;
  }
  leave(s: Subscriber): void {
    this.left.push(s);
  }
}

interface FakeStream {
  name: string;
  config: { readToken: string | null; legacyPort: number };
  hub: FakeHub;
}

const stream = (name: string, config: Partial<FakeStream['config']> = {}): FakeStream => ({
  name,
  config: { readToken: null, legacyPort: 0, ...config },
  hub: new FakeHub(),
});

class FakeRegistry extends EventEmitter {
  readonly streams: FakeStream[];
  constructor(streams: FakeStream[]) {
    super();
    this.streams = streams;
  }
  list(): FakeStream[] {
    return [...this.streams];
  }
  get(name: string): FakeStream | null {
    return this.streams.find((s) => s.name === name) ?? null;
  }
}

/** A connection: subscriptions called by hand, publishes recorded, status events pushed by hand. */
function connection(maxPayload: number | null = 1024 * 1024) {
  const subs = new Map<string, Callback>();
  const unsubscribed: string[] = [];
  const sent: { subject: string; data: Uint8Array; headers: Msg['headers'] }[] = [];
  const state = { closed: false, fail: null as string | null };
  const queue: { type: string }[] = [];
  let wake: (() => void) | null = null;
  const status = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (queue.length > 0) yield queue.shift()!;
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
  const nc = {
    info: maxPayload === null ? undefined : { max_payload: maxPayload },
    isClosed: () => state.closed,
    status: () => status,
    subscribe: (subject: string, o: { callback: Callback }) => {
      subs.set(subject, o.callback);
      return { unsubscribe: () => void unsubscribed.push(subject) };
    },
    publish: (subject: string, data: Uint8Array, o?: { headers?: Msg['headers'] }) => {
      if (state.fail) throw new Error(state.fail);
      sent.push({ subject, data, headers: o?.headers });
    },
  } as unknown as NatsConnection;
  const deliver = (subject: string, data: string, err: Error | null = null): void => {
    const key = subject.startsWith('framecast.demand.') ? 'framecast.demand.>' : subject;
    const cb = subs.get(key);
    if (!cb) throw new Error(`nothing subscribed to ${key}`);
    cb(err, { subject, data: new TextEncoder().encode(data) } as Msg);
  };
  /** Pushes a connection status event and lets the origin's status loop see it. */
  const event = async (type: string): Promise<void> => {
    queue.push({ type });
    wake?.();
    await vi.advanceTimersByTimeAsync(0);
  };
  return { nc, subs, unsubscribed, sent, state, deliver, event };
}

interface Rig {
  origin: BusOrigin;
  registry: FakeRegistry;
  conn: ReturnType<typeof connection>;
  ports: Map<string, number>;
  /** The announcements published so far, parsed. */
  announced: () => { origin: string; instance: string; streams: Record<string, unknown>[] }[];
}

const origins: BusOrigin[] = [];
function rig(
  streams: FakeStream[],
  opts: { maxPayload?: number | null; secret?: string; name?: string } = {},
): Rig {
  const registry = new FakeRegistry(streams);
  const ports = new Map<string, number>();
  const host: OriginHost = {
    streams: registry as unknown as StreamRegistry,
    legacyAddress: (name) => {
      const port = ports.get(name);
      return port === undefined ? null : ({ address: '127.0.0.1', family: 'IPv4', port } as AddressInfo);
    },
  };
  const conn = connection(opts.maxPayload);
  const origin = new BusOrigin(host, conn.nc, new Subjects(), opts.name ?? 'origin-1', opts.secret ?? null);
  origins.push(origin);
  const announced = (): ReturnType<Rig['announced']> =>
    conn.sent
      .filter((m) => m.subject === 'framecast.streams')
      .map((m) => JSON.parse(new TextDecoder().decode(m.data)) as ReturnType<Rig['announced']>[number]);
  return { origin, registry, conn, ports, announced };
}

const demand = (r: Rig, name: string, viewers: unknown = 1): void =>
  r.conn.deliver(`framecast.demand.${name}`, JSON.stringify({ viewers }));

let warnings: { message: string; code: string | undefined }[] = [];
beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  warnings = [];
  vi.spyOn(process, 'emitWarning').mockImplementation(((message: string, opts?: { code?: string }) => {
    warnings.push({ message, code: opts?.code });
  }) as typeof process.emitWarning);
});
afterEach(() => {
  for (const o of origins.splice(0)) o.close();
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('BusOrigin: what it announces', () => {
  it('announces at once: its name, its process, each stream with its size, digest and seed port, exactly', () => {
    const cam = stream('cam');
    cam.hub.source = { width: 640, height: 360 };
    const r = rig([cam, stream('door', { readToken: 'watch-me' }), stream('seed', { legacyPort: 9100 })]);
    expect(r.origin.instance).toMatch(UUID);
    expect(r.conn.sent).toHaveLength(1);
    const digest = announcedDigest('door', 'watch-me');
    expect(new TextDecoder().decode(r.conn.sent[0]!.data)).toBe(
      JSON.stringify({
        origin: 'origin-1',
        instance: r.origin.instance,
        streams: [
          { name: 'cam', width: 640, height: 360 },
          { name: 'door', width: null, height: null, readTokenDigest: digest },
          { name: 'seed', width: null, height: null, legacyPort: 9100 },
        ],
      }),
    );
    expect(r.conn.sent[0]?.headers).toBeUndefined();
    expect(JSON.stringify(r.announced())).not.toContain('watch-me');
  });

  it('the seed port it listens on wins over the one configured (legacyPort 0 announces the port picked)', () => {
    const r = rig([stream('a', { legacyPort: 0 }), stream('b', { legacyPort: 9200 }), stream('c')]);
    r.ports.set('a', 40001);
    r.ports.set('b', 40002);
    r.origin.announce();
    expect(r.announced()[1]?.streams.map((s) => s['legacyPort'] ?? null)).toEqual([40001, 40002, null]);
  });

  it('again every 2 s', () => {
    const r = rig([stream('cam')]);
    vi.advanceTimersByTime(1999);
    expect(r.announced()).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(r.announced()).toHaveLength(2);
    vi.advanceTimersByTime(2000);
    expect(r.announced()).toHaveLength(3);
  });

  it("leaves out names that are not NATS subject tokens ('..', a final '.'), with one warning", () => {
    const r = rig([stream('cam.1'), stream('odd..name'), stream('odd.'), stream('ok_-9.cam12')]);
    r.origin.announce();
    expect(r.announced().map((a) => a.streams.map((s) => s['name']))).toEqual([
      ['cam.1', 'ok_-9.cam12'],
      ['cam.1', 'ok_-9.cam12'],
    ]);
    expect(warnings).toEqual([
      {
        message:
          "bus: not announcing 2 stream(s) whose names hold '..' or end with '.' (not valid in a NATS subject, so no edge could get their frames), e.g. 'odd..name'",
        code: 'FRAMECAST_BUS_ANNOUNCE',
      },
    ]);
  });

  it("a list over the server's max_payload is cut to the streams that fit, with one warning", () => {
    const names = Array.from({ length: 10 }, (_, i) => `camera-${i}-${'x'.repeat(40)}`);
    const one = JSON.stringify({ name: names[0], width: null, height: null }).length;
    // Exactly the size of the announcement of the first four (a UUID is 36 characters).
    const empty = JSON.stringify({ origin: 'origin-1', instance: 'x'.repeat(36), streams: [] }).length;
    const max = empty + 4 * one + 3;
    const r = rig(
      names.map((n) => stream(n)),
      { maxPayload: max },
    );
    r.origin.announce();
    for (const m of r.conn.sent) expect(m.data.length).toBeLessThanOrEqual(max);
    expect(r.announced().map((a) => a.streams.length)).toEqual([4, 4]);
    expect(r.announced()[0]?.streams.map((s) => s['name'])).toEqual(names.slice(0, 4));
    expect(warnings).toEqual([
      {
        message: `bus: the list of 10 streams is over the NATS server's max_payload of ${max} bytes; announcing the first 4 (edges do not serve the other 6); raise max_payload or use fewer streams`,
        code: 'FRAMECAST_BUS_ANNOUNCE',
      },
    ]);
    // One byte less: three fit.
    const smaller = rig(
      names.map((n) => stream(n)),
      { maxPayload: max - 1 },
    );
    expect(smaller.announced()[0]?.streams).toHaveLength(3);
    // A list that fits is sent whole.
    const fits = rig(
      names.slice(0, 4).map((n) => stream(n)),
      { maxPayload: max },
    );
    expect(fits.announced()[0]?.streams).toHaveLength(4);
    // Only the two origins that cut their list warned.
    expect(warnings).toHaveLength(2);
  });

  it('before the server says its max_payload, 1 MiB is assumed', () => {
    const names = Array.from({ length: 100 }, (_, i) => `camera-${i}`);
    const r = rig(
      names.map((n) => stream(n)),
      { maxPayload: null },
    );
    expect(r.announced()[0]?.streams).toHaveLength(100);
    expect(warnings).toEqual([]);
  });

  it('a publish that throws (closing, max_payload lowered) is one warning, never a throw from its timer', () => {
    const r = rig([stream('cam')]);
    r.conn.state.fail = 'maximum payload exceeded';
    expect(() => vi.advanceTimersByTime(4000)).not.toThrow();
    expect(() => r.origin.announce()).not.toThrow();
    expect(warnings).toEqual([
      {
        message: 'bus: could not announce the streams: maximum payload exceeded',
        code: 'FRAMECAST_BUS_ANNOUNCE',
      },
    ]);
  });

  it('each kind of problem warns once on its own: a bad name, a list too large, a publish that throws', () => {
    const r = rig([stream('odd..name'), ...Array.from({ length: 20 }, (_, i) => stream(`camera-${i}`))], {
      maxPayload: 300,
    });
    r.conn.state.fail = 'closed';
    r.origin.announce();
    r.origin.announce();
    expect(warnings.map((w) => w.message.slice(0, 30))).toEqual([
      'bus: not announcing 1 stream(s',
      'bus: the list of 20 streams is',
      'bus: could not announce the st',
    ]);
  });

  it('nothing is announced on a closed connection', () => {
    const r = rig([stream('cam')]);
    r.conn.state.closed = true;
    r.origin.announce();
    vi.advanceTimersByTime(2000);
    expect(r.announced()).toHaveLength(1);
  });

  it('while the connection is down nothing is announced; once back, at once', async () => {
    const r = rig([stream('cam')]);
    await r.conn.event('disconnect');
    r.origin.announce();
    await vi.advanceTimersByTimeAsync(4000);
    expect(r.announced()).toHaveLength(1);
    await r.conn.event('reconnect');
    expect(r.announced()).toHaveLength(2);
    // Other events change nothing.
    await r.conn.event('pingTimer');
    r.origin.announce();
    expect(r.announced()).toHaveLength(3);
  });

  it('a stream added or removed is announced at once, once for a whole change (removed then added)', () => {
    const cam = stream('cam');
    const r = rig([cam]);
    r.registry.streams.push(stream('door'));
    r.registry.emit('added', r.registry.streams[1]);
    expect(r.announced()).toHaveLength(1);
    vi.advanceTimersByTime(0);
    expect(r.announced().map((a) => a.streams.length)).toEqual([1, 2]);
    r.registry.emit('removed', cam);
    r.registry.emit('added', cam);
    vi.advanceTimersByTime(0);
    expect(r.announced()).toHaveLength(3);
  });

  it('with a bus secret, announcements are signed by its process and verify on an edge', () => {
    const r = rig([stream('cam')], { secret: SECRET });
    const m = r.conn.sent[0]!;
    expect(m.headers?.get(SIG_HEADER)).toMatch(/^[0-9a-f]{64}$/);
    expect(new BusVerifier(SECRET).verify('framecast.streams', m)).toBe(r.origin.instance);
  });
});

describe('BusOrigin: asks', () => {
  it(`an ask is answered at once; a flood of asks gets one more announcement ${ASK_INTERVAL_MS} ms after the last`, () => {
    expect(ASK_INTERVAL_MS).toBe(250);
    const r = rig([stream('cam')]);
    vi.advanceTimersByTime(100);
    r.conn.deliver('framecast.streams.ask', '');
    vi.advanceTimersByTime(0);
    expect(r.announced()).toHaveLength(2);
    for (let i = 0; i < 50; i++) r.conn.deliver('framecast.streams.ask', '');
    vi.advanceTimersByTime(249);
    expect(r.announced()).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(r.announced()).toHaveLength(3);
    // Quiet for longer than the interval: the next ask is answered at once again.
    vi.advanceTimersByTime(500);
    r.conn.deliver('framecast.streams.ask', '');
    vi.advanceTimersByTime(0);
    expect(r.announced()).toHaveLength(4);
  });

  it('an ask after close announces nothing, even one already waiting', () => {
    const r = rig([stream('cam')]);
    r.conn.deliver('framecast.streams.ask', '');
    vi.advanceTimersByTime(0);
    r.conn.deliver('framecast.streams.ask', '');
    r.origin.close();
    vi.advanceTimersByTime(1000);
    r.conn.deliver('framecast.streams.ask', '');
    vi.advanceTimersByTime(1000);
    expect(r.announced()).toHaveLength(2);
  });
});

describe("BusOrigin: edges' demand", () => {
  it("a demand with viewers joins the stream's hub as a bus viewer, once", () => {
    const cam = stream('cam.1');
    const other = stream('cam');
    const r = rig([cam, other]);
    demand(r, 'cam.1', 2);
    demand(r, 'cam.1', 1);
    expect(cam.hub.joined).toHaveLength(1);
    expect(cam.hub.joined[0]).toBeInstanceOf(BusSubscriber);
    expect(cam.hub.joined[0]?.address).toBe('nats:framecast.s.cam.1.frame');
    expect(other.hub.joined).toHaveLength(0);
  });

  it.each([
    ['no viewers', 'framecast.demand.cam', JSON.stringify({ viewers: 0 })],
    ['negative viewers', 'framecast.demand.cam', JSON.stringify({ viewers: -1 })],
    ['viewers not a number', 'framecast.demand.cam', JSON.stringify({ viewers: 'many' })],
    ['not JSON', 'framecast.demand.cam', '3'.repeat(3) + '{'],
    ['JSON null', 'framecast.demand.cam', 'null'],
    ['an unknown stream', 'framecast.demand.door', JSON.stringify({ viewers: 1 })],
    ['no stream name', 'framecast.demand.', JSON.stringify({ viewers: 1 })],
  ])('a demand with %s starts nothing', (_what, subject, data) => {
    const cam = stream('cam');
    const r = rig([cam]);
    r.conn.deliver(subject, data);
    vi.advanceTimersByTime(500);
    expect(cam.hub.joined).toHaveLength(0);
  });

  it('a viewer count given as a numeric string counts', () => {
    const cam = stream('cam');
    const r = rig([cam]);
    demand(r, 'cam', '2');
    expect(cam.hub.joined).toHaveLength(1);
  });

  it('a subscription error is ignored', () => {
    const cam = stream('cam');
    const r = rig([cam]);
    r.conn.deliver('framecast.demand.cam', JSON.stringify({ viewers: 1 }), new Error('slow consumer'));
    expect(cam.hub.joined).toHaveLength(0);
  });

  it(`a demand holds for ${DEMAND_TTL_MS} ms after its last message; then the bus leaves the hub`, () => {
    expect(DEMAND_TTL_MS).toBe(3000);
    const cam = stream('cam');
    const r = rig([cam]);
    demand(r, 'cam');
    vi.advanceTimersByTime(2000);
    demand(r, 'cam');
    // Expires at T0 + 5000: still there on the tick at T0 + 4500, gone on the one at T0 + 5000.
    vi.advanceTimersByTime(2999);
    expect(cam.hub.left).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(cam.hub.left).toEqual(cam.hub.joined);
    expect(cam.hub.joined).toHaveLength(1);
    // A new demand joins again.
    demand(r, 'cam');
    expect(cam.hub.joined).toHaveLength(2);
    expect(cam.hub.joined[1]).not.toBe(cam.hub.joined[0]);
  });

  it('a hub that refuses the bus is asked again on the next demand', () => {
    const cam = stream('cam');
    cam.hub.accept = false;
    const r = rig([cam]);
    demand(r, 'cam');
    cam.hub.accept = true;
    demand(r, 'cam');
    expect(cam.hub.joined).toHaveLength(1);
  });

  it('the end of a transmission: the bus leaves and joins again on the next tick while edges want it', () => {
    const cam = stream('cam');
    const r = rig([cam]);
    demand(r, 'cam');
    const first = cam.hub.joined[0]!;
    first.end('eof');
    expect(cam.hub.left).toEqual([first]);
    const status = r.conn.sent.filter((m) => m.subject === 'framecast.s.cam.status');
    expect(new TextDecoder().decode(status[0]!.data)).toBe('{"state":"ended","reason":"eof"}');
    vi.advanceTimersByTime(500);
    expect(cam.hub.joined).toHaveLength(2);
  });

  it('a source error: joined again no sooner than 1 s later', () => {
    const cam = stream('cam');
    const r = rig([cam]);
    vi.advanceTimersByTime(250);
    demand(r, 'cam');
    cam.hub.joined[0]!.end('source-error');
    // Ticks at T0 + 500 and T0 + 1000 are too early; demand at T0 + 1249 too.
    vi.advanceTimersByTime(999);
    demand(r, 'cam');
    expect(cam.hub.joined).toHaveLength(1);
    vi.advanceTimersByTime(1);
    demand(r, 'cam');
    expect(cam.hub.joined).toHaveLength(2);
    // A later end that is not an error lets it join at once.
    cam.hub.joined[1]!.end('stopped');
    demand(r, 'cam');
    expect(cam.hub.joined).toHaveLength(3);
  });

  it("a bus viewer that left and ends late does not take the current one's place", () => {
    const cam = stream('cam');
    const r = rig([cam]);
    demand(r, 'cam');
    const first = cam.hub.joined[0]!;
    // No demand for 3 s: it leaves the hub; a new demand joins a second one.
    vi.advanceTimersByTime(3000);
    expect(cam.hub.left).toEqual([first]);
    demand(r, 'cam');
    const second = cam.hub.joined[1]!;
    // The hub ends the first one late: the second stays the stream's bus viewer.
    first.end('eof');
    demand(r, 'cam');
    vi.advanceTimersByTime(500);
    expect(cam.hub.joined).toEqual([first, second]);
  });

  it('a stream removed: its bus viewer and retry time are forgotten; the stream added again is joined anew', () => {
    const cam = stream('cam');
    const r = rig([cam]);
    demand(r, 'cam');
    cam.hub.joined[0]!.end('source-error');
    r.registry.emit('removed', cam);
    demand(r, 'cam');
    expect(cam.hub.joined).toHaveLength(2);
  });

  it('a stream removed while watched: the same stream object demanded again joins again', () => {
    const cam = stream('cam');
    const r = rig([cam]);
    demand(r, 'cam');
    r.registry.emit('removed', cam);
    demand(r, 'cam');
    expect(cam.hub.joined).toHaveLength(2);
  });

  it('while the connection is down the bus viewer skips frames instead of queueing them', async () => {
    const cam = stream('cam');
    const r = rig([cam]);
    demand(r, 'cam');
    await r.conn.event('disconnect');
    const frame = new Frame({
      seq: 1,
      width: 1,
      height: 1,
      capturedAt: T0,
      encodedAt: T0,
      jpeg: Buffer.alloc(10),
    });
    cam.hub.joined[0]!.offer(frame);
    expect(r.conn.sent.filter((m) => m.subject === 'framecast.s.cam.frame')).toHaveLength(0);
    await r.conn.event('reconnect');
    cam.hub.joined[0]!.offer(frame);
    expect(r.conn.sent.filter((m) => m.subject === 'framecast.s.cam.frame')).toHaveLength(1);
  });
});

describe('BusOrigin.close', () => {
  it('leaves every hub, stops announcing and unsubscribes; idempotent', () => {
    const cam = stream('cam');
    const door = stream('door');
    const r = rig([cam, door]);
    demand(r, 'cam');
    demand(r, 'door');
    r.registry.emit('added', door);
    r.origin.close();
    r.origin.close();
    expect(cam.hub.left).toEqual(cam.hub.joined);
    expect(door.hub.left).toEqual(door.hub.joined);
    expect(r.conn.unsubscribed.sort()).toEqual([
      'framecast.demand.>',
      'framecast.rec.>',
      'framecast.streams.ask',
    ]);
    vi.advanceTimersByTime(10_000);
    expect(r.announced()).toHaveLength(1);
    // Demand and stream changes after close start nothing.
    demand(r, 'cam');
    r.registry.emit('added', cam);
    vi.advanceTimersByTime(1000);
    expect(cam.hub.joined).toHaveLength(1);
    expect(r.announced()).toHaveLength(1);
    expect(r.registry.listenerCount('added') + r.registry.listenerCount('removed')).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the connection back after close announces nothing', async () => {
    const r = rig([stream('cam')]);
    await r.conn.event('disconnect');
    r.origin.close();
    await r.conn.event('reconnect');
    await vi.advanceTimersByTimeAsync(1000);
    expect(r.announced()).toHaveLength(1);
  });

  it('on a closed connection it does not unsubscribe (nats.js has done it)', () => {
    const r = rig([stream('cam')]);
    r.conn.state.closed = true;
    r.origin.close();
    expect(r.conn.unsubscribed).toEqual([]);
  });
});

// Keep the fake types honest: a FakeStream stands where the origin expects a Stream.
void ((s: FakeStream) => s as unknown as Stream);
