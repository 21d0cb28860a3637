import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FramecastError } from '../../src/errors.js';
import { Hub } from '../../src/hub/hub.js';
import { StreamSubscriber } from '../../src/transports/stream-subscriber.js';
import { FakeProducer, FakeSub, setup } from './fakes.js';

describe('Hub', () => {
  it('starts the producer with the first client and offers each frame once to every client', () => {
    const { hub, producers, current } = setup();
    const starts: string[] = [];
    hub.on('transmission-start', (s) => starts.push(s.name));
    expect(hub.transmitting).toBe(false);
    const a = new FakeSub('a');
    const b = new FakeSub('b');
    expect(hub.join(a)).toBe(true);
    expect(hub.join(b)).toBe(true);
    expect(producers).toHaveLength(1);
    expect(current().started).toBe(1);
    expect(starts).toEqual(['fake#0']);
    const f1 = current().frame();
    const f2 = current().frame();
    expect(a.offered).toEqual([f1, f2]);
    // Encode once: both clients get the very same Frame object.
    expect(b.offered[0]).toBe(f1);
    expect(hub.latest).toBe(f2);
    expect(hub.totals).toMatchObject({ framesIn: 2, bytesIn: 20, transmissions: 1, clientsServed: 2 });
  });

  it('offers a late joiner the newest frame at once, without restarting the source', () => {
    const { hub, producers, current } = setup();
    hub.join(new FakeSub('a'));
    current().frame();
    const f = current().frame();
    const late = new FakeSub('late');
    hub.join(late);
    expect(late.offered).toEqual([f]);
    expect(producers).toHaveLength(1);
  });

  it('with max clients, queues the rest in a waiting line and tells them their place', () => {
    const { hub } = setup({ maxClients: 2 });
    const waitingEvents: number[] = [];
    hub.on('waiting', (_s, pos) => waitingEvents.push(pos));
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => new FakeSub(n)) as [
      FakeSub,
      FakeSub,
      FakeSub,
      FakeSub,
    ];
    for (const s of [a, b, c, d]) expect(hub.join(s)).toBe(true);
    expect(hub.clients).toEqual([a, b]);
    expect(hub.waitingCount).toBe(2);
    expect(c.positions).toEqual([1]);
    expect(d.positions).toEqual([2]);
    expect(waitingEvents).toEqual([1, 2]);
  });

  it('admits waiting clients in turn when a place frees, and they get the live frame', () => {
    const { hub, current, producers } = setup({ maxClients: 2 });
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => new FakeSub(n)) as [
      FakeSub,
      FakeSub,
      FakeSub,
      FakeSub,
    ];
    [a, b, c, d].forEach((s) => hub.join(s));
    const f = current().frame();
    expect(c.offered).toEqual([]);
    hub.leave(a);
    expect(hub.clients).toEqual([b, c]);
    expect(c.offered).toEqual([f]);
    expect(d.positions).toEqual([2, 1]);
    expect(d.offered).toEqual([]);
    hub.leave(b);
    expect(hub.clients).toEqual([c, d]);
    expect(hub.waitingCount).toBe(0);
    expect(producers).toHaveLength(1);
  });

  it('updates the places of those behind a waiting client that leaves', () => {
    const { hub } = setup({ maxClients: 1 });
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => new FakeSub(n)) as [
      FakeSub,
      FakeSub,
      FakeSub,
      FakeSub,
    ];
    [a, b, c, d].forEach((s) => hub.join(s));
    hub.leave(b);
    expect(b.ended).toBeNull();
    expect(c.positions).toEqual([2, 1]);
    expect(d.positions).toEqual([3, 2]);
    hub.leave(b); // idempotent
    expect(hub.waitingCount).toBe(2);
  });

  it('refuses a client when the waiting line is full', () => {
    const { hub } = setup({ maxClients: 1, maxWaiting: 1 });
    expect(hub.join(new FakeSub('a'))).toBe(true);
    expect(hub.join(new FakeSub('b'))).toBe(true);
    expect(hub.join(new FakeSub('c'))).toBe(false);
  });

  it('at end of file closes every client, then serves the waiting one a fresh transmission', () => {
    const { hub, producers, ends, current } = setup({ maxClients: 1 });
    const a = new FakeSub('a');
    const b = new FakeSub('b');
    hub.join(a);
    hub.join(b);
    current().frame();
    current().emit('end');
    expect(a.ended).toBe('eof');
    expect(ends).toEqual([{ reason: 'eof', err: null }]);
    // The waiting client starts a new transmission: a file plays again from its start.
    expect(producers).toHaveLength(2);
    expect(producers[0]?.stopped).toBe(1);
    expect(producers[1]?.started).toBe(1);
    expect(hub.clients).toEqual([b]);
    expect(b.offered).toEqual([]);
    const first = current().frame();
    expect(first.seq).toBe(0);
    expect(b.offered).toEqual([first]);
    expect(hub.totals.transmissions).toBe(2);
  });

  it('ends every client on EOF, even with no one waiting, and is idle afterwards', () => {
    const { hub, ends, current } = setup();
    const subs = [1, 2, 3].map((i) => new FakeSub(`s${i}`));
    subs.forEach((s) => hub.join(s));
    current().emit('end');
    expect(subs.map((s) => s.ended)).toEqual(['eof', 'eof', 'eof']);
    expect(hub.transmitting).toBe(false);
    expect(hub.clients).toEqual([]);
    expect(ends.map((e) => e.reason)).toEqual(['eof']);
    // Their sockets then close: leave() after the fact changes nothing.
    subs.forEach((s) => hub.leave(s));
    expect(ends).toHaveLength(1);
  });

  it("stops the source ('idle') when the last client leaves; the next client starts afresh", () => {
    const { hub, producers, ends } = setup();
    const a = new FakeSub('a');
    const b = new FakeSub('b');
    hub.join(a);
    hub.join(b);
    hub.leave(a);
    expect(producers[0]?.stopped).toBe(0);
    hub.leave(b);
    expect(producers[0]?.stopped).toBe(1);
    expect(ends).toEqual([{ reason: 'idle', err: null }]);
    expect(hub.transmitting).toBe(false);
    expect(a.ended).toBeNull();
    hub.join(new FakeSub('c'));
    expect(producers).toHaveLength(2);
  });

  it('ignores frames and events of a producer it already stopped', () => {
    const { hub, producers, ends } = setup();
    const a = new FakeSub('a');
    hub.join(a);
    hub.leave(a);
    const c = new FakeSub('c');
    hub.join(c);
    producers[0]?.frame();
    producers[0]?.emit('end');
    expect(c.offered).toEqual([]);
    expect(c.ended).toBeNull();
    expect(ends).toHaveLength(1);
  });

  it('lossless mode pauses the source while any client is backlogged and resumes when all drained', () => {
    const { hub, current } = setup({ lossless: true });
    const a = new FakeSub('a');
    const b = new FakeSub('b');
    hub.join(a);
    hub.join(b);
    current().frame();
    expect(current().paused).toBe(false);
    a.backlogged = true;
    b.backlogged = true;
    current().frame();
    expect(current().paused).toBe(true);
    expect(current().pauses).toBe(1);
    a.backlogged = false;
    hub.drained();
    expect(current().paused).toBe(true);
    b.backlogged = false;
    hub.drained();
    expect(current().paused).toBe(false);
    expect(current().resumes).toBe(1);
    hub.drained();
    expect(current().resumes).toBe(1);
  });

  it('lossless mode resumes when the backlogged client leaves', () => {
    const { hub, current } = setup({ lossless: true });
    const a = new FakeSub('a');
    const b = new FakeSub('b');
    hub.join(a);
    hub.join(b);
    a.backlogged = true;
    current().frame();
    expect(current().paused).toBe(true);
    hub.leave(a);
    expect(current().paused).toBe(false);
  });

  it('paced (lossy) mode never pauses the source for a slow client', () => {
    const { hub, current } = setup({ lossless: false });
    const a = new FakeSub('a');
    hub.join(a);
    a.backlogged = true;
    current().frame();
    current().frame();
    expect(current().pauses).toBe(0);
  });

  it('on a source error closes every client and reports the error', () => {
    const { hub, ends, current } = setup();
    const a = new FakeSub('a');
    hub.join(a);
    const err = new FramecastError('ERR_SOURCE_FAILED', 'source x failed: boom');
    current().emit('error', err);
    expect(a.ended).toBe('source-error');
    expect(ends).toEqual([{ reason: 'source-error', err }]);
  });

  it("stopTransmission ('q') closes the clients, keeps accepting, and says false when idle", () => {
    const { hub, ends, producers } = setup();
    expect(hub.stopTransmission()).toBe(false);
    const a = new FakeSub('a');
    hub.join(a);
    expect(hub.stopTransmission()).toBe(true);
    expect(a.ended).toBe('stopped');
    expect(ends.map((e) => e.reason)).toEqual(['stopped']);
    expect(hub.join(new FakeSub('b'))).toBe(true);
    expect(producers).toHaveLength(2);
  });

  it('close() ends served and waiting clients, stops the source, refuses new ones, and is idempotent', () => {
    const { hub, ends, current } = setup({ maxClients: 1 });
    const a = new FakeSub('a');
    const b = new FakeSub('b');
    hub.join(a);
    hub.join(b);
    hub.close();
    hub.close();
    expect(a.ended).toBe('shutdown');
    expect(b.ended).toBe('shutdown');
    expect(current().stopped).toBe(1);
    expect(ends.map((e) => e.reason)).toEqual(['shutdown']);
    expect(hub.join(new FakeSub('c'))).toBe(false);
  });

  it('emits left with the stats of each client that goes, once its connection closed', () => {
    const { hub, current } = setup();
    const left: string[] = [];
    hub.on('left', (s) => left.push(s.address));
    const a = new FakeSub('a');
    const b = new FakeSub('b');
    hub.join(a);
    hub.join(b);
    hub.leave(a);
    expect(left).toEqual(['a']);
    current().emit('end');
    // b was ended by the hub; its transport reports the close, as every transport does.
    hub.leave(b);
    hub.leave(b);
    expect(left).toEqual(['a', 'b']);
  });

  it("counts the frame still in flight at end of file in the client's final stats", async () => {
    const { hub, current } = setup();
    const sent: number[] = [];
    hub.on('left', (s) => sent.push(s.framesSent));
    const callbacks: Array<() => void> = [];
    const stream = new Writable({
      write: (_chunk, _enc, cb) => callbacks.push(() => cb()),
    });
    const sub = new StreamSubscriber({
      stream,
      protocol: 'test',
      address: 'slow',
      encode: (f) => f.jpeg,
      lossless: false,
      onDrained: () => hub.drained(),
    });
    stream.once('close', () => hub.leave(sub));
    hub.join(sub);
    current().frame();
    current().emit('end'); // the frame's write has not completed yet
    callbacks.shift()?.();
    await new Promise((r) => stream.once('finish', r));
    stream.destroy();
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([1]);
  });

  it('refuses maxClients that is not a whole number of at least 1', () => {
    const make = (maxClients: number): Hub =>
      new Hub({ createProducer: () => new FakeProducer(0), maxClients, maxWaiting: 0, lossless: false });
    expect(() => make(0)).toThrow(new RangeError('maxClients must be >= 1'));
    expect(() => make(-1)).toThrow(RangeError);
    expect(() => make(1.5)).toThrow(RangeError);
    expect(() => make(Number.NaN)).toThrow(RangeError);
    expect(make(1).cappedCount).toBe(0);
  });
});
