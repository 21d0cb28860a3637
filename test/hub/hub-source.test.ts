/**
 * The hub's source: when it starts, pauses, stops and restarts, what it says about itself, and how
 * its signal state and errors reach the clients.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FramecastError } from '../../src/errors.js';
import type { Frame } from '../../src/hub/frame.js';
import type { SourceStatus } from '../../src/hub/producer.js';
import { Hub } from '../../src/hub/hub.js';
import { FakeProducer, FakeSub, setup } from './fakes.js';

afterEach(() => {
  vi.useRealTimers();
});

const noSignal: SourceStatus = {
  state: 'no-signal',
  since: 1,
  retries: 2,
  nextRetryAt: 3,
  lastError: 'gone',
};
const live: SourceStatus = { state: 'live', since: 4, retries: 0, nextRetryAt: null, lastError: null };

describe('Hub: the source', () => {
  it('describes the running source, then the last one after it stopped; null before any', () => {
    const { hub, current } = setup();
    expect(hub.source).toBeNull();
    const a = new FakeSub('a');
    hub.join(a);
    expect(hub.source?.name).toBe('fake#0');
    current().emit('end');
    expect(hub.transmitting).toBe(false);
    expect(hub.source?.name).toBe('fake#0');
    hub.join(new FakeSub('b'));
    expect(hub.source?.name).toBe('fake#1');
  });

  it('emits every frame it takes, with its totals counting frames and bytes', () => {
    const { hub, current } = setup();
    const seen: Frame[] = [];
    hub.on('frame', (f) => seen.push(f));
    hub.join(new FakeSub('a'));
    const f1 = current().frame();
    const f2 = current().frame();
    expect(seen).toEqual([f1, f2]);
    expect(hub.totals).toEqual({ framesIn: 2, bytesIn: 20, transmissions: 1, clientsServed: 1 });
  });

  it('forgets the newest frame when the transmission ends: a client of the next one waits for its own', () => {
    const { hub, current } = setup();
    hub.join(new FakeSub('a'));
    current().frame();
    current().emit('end');
    expect(hub.latest).toBeNull();
    const b = new FakeSub('b');
    hub.join(b);
    expect(b.offered).toEqual([]);
  });

  it("passes the source's signal changes to every client and as a source-status event", () => {
    const { hub, current } = setup();
    const events: SourceStatus[] = [];
    hub.on('source-status', (s) => events.push(s));
    const [a, b] = [new FakeSub('a'), new FakeSub('b')];
    hub.join(a);
    hub.join(b);
    current().emit('status', noSignal);
    current().emit('status', live);
    expect(a.statuses).toEqual([noSignal, live]);
    expect(b.statuses).toEqual([noSignal, live]);
    expect(events).toEqual([noSignal, live]);
  });

  it('tells a client that joins a source without signal so at once; one joining a live source is told nothing', () => {
    const { hub, current } = setup();
    hub.join(new FakeSub('a'));
    current().status = live;
    const b = new FakeSub('b');
    hub.join(b);
    expect(b.statuses).toEqual([]);
    current().status = noSignal;
    const c = new FakeSub('c');
    hub.join(c);
    expect(c.statuses).toEqual([noSignal]);
  });

  it('ignores errors and signal changes of a producer it already stopped', () => {
    const { hub, producers, ends } = setup();
    const a = new FakeSub('a');
    hub.join(a);
    hub.leave(a);
    const b = new FakeSub('b');
    hub.join(b);
    const events: SourceStatus[] = [];
    hub.on('source-status', (s) => events.push(s));
    producers[0]?.emit('error', new FramecastError('ERR_SOURCE_FAILED', 'old source failed'));
    producers[0]?.emit('status', noSignal);
    expect(b.ended).toBeNull();
    expect(b.statuses).toEqual([]);
    expect(events).toEqual([]);
    expect(ends.map((e) => e.reason)).toEqual(['idle']);
    expect(hub.transmitting).toBe(true);
  });

  it("close('removed') ends served and waiting clients with reason removed", () => {
    const { hub, ends } = setup({ maxClients: 1 });
    const [a, b] = [new FakeSub('a'), new FakeSub('b')];
    hub.join(a);
    hub.join(b);
    hub.close('removed');
    expect([a.ended, b.ended]).toEqual(['removed', 'removed']);
    expect(ends).toEqual([{ reason: 'removed', err: null }]);
    expect(hub.waitingCount).toBe(0);
  });

  it('a hub closed before any client says no transmission ended; one closed while warm says so', () => {
    const idle = setup();
    idle.hub.close();
    expect(idle.ends).toEqual([]);
    const warm = setup();
    warm.hub.warm();
    warm.hub.close();
    expect(warm.ends).toEqual([{ reason: 'shutdown', err: null }]);
    expect(warm.current().stopped).toBe(1);
  });

  it('stopTransmission stops a source that runs for a connection still in its handshake', () => {
    const { hub, current, ends } = setup();
    hub.warm();
    expect(hub.stopTransmission()).toBe(true);
    expect(current().stopped).toBe(1);
    expect(ends.map((e) => e.reason)).toEqual(['stopped']);
    expect(hub.stopTransmission()).toBe(false);
  });
});

describe('Hub: a source that fails as it starts', () => {
  it('ends its first client with source-error, and the next client starts a new one', () => {
    const made: FakeProducer[] = [];
    const hub = new Hub({
      createProducer: () => {
        const p = new FakeProducer(made.length);
        made.push(p);
        // The first one fails inside start(), before it made a frame.
        if (made.length === 1)
          p.start = () => void p.emit('error', new FramecastError('ERR_SOURCE_FAILED', 'no such file'));
        return p;
      },
      maxClients: 1,
      maxWaiting: 1,
      lossless: false,
    });
    const ends: string[] = [];
    hub.on('transmission-end', (reason) => ends.push(reason));
    const a = new FakeSub('a');
    expect(hub.join(a)).toBe(true);
    expect(a.ended).toBe('source-error');
    expect(ends).toEqual(['source-error']);
    expect(hub.transmitting).toBe(false);
    expect(hub.clientCount).toBe(0);
    const b = new FakeSub('b');
    hub.join(b);
    expect(made).toHaveLength(2);
    expect(hub.clients).toEqual([b]);
  });
});

describe('Hub: warm()', () => {
  it('two connections in their handshake start one source, which runs until both released it', () => {
    const { hub, producers, current } = setup();
    const r1 = hub.warm();
    const r2 = hub.warm();
    expect(producers).toHaveLength(1);
    r1();
    r1(); // a second call of the same release does not count as the other's
    expect(current().stopped).toBe(0);
    expect(hub.transmitting).toBe(true);
    r2();
    expect(current().stopped).toBe(1);
  });

  it('the last client leaving keeps the source running while a connection is still in its handshake', () => {
    const { hub, current, ends } = setup();
    const a = new FakeSub('a');
    hub.join(a);
    const release = hub.warm();
    hub.leave(a);
    expect(current().stopped).toBe(0);
    expect(ends).toEqual([]);
    release();
    expect(current().stopped).toBe(1);
    expect(ends).toEqual([{ reason: 'idle', err: null }]);
  });

  it('a closed hub starts nothing for a warming connection', () => {
    const { hub, producers } = setup();
    hub.close();
    const release = hub.warm();
    release();
    expect(producers).toHaveLength(0);
  });

  it('with preload, releasing the last warm connection leaves the source running', async () => {
    const { hub, producers, current } = setup({ preload: true });
    await Promise.resolve();
    const release = hub.warm();
    release();
    expect(producers).toHaveLength(1);
    expect(current().stopped).toBe(0);
    hub.close();
  });
});

describe('Hub: frames held for the first client', () => {
  it('lossless: the source is paused once, however many frames were in flight', () => {
    const { hub, current } = setup({ lossless: true });
    hub.warm();
    current().frame();
    current().frame();
    current().frame();
    expect(current().pauses).toBe(1);
    // Nobody to deliver to: drained() does not let the source go on.
    hub.drained();
    expect(current().paused).toBe(true);
    expect(current().resumes).toBe(0);
  });

  it('keeps at most 64 frames, the first ones, for the first client', () => {
    const { hub, current } = setup({ lossless: true });
    hub.warm();
    const made = Array.from({ length: 70 }, () => current().frame());
    const a = new FakeSub('a');
    hub.join(a);
    expect(a.offered).toEqual(made.slice(0, 64));
  });

  it('holdFirstFrames holds them in paced mode too; without it paced mode keeps none', () => {
    const held = setup({ holdFirstFrames: true });
    held.hub.warm();
    const f1 = held.current().frame();
    const f2 = held.current().frame();
    expect(held.current().paused).toBe(true);
    const a = new FakeSub('a');
    held.hub.join(a);
    expect(a.offered).toEqual([f1, f2]);
    expect(held.current().paused).toBe(false);

    const paced = setup();
    paced.hub.warm();
    paced.current().frame();
    const last = paced.current().frame();
    expect(paced.current().pauses).toBe(0);
    const b = new FakeSub('b');
    paced.hub.join(b);
    expect(b.offered).toEqual([last]);
  });

  it('holdFirstFrames false keeps none even in lossless mode (a live source is not held back)', () => {
    const { hub, current } = setup({ lossless: true, holdFirstFrames: false });
    hub.warm();
    current().frame();
    const last = current().frame();
    expect(current().pauses).toBe(0);
    const a = new FakeSub('a');
    hub.join(a);
    expect(a.offered).toEqual([last]);
  });

  it('held frames go to the first client only; the next one gets the newest frame', () => {
    const { hub, current } = setup({ lossless: true });
    hub.warm();
    const f1 = current().frame();
    const f2 = current().frame();
    const [a, b] = [new FakeSub('a'), new FakeSub('b')];
    hub.join(a);
    hub.join(b);
    expect(a.offered).toEqual([f1, f2]);
    expect(b.offered).toEqual([f2]);
  });

  it('lossless with preload: the source pauses when the last client leaves, and goes on for the next', () => {
    const { hub, current } = setup({ lossless: true, preload: true });
    const a = new FakeSub('a');
    hub.join(a);
    current().frame();
    hub.leave(a);
    expect(current().paused).toBe(true);
    expect(current().stopped).toBe(0);
    const b = new FakeSub('b');
    hub.join(b);
    expect(current().paused).toBe(false);
    hub.close();
  });

  it('paced mode with preload never pauses the source when the last client leaves', () => {
    const { hub, current } = setup({ preload: true });
    const a = new FakeSub('a');
    hub.join(a);
    hub.leave(a);
    expect(current().pauses).toBe(0);
    expect(current().stopped).toBe(0);
    hub.close();
  });
});

/** Lets a preloaded hub start its source (a microtask, then a 0 ms timer) under fake timers. */
async function preloaded(): Promise<void> {
  await Promise.resolve();
  vi.advanceTimersByTime(0);
}

