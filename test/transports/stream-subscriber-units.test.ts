import { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { Frame } from '../../src/hub/frame.js';
import type { EndReason } from '../../src/hub/subscriber.js';
import { StreamSubscriber, type StreamSubscriberOptions } from '../../src/transports/stream-subscriber.js';

/** A Writable stand-in that logs every call; write callbacks run when the test says. */
class FakeStream extends EventEmitter {
  readonly log: string[] = [];
  readonly #callbacks: Array<(err?: Error | null) => void> = [];
  write(chunk: Buffer, cb?: (err?: Error | null) => void): boolean {
    this.log.push(`write ${chunk.toString()}${cb ? ' +cb' : ''}`);
    if (cb) this.#callbacks.push(cb);
    return true;
  }
  cork(): void {
    this.log.push('cork');
  }
  uncork(): void {
    this.log.push('uncork');
  }
  end(chunk?: Buffer): this {
    this.log.push(chunk ? `end ${chunk.toString()}` : 'end');
    return this;
  }
  destroy(): this {
    this.log.push('destroy');
    return this;
  }
  /** Runs the oldest write callback, with `err` if given. */
  complete(err: Error | null = null): void {
    const cb = this.#callbacks.shift();
    if (!cb) throw new Error('no write in flight');
    cb(err);
  }
}

function frame(seq: number): Frame {
  return new Frame({ seq, width: 1, height: 1, capturedAt: 0, encodedAt: 0, jpeg: Buffer.from(`f${seq}`) });
}

function make(opts: Partial<StreamSubscriberOptions> = {}): { stream: FakeStream; sub: StreamSubscriber } {
  const stream = new FakeStream();
  const sub = new StreamSubscriber({
    stream: stream as unknown as Writable,
    protocol: 'test',
    address: 'mem',
    encode: (f) => f.jpeg,
    lossless: false,
    onDrained: () => undefined,
    ...opts,
  });
  return { stream, sub };
}

describe('StreamSubscriber: writing', () => {
  it('a single buffer is one write; its callback counts the bytes', () => {
    const { stream, sub } = make({ encode: (f) => Buffer.concat([Buffer.from('<'), f.jpeg]) });
    sub.offer(frame(1));
    expect(stream.log).toEqual(['write <f1 +cb']);
    expect(sub.stats().framesSent).toBe(0);
    stream.complete();
    expect(sub.stats()).toMatchObject({ framesSent: 1, bytesSent: 3 });
  });

  it('parts are written corked, the callback on the last one only, and their sizes summed', () => {
    const { stream, sub } = make({ encode: (f) => [Buffer.from('<<'), f.jpeg, Buffer.from('>')] });
    sub.offer(frame(7));
    expect(stream.log).toEqual(['cork', 'write <<', 'write f7', 'write > +cb', 'uncork']);
    stream.complete();
    expect(sub.stats()).toMatchObject({ framesSent: 1, bytesSent: 5 });
  });

  it('a single part is written with its callback', () => {
    const { stream, sub } = make({ encode: (f) => [f.jpeg] });
    sub.offer(frame(3));
    expect(stream.log).toEqual(['cork', 'write f3 +cb', 'uncork']);
    stream.complete();
    expect(sub.stats()).toMatchObject({ framesSent: 1, bytesSent: 2 });
  });

  it('a failed write counts nothing and sends nothing more', () => {
    for (const encode of [(f: Frame) => f.jpeg, (f: Frame) => [Buffer.from('x'), f.jpeg]]) {
      const { stream, sub } = make({ encode });
      sub.offer(frame(0));
      sub.offer(frame(1));
      const before = stream.log.length;
      stream.complete(new Error('EPIPE'));
      expect(sub.stats()).toMatchObject({ framesSent: 0, bytesSent: 0 });
      expect(stream.log.length).toBe(before);
    }
  });

  it('the next frame goes out when the write completes', () => {
    const { stream, sub } = make();
    sub.offer(frame(0));
    sub.offer(frame(1));
    stream.complete();
    expect(stream.log).toEqual(['write f0 +cb', 'write f1 +cb']);
  });
});

describe('StreamSubscriber: closing', () => {
  it('a closed stream forgets the waiting frame and takes no more', () => {
    const { stream, sub } = make();
    sub.offer(frame(0));
    sub.offer(frame(1));
    expect(sub.backlogged).toBe(true);
    stream.emit('close');
    expect(sub.backlogged).toBe(false);
    sub.offer(frame(2));
    expect(stream.log).toEqual(['write f0 +cb']);
    expect(sub.stalledMs(Date.now() + 1e6)).toBe(0);
  });

  it('end() with no trailer ends the stream bare; a trailer of null too', () => {
    const a = make();
    a.sub.end('eof');
    expect(a.stream.log).toEqual(['end']);
    const reasons: EndReason[] = [];
    const b = make({
      trailer: (r) => {
        reasons.push(r);
        return null;
      },
    });
    b.sub.end('kicked');
    expect(b.stream.log).toEqual(['end']);
    expect(reasons).toEqual(['kicked']);
  });

  it('end() writes the trailer for the reason as the last chunk', () => {
    const { stream, sub } = make({ trailer: (r) => Buffer.from(`bye ${r}`) });
    sub.offer(frame(0));
    sub.end('shutdown');
    expect(stream.log).toEqual(['write f0 +cb']);
    stream.complete();
    expect(stream.log).toEqual(['write f0 +cb', 'end bye shutdown']);
  });

  it('a client that does not take its last frame in time is destroyed; a closed one is not', () => {
    vi.useFakeTimers();
    try {
      const { stream, sub } = make({ endTimeoutMs: 100 });
      sub.offer(frame(0));
      sub.end('eof');
      vi.advanceTimersByTime(100);
      expect(stream.log).toEqual(['write f0 +cb', 'destroy']);
      const b = make({ endTimeoutMs: 100 });
      b.sub.offer(frame(0));
      b.sub.end('eof');
      b.stream.emit('close');
      vi.advanceTimersByTime(1000);
      expect(b.stream.log).toEqual(['write f0 +cb']);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('StreamSubscriber: hold and release', () => {
  it('hold() lets the write in progress finish, then keeps frames back; release() hands them over', () => {
    const { stream, sub } = make({ lossless: true });
    const [f0, f1, f2] = [frame(0), frame(1), frame(2)];
    sub.offer(f0);
    sub.hold();
    sub.offer(f1);
    stream.complete();
    sub.offer(f2);
    expect(stream.log).toEqual(['write f0 +cb']);
    expect(sub.stats().framesSent).toBe(1);
    const left = sub.release();
    expect(left.sent).toBe(f0);
    expect(left.pending).toEqual([f1, f2]);
    // Released: nothing waits, nothing more is written, and the stream is left open.
    expect(sub.backlogged).toBe(false);
    sub.offer(frame(3));
    sub.end('eof');
    expect(stream.log).toEqual(['write f0 +cb']);
  });

  it('release() without a hold: the write in flight is not counted and nothing more is written', () => {
    const { stream, sub } = make();
    sub.offer(frame(0));
    expect(sub.release()).toMatchObject({ pending: [] });
    stream.complete();
    sub.offer(frame(1));
    expect(stream.log).toEqual(['write f0 +cb']);
    expect(sub.stats().framesSent).toBe(0);
  });

  it('hold() on an idle subscriber keeps the next frame back', () => {
    const { stream, sub } = make();
    sub.hold();
    sub.offer(frame(0));
    expect(stream.log).toEqual([]);
    expect(sub.backlogged).toBe(true);
  });
});
