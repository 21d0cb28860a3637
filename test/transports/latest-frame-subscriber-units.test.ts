import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Frame } from '../../src/hub/frame.js';
import type { EndReason, Handover } from '../../src/hub/subscriber.js';
import {
  LatestFrameSubscriber,
  type LatestFrameOptions,
} from '../../src/transports/latest-frame-subscriber.js';

/** The wall clock nowMs() reads: the test sets it. */
const clock = vi.hoisted(() => ({ now: 100_000 }));
vi.mock('../../src/util/clock.js', () => ({ nowMs: (): number => clock.now }));

/** A transport the test drives by hand: each transmit waits until `complete()`. */
class HandSub extends LatestFrameSubscriber {
  isOpen = true;
  readyFn: (() => boolean) | null = null;
  holding = false;
  readonly sent: number[] = [];
  readonly finished: EndReason[] = [];
  destroyed = 0;
  readonly #done: Array<(bytes: number | null) => void> = [];

  constructor(opts: Partial<LatestFrameOptions> = {}) {
    super({ protocol: 'hand', address: 'here', lossless: false, onDrained: () => undefined, ...opts });
  }
  protected get open(): boolean {
    return this.isOpen;
  }
  protected transmit(frame: Frame, done: (bytes: number | null) => void): void {
    this.sent.push(frame.seq);
    this.#done.push(done);
  }
  protected finish(reason: EndReason): void {
    this.finished.push(reason);
  }
  protected destroy(): void {
    this.destroyed++;
  }
  protected override ready(): boolean {
    return this.readyFn ? this.readyFn() : super.ready();
  }
  protected override held(): boolean {
    return this.holding || super.held();
  }
  /** Completes the oldest transmit with `bytes` (null: it failed). */
  complete(bytes: number | null = 10): void {
    const done = this.#done.shift();
    if (!done) throw new Error('nothing in flight');
    done(bytes);
  }
  get inFlight(): number {
    return this.#done.length;
  }
  close(): void {
    this.isOpen = false;
    this.closed();
  }
  lift(): void {
    this.holding = false;
    this.retry();
  }
  leave(): Handover {
    return this.handover();
  }
}

const frames = new Map<number, Frame>();
/** Frame `seq` (the same object for the same seq), captured at `capturedAt`. */
function frame(seq: number, capturedAt = 0): Frame {
  const f = new Frame({ seq, width: 1, height: 1, capturedAt, encodedAt: 0, jpeg: Buffer.alloc(1) });
  frames.set(seq, f);
  return f;
}

