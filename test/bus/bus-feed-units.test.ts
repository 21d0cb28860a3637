import { headers, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ORIGIN_SILENCE_MS, BusFeed } from '../../src/bus/bus-feed.js';
import { PART_HEADER, SEQ_HEADER, Subjects } from '../../src/bus/bus.js';
import { BusSigner, BusVerifier } from '../../src/bus/bus-sign.js';
import {
  PublisherSlot,
  type IngestFrame,
  type PublisherConnection,
} from '../../src/ingest/publish/publisher-slot.js';
import { encodeNativeFrame, MessageType } from '../../src/protocol/native.js';
import type { Stream } from '../../src/streams/stream.js';
import { ImageBound } from '../../src/util/jpeg.js';
import { makeJpeg } from '../helpers/native.js';

// An edge's stream fed from the bus, without a NATS server: messages are handed to the feed's
// subscriptions as nats.js would, the stream's publisher slot records what it gets, and the origin's
// silence is measured on fake timers.

const T0 = 1_700_000_000_000;
const SECRET = 'bus-secret-5f2a9c0e7d41b836';
const subjects = new Subjects();

type Callback = (err: Error | null, msg: Msg) => void;

/** A connection whose subscriptions are called by hand. */
function bus(): {
  nc: NatsConnection;
  deliver: (subject: string, data: Uint8Array, h?: MsgHdrs, err?: Error) => void;
  unsubscribed: string[];
} {
  const subs = new Map<string, Callback>();
  const unsubscribed: string[] = [];
  const nc = {
    subscribe: (subject: string, opts: { callback: Callback }) => {
      subs.set(subject, opts.callback);
      return { unsubscribe: () => void unsubscribed.push(subject) };
    },
  } as unknown as NatsConnection;
  const deliver = (subject: string, data: Uint8Array, h?: MsgHdrs, err?: Error): void => {
    const cb = subs.get(subject);
    if (!cb) throw new Error(`nothing subscribed to ${subject}`);
    cb(err ?? null, { subject, data, headers: h } as Msg);
  };
  return { nc, deliver, unsubscribed };
}

/** What the stream's publisher slot saw. */
interface Seen {
  slot: PublisherSlot;
  frames: IngestFrame[];
  connected: PublisherConnection[];
  lost: string[];
}

function slotOf(bound = new ImageBound()): Seen {
  const slot = new PublisherSlot(false, bound);
  const seen: Seen = { slot, frames: [], connected: [], lost: [] };
  slot.on('frame', (f) => seen.frames.push(f));
  slot.on('connected', (c) => seen.connected.push(c));
  slot.on('disconnected', (_c, why) => seen.lost.push(why));
  return seen;
}

let jpeg: Buffer;
let bigJpeg: Buffer;
beforeAll(async () => {
  jpeg = await makeJpeg(64, 48);
  bigJpeg = await makeJpeg(128, 96);
});

const feeds: BusFeed[] = [];
/** A feed of stream `cam` (or `name`) into `seen`'s slot. */
function feed(seen: Seen | null, b = bus(), verifier: BusVerifier | null = null, name = 'cam'): BusFeed {
  const stream = { name, ingest: seen?.slot } as unknown as Stream;
  const f = new BusFeed(stream, b.nc, subjects, verifier);
  feeds.push(f);
  return f;
}

const frameMessage = (
  j: Buffer,
  fields: Partial<{ seq: number; width: number; height: number; capturedAt: number }> = {},
): Buffer =>
  encodeNativeFrame(
    { seq: 1, width: 64, height: 48, capturedAt: T0 - 40, encodedAt: T0 - 30, jpeg: j, ...fields },
    T0 - 20,
  );
const status = (state: string): Uint8Array => new TextEncoder().encode(JSON.stringify({ state }));

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  for (const f of feeds.splice(0)) f.close();
  vi.useRealTimers();
});

