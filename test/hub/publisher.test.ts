/**
 * The in-process Publisher: frames a program publishes reach the hub only while someone watches,
 * in call order, with the size read from the JPEG; ready() holds a lossless publisher back.
 */
import sharp from 'sharp';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Frame } from '../../src/hub/frame.js';
import { Hub } from '../../src/hub/hub.js';
import { Publisher, createPublisher } from '../../src/hub/publisher.js';
import { nowMs } from '../../src/util/clock.js';
import { makeJpeg } from '../helpers/native.js';
import { FakeSub } from './fakes.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A hub fed by `publisher`, as serve() builds it. */
function hubOf(publisher: Publisher, lossless = false): Hub {
  return new Hub({ createProducer: publisher.producer, maxClients: 10, maxWaiting: 0, lossless });
}

/** A transmission of `publisher` driven by hand: the frames it emits, and its producer. */
function transmission(publisher: Publisher) {
  const producer = publisher.producer();
  const frames: Frame[] = [];
  const ends: string[] = [];
  producer.on('frame', (f) => frames.push(f));
  producer.on('end', () => ends.push('end'));
  return { producer, frames, ends };
}

describe('Publisher', () => {
  it('checks its options: quality 1..100 (default 80), a default name', () => {
    const p = createPublisher();
    expect(p).toBeInstanceOf(Publisher);
    expect([p.name, p.quality]).toEqual(['published frames', 80]);
    expect(createPublisher({ name: 'robot', quality: 1 })).toMatchObject({ name: 'robot', quality: 1 });
    expect(createPublisher({ quality: 100 }).quality).toBe(100);
    expect(() => createPublisher({ quality: 0 })).toThrow(new RangeError('quality must be 1..100, got 0'));
    expect(() => createPublisher({ quality: 101 })).toThrow(RangeError);
    expect(() => createPublisher({ quality: 50.5 })).toThrow(RangeError);
  });

  it('drops frames while nobody watches; start and stop follow the first client and the last', async () => {
    const jpeg = await makeJpeg(32, 16);
    const publisher = createPublisher();
    const events: string[] = [];
    publisher.on('start', () => events.push('start'));
    publisher.on('stop', () => events.push('stop'));
    const hub = hubOf(publisher);
    expect(publisher.watching).toBe(false);
    expect(publisher.publish(jpeg)).toBe(false);
    const a = new FakeSub('a');
    hub.join(a);
    expect(events).toEqual(['start']);
    expect(publisher.watching).toBe(true);
    expect(publisher.publish(jpeg)).toBe(true);
    expect(a.offered.map((f) => f.jpeg)).toEqual([jpeg]);
    hub.leave(a);
    expect(events).toEqual(['start', 'stop']);
    expect(publisher.watching).toBe(false);
    expect(publisher.publish(jpeg)).toBe(false);
    expect(hub.totals.framesIn).toBe(1);
  });

  it('makes frames numbered from 0 per transmission, sized from the JPEG, captured now or when told', async () => {
    vi.useFakeTimers();
    const jpeg = await makeJpeg(64, 48);
    const publisher = createPublisher({ name: 'robot' });
    const t = transmission(publisher);
    expect(t.producer.describe()).toEqual({
      kind: 'publish',
      name: 'robot',
      width: null,
      height: null,
      inputFps: null,
    });
    t.producer.start();
    const now = nowMs();
    publisher.publish(jpeg);
    publisher.publish(jpeg, { capturedAt: 1234 });
    expect(t.frames.map((f) => [f.seq, f.width, f.height, f.capturedAt, f.encodedAt])).toEqual([
      [0, 64, 48, now, now],
      [1, 64, 48, 1234, now],
    ]);
    expect(t.frames[0]?.jpeg).toBe(jpeg);
    expect(t.producer.describe()).toMatchObject({ width: 64, height: 48 });
    t.producer.stop();
    const next = transmission(publisher);
    next.producer.start();
    publisher.publish(jpeg);
    expect(next.frames.map((f) => f.seq)).toEqual([0]);
  });

  it('refuses what is not a JPEG with a TypeError, watched or not', async () => {
    const publisher = createPublisher();
    expect(() => publisher.publish('jpeg' as unknown as Buffer)).toThrow(
      new TypeError('publish() takes a Buffer holding a JPEG'),
    );
    expect(() => publisher.publish(Buffer.from('not a jpeg'))).toThrow(
      new TypeError('publish() was given bytes that are not a JPEG image'),
    );
    // FF D8 ... FF D9 without a frame header: no size to read.
    expect(() => publisher.publish(Buffer.from([0xff, 0xd8, 0xff, 0xd9]))).toThrow(TypeError);
    transmission(publisher).producer.start();
    expect(() => publisher.publish(Buffer.from('not a jpeg'))).toThrow(TypeError);
  });

  it("a stale transmission's stop neither ends the current one nor says stop", async () => {
    const jpeg = await makeJpeg(16, 16);
    const publisher = createPublisher();
    const stops: number[] = [];
    publisher.on('stop', () => stops.push(1));
    const old = transmission(publisher);
    const cur = transmission(publisher);
    old.producer.start();
    cur.producer.start();
    old.producer.stop();
    expect(publisher.watching).toBe(true);
    expect(stops).toEqual([]);
    expect(publisher.publish(jpeg)).toBe(true);
    expect(cur.frames).toHaveLength(1);
    expect(old.frames).toHaveLength(0);
  });

  it('end() ends the transmission as end of file does: clients get eof, the publisher says stop', async () => {
    const jpeg = await makeJpeg(16, 16);
    const publisher = createPublisher();
    const stops: number[] = [];
    publisher.on('stop', () => stops.push(1));
    publisher.end(); // nothing to end
    expect(stops).toEqual([]);
    const hub = hubOf(publisher);
    const ends: string[] = [];
    hub.on('transmission-end', (r) => ends.push(r));
    const a = new FakeSub('a');
    hub.join(a);
    publisher.end();
    expect(a.ended).toBe('eof');
    expect(ends).toEqual(['eof']);
    expect(stops).toEqual([1]);
    expect(publisher.watching).toBe(false);
    expect(publisher.publish(jpeg)).toBe(false);
  });

  it('ready() resolves at once unless the hub paused the source; then when it resumes or stops', async () => {
    const jpeg = await makeJpeg(16, 16);
    const publisher = createPublisher();
    await publisher.ready(); // nobody watching: nothing to wait for
    const hub = hubOf(publisher, true);
    const a = new FakeSub('a');
    hub.join(a);
    await publisher.ready();
    a.backlogged = true;
    publisher.publish(jpeg);
    let ready = 0;
    void publisher.ready().then(() => ready++);
    void publisher.ready().then(() => ready++);
    await Promise.resolve();
    await Promise.resolve();
    expect(ready).toBe(0);
    a.backlogged = false;
    hub.drained();
    await vi.waitFor(() => expect(ready).toBe(2));
    // Resumed: the next ready() resolves at once again.
    let again = false;
    void publisher.ready().then(() => (again = true));
    await Promise.resolve();
    expect(again).toBe(true);

    // Paused again, then the last client leaves: the waiter goes on and finds nobody watching.
    a.backlogged = true;
    publisher.publish(jpeg);
    let woke = false;
    void publisher.ready().then(() => (woke = true));
    await Promise.resolve();
    expect(woke).toBe(false);
    hub.leave(a);
    await vi.waitFor(() => expect(woke).toBe(true));
    expect(publisher.watching).toBe(false);
  });

  it('publishRaw encodes at the publisher quality and publishes in call order, even when encodes overlap', async () => {
    const publisher = createPublisher({ quality: 90 });
    expect(await publisher.publishRaw(Buffer.alloc(8 * 8 * 3), { width: 8, height: 8 })).toBe(false);
    const t = transmission(publisher);
    t.producer.start();
    const big = Buffer.alloc(640 * 480 * 3, 120);
    const small = Buffer.alloc(4 * 2, 50);
    const results = await Promise.all([
      publisher.publishRaw(big, { width: 640, height: 480, capturedAt: 111 }),
      publisher.publishRaw(small, { width: 4, height: 2, channels: 1, capturedAt: 222 }),
    ]);
    expect(results).toEqual([true, true]);
    expect(t.frames.map((f) => [f.seq, f.width, f.height, f.capturedAt])).toEqual([
      [0, 640, 480, 111],
      [1, 4, 2, 222],
    ]);
    const same = await sharp(big, { raw: { width: 640, height: 480, channels: 3 } })
      .jpeg({ quality: 90, chromaSubsampling: '4:2:0', optimiseCoding: true, mozjpeg: false })
      .toBuffer();
    expect(t.frames[0]?.jpeg.equals(same)).toBe(true);
  });

  it('publishRaw drops a frame when nobody watched at the call, even if a viewer comes during its encode', async () => {
    const publisher = createPublisher();
    const dropped = publisher.publishRaw(Buffer.alloc(64 * 64 * 3, 7), { width: 64, height: 64 });
    const t = transmission(publisher);
    t.producer.start();
    expect(await dropped).toBe(false);
    expect(t.frames).toEqual([]);
  });

  it('publishRaw refuses pixels that do not fit their size at once, watched or not', () => {
    const publisher = createPublisher();
    expect(() => publisher.publishRaw(Buffer.alloc(5), { width: 2, height: 2 })).toThrow(
      new TypeError('publishRaw() needs 12 bytes (2x2x3)'),
    );
    transmission(publisher).producer.start();
    expect(() => publisher.publishRaw(Buffer.alloc(5), { width: 2, height: 2 })).toThrow(TypeError);
  });

  it('publishRaw stamps the frame with the time of the call, not the end of its encode', async () => {
    vi.useFakeTimers();
    const publisher = createPublisher();
    const t = transmission(publisher);
    t.producer.start();
    const called = nowMs();
    const done = publisher.publishRaw(Buffer.alloc(16 * 16 * 3, 9), { width: 16, height: 16 });
    vi.advanceTimersByTime(100);
    expect(await done).toBe(true);
    expect(t.frames).toHaveLength(1);
    expect(t.frames[0]?.capturedAt).toBe(called);
    expect((t.frames[0]?.encodedAt ?? 0) - called).toBeCloseTo(100, 3);
  });
});