beforeEach(() => {
  clock.now = 100_000;
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('LatestFrameSubscriber: settings', () => {
  it('takes protocol, address, stream and sendFirst from its options, with defaults', () => {
    const a = new HandSub({ protocol: 'p', address: '1.2.3.4:5', streamName: 'cam', sendFirst: true });
    expect([a.protocol, a.address, a.stream, a.sendFirst]).toEqual(['p', '1.2.3.4:5', 'cam', true]);
    const b = new HandSub();
    expect([b.stream, b.sendFirst]).toEqual(['default', false]);
    expect(b.id).not.toBe(a.id);
  });

  it('stats: counters, the stream, the connection time, and no latency before a frame', () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const s = new HandSub({ protocol: 'p', address: 'a', streamName: 'cam' });
    expect(s.stats()).toEqual({
      id: s.id,
      protocol: 'p',
      address: 'a',
      stream: 'cam',
      connectedAt: 1_700_000_000_000,
      framesSent: 0,
      bytesSent: 0,
      drops: 0,
      lastLatencyMs: null,
    });
  });
});

describe('LatestFrameSubscriber: latest frame wins', () => {
  it('sends at once when idle; counts frames and bytes when the transport says they left', () => {
    const s = new HandSub();
    s.offer(frame(0));
    expect(s.sent).toEqual([0]);
    expect(s.backlogged).toBe(false);
    expect(s.stats()).toMatchObject({ framesSent: 0, bytesSent: 0 });
    s.complete(7);
    expect(s.stats()).toMatchObject({ framesSent: 1, bytesSent: 7 });
    s.offer(frame(1));
    s.complete(5);
    expect(s.stats()).toMatchObject({ framesSent: 2, bytesSent: 12, drops: 0 });
    // Not ending: an emptied queue does not finish the transport.
    expect(s.finished).toEqual([]);
  });

  it('keeps only the newest waiting frame, counting each replaced one as a drop', () => {
    const s = new HandSub();
    s.offer(frame(0));
    s.offer(frame(1));
    expect(s.backlogged).toBe(true);
    expect(s.stats().drops).toBe(0);
    s.offer(frame(2));
    s.offer(frame(3));
    expect(s.stats().drops).toBe(2);
    expect(s.sent).toEqual([0]);
    s.complete();
    expect(s.sent).toEqual([0, 3]);
    expect(s.backlogged).toBe(false);
    expect(s.inFlight).toBe(1);
  });

  it('a failed send is not counted and does not send the waiting frame', () => {
    const s = new HandSub();
    s.offer(frame(0));
    s.offer(frame(1));
    s.complete(null);
    expect(s.stats()).toMatchObject({ framesSent: 0, bytesSent: 0 });
    expect(s.sent).toEqual([0]);
    // No longer sending: the next offer goes out at once.
    s.offer(frame(2));
    expect(s.sent).toEqual([0, 2]);
  });

  it('a send completing after the transport closed is not counted and sends nothing more', () => {
    const s = new HandSub();
    s.offer(frame(0));
    s.offer(frame(1));
    s.isOpen = false;
    s.complete(9);
    expect(s.stats().framesSent).toBe(0);
    expect(s.sent).toEqual([0]);
  });

  it('records the capture-to-send latency of the last frame sent', () => {
    const s = new HandSub();
    clock.now = 5000;
    s.offer(frame(0, 4960));
    expect(s.stats().lastLatencyMs).toBe(40);
    s.complete();
    clock.now = 6000;
    s.offer(frame(1, 5990));
    expect(s.stats().lastLatencyMs).toBe(10);
  });

  it('ignores offers once the transport closed', () => {
    const s = new HandSub();
    s.isOpen = false;
    s.offer(frame(0));
    expect(s.sent).toEqual([]);
    expect(s.backlogged).toBe(false);
  });

  it('closed() forgets the waiting frames', () => {
    const s = new HandSub();
    s.offer(frame(0));
    s.offer(frame(1));
    s.close();
    expect(s.backlogged).toBe(false);
  });
});

describe('LatestFrameSubscriber: lossless', () => {
  it('queues up to maxQueue frames, sends them in order, and calls onDrained once the backlog is out', () => {
    let drained = 0;
    const s = new HandSub({ lossless: true, maxQueue: 2, onDrained: () => drained++ });
    for (let i = 0; i < 3; i++) s.offer(frame(i));
    expect(s.stats().drops).toBe(0);
    s.offer(frame(3));
    expect(s.stats().drops).toBe(1);
    s.complete();
    expect(s.sent).toEqual([0, 2]);
    expect(drained).toBe(0);
    expect(s.backlogged).toBe(true);
    s.complete();
    expect(s.sent).toEqual([0, 2, 3]);
    expect(drained).toBe(1);
    expect(s.backlogged).toBe(false);
    s.complete();
    expect(drained).toBe(1);
  });

  it('queues 8 frames by default, and at least 1', () => {
    const s = new HandSub({ lossless: true });
    for (let i = 0; i < 9; i++) s.offer(frame(i));
    expect(s.stats().drops).toBe(0);
    s.offer(frame(9));
    expect(s.stats().drops).toBe(1);
    const one = new HandSub({ lossless: true, maxQueue: 0 });
    one.offer(frame(0));
    one.offer(frame(1));
    expect(one.stats().drops).toBe(0);
    expect(one.backlogged).toBe(true);
    one.offer(frame(2));
    expect(one.stats().drops).toBe(1);
  });

  it('without lossless, maxQueue is ignored: one waiting frame', () => {
    const s = new HandSub({ lossless: false, maxQueue: 5 });
    s.offer(frame(0));
    s.offer(frame(1));
    s.offer(frame(2));
    expect(s.stats().drops).toBe(1);
  });
});

describe('LatestFrameSubscriber: maxFps', () => {
  it('takes frames at most every 90% of the period, by capture time, with no drop counted', () => {
    const s = new HandSub({ maxFps: 10 });
    s.offer(frame(0, 1000));
    s.complete();
    s.offer(frame(1, 1089));
    s.offer(frame(2, 1090));
    s.complete();
    s.offer(frame(3, 1100));
    s.offer(frame(4, 1179));
    s.offer(frame(5, 1180));
    expect(s.sent).toEqual([0, 2, 5]);
    expect(s.stats().drops).toBe(0);
  });

  it('a frame captured at the same time as the last one taken is skipped; an earlier one (a reset clock) is taken', () => {
    const s = new HandSub({ maxFps: 10 });
    s.offer(frame(0, 5000));
    s.complete();
    s.offer(frame(1, 5000));
    expect(s.sent).toEqual([0]);
    s.offer(frame(2, 10));
    expect(s.sent).toEqual([0, 2]);
    s.complete();
    s.offer(frame(3, 50));
    expect(s.sent).toEqual([0, 2]);
  });

  it('no maxFps (or 0): every frame is offered', () => {
    for (const maxFps of [null, 0]) {
      const s = new HandSub({ maxFps });
      for (let i = 0; i < 3; i++) {
        s.offer(frame(i, 0));
        s.complete();
      }
      expect(s.sent).toEqual([0, 1, 2]);
    }
  });
});

describe('LatestFrameSubscriber: ready and held', () => {
  it('a transport that is not ready gets the frame later, when a send completes', () => {
    const s = new HandSub();
    s.readyFn = (): boolean => false;
    s.offer(frame(0));
    expect(s.sent).toEqual([]);
    expect(s.backlogged).toBe(true);
  });

  it('ready() is asked only from idle: a backlog goes out as sends complete', () => {
    const s = new HandSub();
    s.offer(frame(0));
    s.readyFn = (): boolean => false;
    s.offer(frame(1));
    s.complete();
    expect(s.sent).toEqual([0, 1]);
  });

  it('a hold keeps frames back, from idle and after a send; retry() sends the waiting one', () => {
    let drained = 0;
    const s = new HandSub({ onDrained: () => drained++ });
    s.offer(frame(0));
    s.holding = true;
    s.offer(frame(1));
    s.complete();
    expect(s.sent).toEqual([0]);
    expect(s.backlogged).toBe(true);
    s.offer(frame(2));
    expect(s.sent).toEqual([0]);
    s.lift();
    expect(s.sent).toEqual([0, 2]);
    expect(drained).toBe(1);
    // Nothing waits: retry sends nothing more.
    s.complete();
    s.lift();
    expect(s.sent).toEqual([0, 2]);
  });

  it('retry() sends nothing while a send is in progress or once closed', () => {
    const s = new HandSub({ lossless: true });
    s.offer(frame(0));
    s.offer(frame(1));
    s.lift();
    expect(s.sent).toEqual([0]);
    s.holding = true;
    s.complete();
    s.isOpen = false;
    s.lift();
    expect(s.sent).toEqual([0]);
  });
});

describe('LatestFrameSubscriber: stalledMs', () => {
  it('is the time the frame in flight has waited, 0 when idle or closed', () => {
    const s = new HandSub();
    expect(s.stalledMs(clock.now + 500)).toBe(0);
    clock.now = 2000;
    s.offer(frame(0));
    expect(s.stalledMs(2350)).toBe(350);
    s.complete();
    expect(s.stalledMs(2400)).toBe(0);
    s.offer(frame(1));
    s.isOpen = false;
    expect(s.stalledMs(9000)).toBe(0);
  });
});

describe('LatestFrameSubscriber: end', () => {
  it('idle: finishes at once with the reason; later offers and ends are ignored', () => {
    const s = new HandSub();
    s.end('eof');
    expect(s.finished).toEqual(['eof']);
    s.end('shutdown');
    s.offer(frame(0));
    // A retry with nothing waiting does not finish again.
    s.lift();
    expect(s.finished).toEqual(['eof']);
    expect(s.sent).toEqual([]);
  });

  it('sending: finishes after the frame in flight and the waiting one are out', () => {
    const s = new HandSub();
    s.offer(frame(0));
    s.offer(frame(1));
    s.end('stopped');
    expect(s.finished).toEqual([]);
    s.complete();
    expect(s.sent).toEqual([0, 1]);
    expect(s.finished).toEqual([]);
    s.complete();
    expect(s.finished).toEqual(['stopped']);
  });

  it('a closed transport is not ended', () => {
    vi.useFakeTimers();
    const s = new HandSub();
    s.isOpen = false;
    s.end('eof');
    expect(s.finished).toEqual([]);
    vi.advanceTimersByTime(60_000);
    expect(s.destroyed).toBe(0);
  });

  it('destroys a client that does not take its last frames within endTimeoutMs (5 s by default)', () => {
    vi.useFakeTimers();
    const s = new HandSub();
    s.offer(frame(0));
    s.end('eof');
    vi.advanceTimersByTime(4999);
    expect(s.destroyed).toBe(0);
    vi.advanceTimersByTime(1);
    expect(s.destroyed).toBe(1);
    const t = new HandSub({ endTimeoutMs: 50 });
    t.offer(frame(0));
    t.end('eof');
    vi.advanceTimersByTime(49);
    expect(t.destroyed).toBe(0);
    vi.advanceTimersByTime(1);
    expect(t.destroyed).toBe(1);
  });

  it('closed() cancels the end deadline', () => {
    vi.useFakeTimers();
    const s = new HandSub();
    s.offer(frame(0));
    s.end('eof');
    s.close();
    vi.advanceTimersByTime(10_000);
    expect(s.destroyed).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the end deadline does not keep the process alive', () => {
    const spy = vi.spyOn(globalThis, 'setTimeout');
    const s = new HandSub();
    s.offer(frame(0));
    s.end('eof');
    const timer = spy.mock.results[0]?.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    s.close();
  });
});

describe('LatestFrameSubscriber: handover', () => {
  it('leaves the frame sent last and the waiting ones', () => {
    const s = new HandSub({ lossless: true });
    expect(s.leave()).toEqual({ sent: null, pending: [] });
    const [f0, f1, f2] = [frame(0), frame(1), frame(2)];
    s.offer(f0);
    s.offer(f1);
    s.offer(f2);
    const h = s.leave();
    expect(h.sent).toBe(f0);
    expect(h.pending).toEqual([f1, f2]);
    // A copy: the queue goes on without changing it.
    s.complete();
    expect(h.pending).toEqual([f1, f2]);
  });

  it('takeOver sends what was pending first and skips what the old one sent or held when offered again', () => {
    const [f0, f1, f2, f3] = [frame(0), frame(1), frame(2), frame(3)];
    const s = new HandSub({ lossless: true });
    s.takeOver({ sent: f0, pending: [f1, f2] });
    expect(s.sent).toEqual([1]);
    s.offer(f0);
    s.offer(f1);
    s.offer(f2);
    s.complete();
    expect(s.sent).toEqual([1, 2]);
    s.complete();
    s.offer(f3);
    expect(s.sent).toEqual([1, 2, 3]);
    // Once a new frame came, the old ones are no longer remembered.
    s.complete();
    s.offer(f0);
    expect(s.sent).toEqual([1, 2, 3, 0]);
  });

  it('takeOver with nothing pending still skips the frame sent last', () => {
    const [f0, f1] = [frame(0), frame(1)];
    const s = new HandSub();
    s.takeOver({ sent: f0, pending: [] });
    s.offer(f0);
    expect(s.sent).toEqual([]);
    s.offer(f1);
    expect(s.sent).toEqual([1]);
  });
});