describe('BusFeed: frames from the bus into the stream', () => {
  it("a FRAME message reaches the slot as a publisher's frame: the JPEG, its own size, the origin's capture time, received now", () => {
    const seen = slotOf();
    const b = bus();
    feed(seen, b);
    vi.setSystemTime(T0 + 5);
    b.deliver('framecast.s.cam.frame', frameMessage(jpeg));
    expect(seen.frames).toHaveLength(1);
    const f = seen.frames[0]!;
    expect(f.jpeg.equals(jpeg)).toBe(true);
    expect(f).toMatchObject({ width: 64, height: 48, capturedAt: T0 - 40, receivedAt: T0 + 5 });
    expect(seen.connected).toHaveLength(1);
    expect(seen.slot.current).toMatchObject({ address: 'bus', via: 'nats' });
    // The bus holds the slot: further frames, no new claim.
    b.deliver('framecast.s.cam.frame', frameMessage(jpeg, { seq: 2 }));
    b.deliver('framecast.s.cam.frame', frameMessage(jpeg, { seq: 3 }));
    expect(seen.frames).toHaveLength(3);
    expect(seen.connected).toHaveLength(1);
  });

  it("only its own stream's subjects: another stream's frame subject is not subscribed", () => {
    const b = bus();
    feed(slotOf(), b, null, 'cam.1');
    expect(() => b.deliver('framecast.s.cam.1.frame', frameMessage(jpeg))).not.toThrow();
    expect(() => b.deliver('framecast.s.cam.1.status', status('live'))).not.toThrow();
    expect(() => b.deliver('framecast.s.cam.frame', frameMessage(jpeg))).toThrow(/nothing subscribed/);
  });

  it('a frame in parts is taken once whole', () => {
    const seen = slotOf();
    const b = bus();
    feed(seen, b);
    const m = frameMessage(jpeg);
    const half = Math.ceil(m.length / 2);
    const part = (i: number, data: Buffer): void => {
      const h = headers();
      h.set(PART_HEADER, `${i}/2`);
      h.set(SEQ_HEADER, '1');
      b.deliver('framecast.s.cam.frame', data, h);
    };
    part(1, m.subarray(0, half));
    expect(seen.frames).toHaveLength(0);
    part(2, m.subarray(half));
    expect(seen.frames).toHaveLength(1);
    expect(seen.frames[0]?.jpeg.equals(jpeg)).toBe(true);
  });

  it.each([
    ['shorter than a FRAME prefix', () => frameMessage(jpeg).subarray(0, 39)],
    ['of no bytes at all', () => Buffer.alloc(0)],
    [
      'of another message type',
      () => Buffer.concat([Buffer.from([MessageType.Status]), frameMessage(jpeg).subarray(1)]),
    ],
    [
      'with a header of 24 bytes (under 32), its lengths consistent',
      () => {
        const m = frameMessage(jpeg);
        const short = Buffer.concat([m.subarray(0, 32), m.subarray(40)]);
        short.writeUInt16BE(24, 2);
        return short;
      },
    ],
    ['one byte longer than it says', () => Buffer.concat([frameMessage(jpeg), Buffer.from([0])])],
    ['one byte shorter than it says', () => frameMessage(jpeg).subarray(0, -1)],
    ['with a NaN capture time', () => frameMessage(jpeg, { capturedAt: Number.NaN })],
    ['with an infinite capture time', () => frameMessage(jpeg, { capturedAt: Number.POSITIVE_INFINITY })],
    ['with a -infinite capture time', () => frameMessage(jpeg, { capturedAt: Number.NEGATIVE_INFINITY })],
  ])('a message %s is no frame: nothing reaches the slot', (_what, make) => {
    const seen = slotOf();
    const b = bus();
    feed(seen, b);
    b.deliver('framecast.s.cam.frame', make());
    expect(seen.frames).toHaveLength(0);
    expect(seen.connected).toHaveLength(0);
    expect(seen.slot.images.refused).toBe(0);
  });

  it('a FRAME with a longer header (a later version) is taken: the JPEG starts after it', () => {
    const seen = slotOf();
    const b = bus();
    feed(seen, b);
    const m = frameMessage(jpeg);
    const longer = Buffer.concat([m.subarray(0, 40), Buffer.alloc(8, 0xee), m.subarray(40)]);
    longer.writeUInt16BE(40, 2);
    b.deliver('framecast.s.cam.frame', longer);
    expect(seen.frames[0]?.jpeg.equals(jpeg)).toBe(true);
  });

  it("a body that is not a whole JPEG (or none) is refused and counted in the stream's bound", () => {
    const seen = slotOf();
    const b = bus();
    feed(seen, b);
    b.deliver('framecast.s.cam.frame', frameMessage(jpeg.subarray(0, jpeg.length - 2)));
    expect(seen.slot.images.refused).toBe(1);
    b.deliver('framecast.s.cam.frame', frameMessage(Buffer.alloc(0)));
    expect(seen.slot.images.refused).toBe(2);
    expect(seen.frames).toHaveLength(0);
    expect(seen.connected).toHaveLength(0);
  });

  it("an image over the edge's own bound is refused, whether the JPEG or the header says so", () => {
    const seen = slotOf(new ImageBound(100 * 80));
    const b = bus();
    feed(seen, b);
    // The JPEG itself is 128x96 (header says 64x48).
    b.deliver('framecast.s.cam.frame', frameMessage(bigJpeg));
    expect(seen.slot.images.refused).toBe(1);
    // The JPEG is 64x48, the header claims 128x96.
    b.deliver('framecast.s.cam.frame', frameMessage(jpeg, { width: 128, height: 96 }));
    expect(seen.slot.images.refused).toBe(2);
    expect(seen.frames).toHaveLength(0);
    expect(seen.connected).toHaveLength(0);
    // Within the bound: taken, with the JPEG's own size.
    b.deliver('framecast.s.cam.frame', frameMessage(jpeg, { width: 1, height: 1 }));
    expect(seen.frames.map((f) => [f.width, f.height])).toEqual([[64, 48]]);
  });

  it('a stream without a publisher slot takes nothing (and does not fail)', () => {
    const b = bus();
    feed(null, b);
    expect(() => b.deliver('framecast.s.cam.frame', frameMessage(jpeg))).not.toThrow();
    expect(() => b.deliver('framecast.s.cam.status', status('no-signal'))).not.toThrow();
  });

  it('a slot held by another publisher (no takeover) keeps it: the bus frames are ignored', () => {
    const seen = slotOf();
    const other: PublisherConnection = { address: 'x', via: 'tcp', evict: () => {} };
    seen.slot.claim(other);
    const b = bus();
    feed(seen, b);
    b.deliver('framecast.s.cam.frame', frameMessage(jpeg));
    expect(seen.slot.current).toBe(other);
    expect(seen.frames).toHaveLength(0);
  });

  it('a subscription error is ignored', () => {
    const seen = slotOf();
    const b = bus();
    feed(seen, b);
    b.deliver('framecast.s.cam.frame', frameMessage(jpeg), undefined, new Error('slow consumer'));
    expect(seen.frames).toHaveLength(0);
    b.deliver('framecast.s.cam.frame', frameMessage(jpeg));
    b.deliver('framecast.s.cam.status', status('no-signal'), undefined, new Error('slow consumer'));
    expect(seen.lost).toEqual([]);
  });
});

