import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Frame } from '../../src/hub/frame.js';
import { StreamSubscriber, type StreamSubscriberOptions } from '../../src/transports/stream-subscriber.js';

/** A Writable whose writes complete only when the test says so: a client as slow as we want. */
class SlowWritable extends Writable {
  readonly chunks: Buffer[] = [];
  readonly #pending: Array<() => void> = [];
  ended = false;
  auto = false;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(chunk);
    if (this.auto) setImmediate(cb);
    else this.#pending.push(() => cb());
  }
  override _final(cb: () => void): void {
    this.ended = true;
    cb();
  }
  /** Completes the oldest write in flight; true if there was one. */
  release(): boolean {
    const cb = this.#pending.shift();
    cb?.();
    return cb !== undefined;
  }
  get inFlight(): number {
    return this.#pending.length;
  }
  text(): string[] {
    return this.chunks.map((c) => c.toString());
  }
}

function frame(seq: number): Frame {
  return new Frame({ seq, width: 1, height: 1, capturedAt: 0, encodedAt: 0, jpeg: Buffer.from(`f${seq}`) });
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function make(opts: Partial<StreamSubscriberOptions> = {}) {
  const stream = new SlowWritable();
  let drained = 0;
  const sub = new StreamSubscriber({
    stream,
    protocol: 'test',
    address: 'mem',
    encode: (f) => f.jpeg,
    lossless: false,
    onDrained: () => drained++,
    ...opts,
  });
  return { stream, sub, drained: () => drained };
}

describe('StreamSubscriber (latest frame wins)', () => {
  it('writes a frame at once when the stream is free', () => {
    const { stream, sub } = make();
    sub.offer(frame(0));
    expect(stream.text()).toEqual(['f0']);
    expect(sub.backlogged).toBe(false);
  });

  it('keeps at most one pending frame for a slow client, the newest, and counts the drops', async () => {
    const { stream, sub } = make();
    sub.offer(frame(0));
    for (let i = 1; i <= 5; i++) sub.offer(frame(i));
    expect(stream.text()).toEqual(['f0']);
    expect(sub.backlogged).toBe(true);
    expect(sub.stats().drops).toBe(4);
    stream.release();
    await tick();
    expect(stream.text()).toEqual(['f0', 'f5']);
    expect(sub.backlogged).toBe(false);
    stream.release();
    await tick();
    expect(sub.stats()).toMatchObject({ framesSent: 2, bytesSent: 4, drops: 4 });
    // Free again: the next frame goes straight out.
    sub.offer(frame(6));
    expect(stream.text()).toEqual(['f0', 'f5', 'f6']);
  });

  it('never has more than one write in flight', async () => {
    const { stream, sub } = make();
    for (let i = 0; i < 50; i++) {
      sub.offer(frame(i));
      expect(stream.inFlight).toBeLessThanOrEqual(1);
      if (i % 7 === 0) {
        stream.release();
        await tick();
      }
    }
  });

  it('counts only frames whose write completed', async () => {
    const { stream, sub } = make();
    sub.offer(frame(0));
    expect(sub.stats().framesSent).toBe(0);
    stream.release();
    await tick();
    expect(sub.stats()).toMatchObject({ framesSent: 1, bytesSent: 2 });
  });

  it('lossless mode queues up to maxQueue frames, calls onDrained when the backlog is out', async () => {
    const { stream, sub, drained } = make({ lossless: true, maxQueue: 3 });
    for (let i = 0; i < 4; i++) sub.offer(frame(i));
    expect(sub.stats().drops).toBe(0);
    expect(sub.backlogged).toBe(true);
    for (let i = 0; i < 3; i++) {
      stream.release();
      await tick();
    }
    expect(stream.text()).toEqual(['f0', 'f1', 'f2', 'f3']);
    expect(sub.backlogged).toBe(false);
    expect(drained()).toBe(1);
    stream.release(); // f3 was still in flight
    await tick();
    sub.offer(frame(4));
    sub.offer(frame(5));
    sub.offer(frame(6));
    sub.offer(frame(7));
    sub.offer(frame(8)); // over maxQueue: the oldest waiting frame goes
    expect(sub.stats().drops).toBe(1);
  });

  it('end() sends the pending frame, then the trailer, then closes; later offers are ignored', async () => {
    const { stream, sub } = make({ trailer: (r) => Buffer.from(`bye:${r}`) });
    sub.offer(frame(0));
    sub.offer(frame(1));
    sub.end('eof');
    sub.end('shutdown'); // idempotent: the first reason stays
    sub.offer(frame(2));
    stream.auto = true;
    stream.release();
    await new Promise((r) => stream.once('finish', r));
    expect(stream.text()).toEqual(['f0', 'f1', 'bye:eof']);
    expect(stream.ended).toBe(true);
  });

  it('end() on an idle client closes at once', async () => {
    const { stream, sub } = make();
    sub.end('stopped');
    await new Promise((r) => stream.once('finish', r));
    expect(stream.chunks).toEqual([]);
  });

  it('end() cuts a client that does not take its last frame in time', async () => {
    const { stream, sub } = make({ endTimeoutMs: 50 });
    sub.offer(frame(0));
    sub.end('eof');
    await new Promise((r) => stream.once('close', r));
    expect(stream.destroyed).toBe(true);
  });

  it('writes a multi-part wire form as consecutive chunks', async () => {
    const { stream, sub } = make({ encode: (f) => [Buffer.from('<'), f.jpeg, Buffer.from('>')] });
    stream.auto = true;
    sub.offer(frame(3));
    for (let i = 0; i < 20 && sub.stats().framesSent === 0; i++) await tick();
    expect(Buffer.concat(stream.chunks).toString()).toBe('<f3>');
    expect(sub.stats()).toMatchObject({ framesSent: 1, bytesSent: 4 });
  });

  it('ignores offers once the stream closed', async () => {
    const { stream, sub } = make();
    stream.destroy();
    await tick();
    sub.offer(frame(0));
    expect(stream.chunks).toEqual([]);
    expect(sub.backlogged).toBe(false);
  });
});