describe('Hub: preload restarts', () => {
  it('restarts the source at once after end of file, and 1 s after a source error', async () => {
    vi.useFakeTimers();
    const { hub, producers, current } = setup({ preload: true });
    expect(producers).toHaveLength(0);
    await preloaded();
    expect(producers).toHaveLength(1);
    current().emit('end');
    vi.advanceTimersByTime(0);
    expect(producers).toHaveLength(2);
    current().emit('error', new FramecastError('ERR_SOURCE_FAILED', 'boom'));
    vi.advanceTimersByTime(999);
    expect(producers).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(producers).toHaveLength(3);
    expect(current().started).toBe(1);
    hub.close();
  });

  it('a client that comes during the wait after an error starts the source; the timer then starts no second one', async () => {
    vi.useFakeTimers();
    const { hub, producers, current } = setup({ preload: true });
    await preloaded();
    current().emit('error', new FramecastError('ERR_SOURCE_FAILED', 'boom'));
    const a = new FakeSub('a');
    hub.join(a);
    expect(producers).toHaveLength(2);
    vi.advanceTimersByTime(5000);
    expect(producers).toHaveLength(2);
    expect(hub.clients).toEqual([a]);
    expect(current().stopped).toBe(0);
    hub.close();
  });

  it('close() during the wait after an error cancels the restart', async () => {
    vi.useFakeTimers();
    const { hub, producers, current } = setup({ preload: true });
    await preloaded();
    current().emit('error', new FramecastError('ERR_SOURCE_FAILED', 'boom'));
    hub.close();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(producers).toHaveLength(1);
    expect(hub.transmitting).toBe(false);
  });

  it('without preload nothing restarts after end of file', () => {
    vi.useFakeTimers();
    const { hub, producers, current } = setup();
    hub.join(new FakeSub('a'));
    current().emit('end');
    vi.advanceTimersByTime(5000);
    expect(producers).toHaveLength(1);
    expect(hub.transmitting).toBe(false);
  });
});