describe("BusFeed: the origin's silence and status", () => {
  it('no frame for 1.5 s puts the stream in no-signal; not a millisecond sooner', () => {
    expect(ORIGIN_SILENCE_MS).toBe(1500);
    const seen = slotOf();
    const b = bus();
    feed(seen, b);
    b.deliver('framecast.s.cam.frame', frameMessage(jpeg));
    vi.advanceTimersByTime(1000);
    // Each frame restarts the count.
    b.deliver('framecast.s.cam.frame', frameMessage(jpeg));
    vi.advanceTimersByTime(1499);
    expect(seen.lost).toEqual([]);
    expect(seen.slot.current).not.toBeNull();
    vi.advanceTimersByTime(1);
    expect(seen.lost).toEqual(['no frames from the origin']);
    expect(seen.slot.current).toBeNull();
    // The next frame brings the picture back.
    b.deliver('framecast.s.cam.frame', frameMessage(jpeg));
    expect(seen.connected).toHaveLength(2);
  });

  it('a slow stream is given three frame intervals (their moving average) instead', () => {
    const seen = slotOf();
    const b = bus();
    feed(seen, b);
    // One frame a second: the average interval goes 200, 360, 488, 590.4 ms (0.8 old + 0.2 new).
    for (let i = 0; i < 5; i++) {
      if (i > 0) vi.advanceTimersByTime(1000);
      b.deliver('framecast.s.cam.frame', frameMessage(jpeg));
    }
    // 3 x 590.4 = 1771.2 ms (a timer's delay is whole milliseconds: 1771).
    vi.advanceTimersByTime(1770);
    expect(seen.lost).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(seen.lost).toEqual(['no frames from the origin']);
  });

  it('after a loss the interval is measured anew: the next silence is 1.5 s again', () => {
    const seen = slotOf();
    const b = bus();
    feed(seen, b);
    for (let i = 0; i < 6; i++) {
      if (i > 0) vi.advanceTimersByTime(1000);
      b.deliver('framecast.s.cam.frame', frameMessage(jpeg));
    }
    b.deliver('framecast.s.cam.status', status('no-signal'));
    expect(seen.lost).toHaveLength(1);
    // Frames come back 3 s later, then stop: 1.5 s, not three of the old intervals (over 2 s).
    vi.advanceTimersByTime(3000);
    b.deliver('framecast.s.cam.frame', frameMessage(jpeg));
    vi.advanceTimersByTime(1499);
    expect(seen.lost).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(seen.lost).toHaveLength(2);
    // And likewise after a loss by silence.
    b.deliver('framecast.s.cam.frame', frameMessage(jpeg));
    vi.advanceTimersByTime(1500);
    expect(seen.lost).toHaveLength(3);
  });

  it.each(['no-signal', 'ended'])("the origin's status %s puts the stream in no-signal at once", (state) => {
    const seen = slotOf();
    const b = bus();
    feed(seen, b);
    b.deliver('framecast.s.cam.frame', frameMessage(jpeg));
    b.deliver('framecast.s.cam.status', status(state));
    expect(seen.lost).toEqual(['the origin lost its signal or ended']);
    expect(seen.slot.current).toBeNull();
    // The silence timer is gone with it: nothing more 10 s later.
    vi.advanceTimersByTime(10_000);
    expect(seen.lost).toHaveLength(1);
  });

  it.each([
    ['live', JSON.stringify({ state: 'live' })],
    ['starting', JSON.stringify({ state: 'starting' })],
    ['no state', JSON.stringify({ reason: 'eof' })],
    ['not JSON', 'no-signal'],
    ['JSON null', 'null'],
  ])('a status message with %s changes nothing', (_what, text) => {
    const seen = slotOf();
    const b = bus();
    feed(seen, b);
    b.deliver('framecast.s.cam.frame', frameMessage(jpeg));
    b.deliver('framecast.s.cam.status', new TextEncoder().encode(text));
    expect(seen.lost).toEqual([]);
    expect(seen.slot.current).not.toBeNull();
  });

  it('close stops its three subscriptions (frames, status, metadata) and the silence timer', () => {
    const seen = slotOf();
    const b = bus();
    const f = feed(seen, b);
    b.deliver('framecast.s.cam.frame', frameMessage(jpeg));
    f.close();
    expect(b.unsubscribed.sort()).toEqual([
      'framecast.s.cam.frame',
      'framecast.s.cam.meta',
      'framecast.s.cam.status',
    ]);
    // (Under the slot's own 10 s idle limit for publishers.)
    vi.advanceTimersByTime(5000);
    expect(seen.lost).toEqual([]);
  });
});

describe('BusFeed with a bus secret', () => {
  it("takes the origin's signed frames and status; drops (and counts) unsigned and forged ones", () => {
    const seen = slotOf();
    const b = bus();
    const verifier = new BusVerifier(SECRET);
    feed(seen, b, verifier);
    const signer = new BusSigner(SECRET, 'origin-1');
    const m = frameMessage(jpeg);
    b.deliver('framecast.s.cam.frame', m);
    b.deliver('framecast.s.cam.status', status('no-signal'));
    expect(seen.frames).toHaveLength(0);
    expect(verifier.dropped.unsigned).toBe(2);
    // Signed for another subject: forged.
    b.deliver('framecast.s.cam.frame', m, signer.sign('framecast.s.other.frame', m));
    expect(verifier.dropped.forged).toBe(1);
    expect(seen.frames).toHaveLength(0);
    b.deliver('framecast.s.cam.frame', m, signer.sign('framecast.s.cam.frame', m));
    expect(seen.frames).toHaveLength(1);
    const s = status('no-signal');
    b.deliver('framecast.s.cam.status', s, signer.sign('framecast.s.cam.status', s));
    expect(seen.lost).toEqual(['the origin lost its signal or ended']);
  });
});
