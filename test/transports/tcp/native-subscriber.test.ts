/**
 * One native client (native-subscriber.ts) over a socket stand-in whose writes complete when the test
 * says: FRAME, META, STATUS and END messages as the protocol's own parser reads them, and the ACK window.
 */
import type net from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Frame } from '../../../src/hub/frame.js';
import type { Annotation } from '../../../src/meta/annotations.js';
import { NativeParser, type NativeMessage } from '../../../src/protocol/native-parser.js';
import { ACK_WINDOW, MetaKind, StatusCode, encodePreamble } from '../../../src/protocol/native.js';
import type { StreamTarget } from '../../../src/transports/stream-target.js';
import { NativeSubscriber } from '../../../src/transports/tcp/native-subscriber.js';
import { setup } from '../../hub/fakes.js';

// A test that waits for what a mutant broke fails within 3 s (mutation runs retry a failure twice).
vi.setConfig({ testTimeout: 3000 });

/** A socket stand-in: keeps every byte, completes writes on release() (or at once when `auto`). */
class FakeSocket extends Writable {
  readonly chunks: Buffer[] = [];
  readonly #pending: Array<() => void> = [];
  auto = true;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(chunk);
    if (this.auto) cb();
    else this.#pending.push(() => cb());
  }
  release(): void {
    for (const cb of this.#pending.splice(0)) cb();
  }
  /** Every message written so far, as a native client parses them. */
  messages(): NativeMessage[] {
    const out: NativeMessage[] = [];
    new NativeParser(1 << 20).push(Buffer.concat([encodePreamble(), ...this.chunks]), (m) => out.push(m));
    return out;
  }
}

function target(lossless = false): StreamTarget & { drained: () => number } {
  const { hub } = setup();
  let drained = 0;
  const orig = hub.drained.bind(hub);
  hub.drained = () => {
    drained++;
    orig();
  };
  return { name: 'cam', hub, lossless, readToken: null, hasRoom: () => true, drained: () => drained };
}

function frame(seq: number, meta: string | null = null): Frame {
  return new Frame({
    seq,
    width: 4,
    height: 2,
    capturedAt: 1000 + seq,
    encodedAt: 1001 + seq,
    jpeg: Buffer.from([0xff, 0xd8, seq & 0xff, 0xff, 0xd9]),
    meta: meta === null ? null : Buffer.from(meta),
  });
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function make(
  acks = false,
  wants: { meta?: boolean; annotations?: boolean; maxFps?: number } = {},
  lossless = false,
) {
  const socket = new FakeSocket();
  const t = target(lossless);
  const sub = new NativeSubscriber(socket as unknown as net.Socket, '1.2.3.4:5', t, acks, wants);
  return { socket, sub, t };
}

const types = (s: FakeSocket): string[] => s.messages().map((m) => m.type);

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('NativeSubscriber', () => {
  it('is a native, send-first viewer of its stream', () => {
    const { sub } = make();
    expect([sub.protocol, sub.address, sub.sendFirst, sub.stream, sub.acknowledging]).toEqual([
      'native',
      '1.2.3.4:5',
      true,
      'cam',
      false,
    ]);
    expect(make(true).sub.acknowledging).toBe(true);
  });

  it('sends each frame as a FRAME stamped with the time it was sent', async () => {
    const { socket, sub } = make();
    vi.spyOn(performance, 'now').mockReturnValue(5000 - performance.timeOrigin);
    sub.offer(frame(3));
    await tick();
    const [m] = socket.messages();
    expect(m).toMatchObject({
      type: 'frame',
      seq: 3,
      width: 4,
      height: 2,
      capturedAt: 1003,
      encodedAt: 1004,
      sentAt: 5000,
    });
    expect((m as { jpeg: Buffer }).jpeg.equals(frame(3).jpeg)).toBe(true);
  });

  it('with meta: a META message of the frame just before it; none without metadata or without asking', async () => {
    const { socket, sub } = make(false, { meta: true });
    sub.offer(frame(1, '{"k":"é"}'));
    await tick();
    sub.offer(frame(2));
    await tick();
    const msgs = socket.messages();
    expect(msgs.map((m) => m.type)).toEqual(['meta', 'frame', 'frame']);
    expect(msgs[0]).toMatchObject({
      type: 'meta',
      seq: 1,
      kind: MetaKind.Metadata,
      name: '',
      capturedAt: 1001,
    });
    expect((msgs[0] as { json: Buffer }).json.toString()).toBe('{"k":"é"}');
    const plain = make();
    plain.sub.offer(frame(1, '{"k":1}'));
    await tick();
    expect(types(plain.socket)).toEqual(['frame']);
  });

  it('annotations: a META of kind annotation, only when asked, only while writable', () => {
    const a: Annotation = {
      analyzer: 'det',
      seq: 9,
      capturedAt: 77,
      receivedAt: 80,
      json: Buffer.from('{"n":1}'),
    };
    const { socket, sub } = make(false, { annotations: true });
    sub.annotation(a);
    const [m] = socket.messages();
    expect(m).toMatchObject({ type: 'meta', seq: 9, kind: MetaKind.Annotation, name: 'det', capturedAt: 77 });
    expect((m as { json: Buffer }).json.toString()).toBe('{"n":1}');
    const no = make();
    no.sub.annotation(a);
    expect(no.socket.chunks).toHaveLength(0);
    socket.end();
    sub.annotation(a);
    expect(socket.chunks).toHaveLength(1);
    const gone = make(false, { annotations: true });
    gone.socket.destroy();
    gone.sub.annotation(a);
    expect(gone.socket.chunks).toHaveLength(0);
  });

  it('STATUS: its place while it waits, NO SIGNAL with the reason, and the signal back once', () => {
    const { socket, sub } = make();
    sub.waiting(2);
    sub.sourceStatus({ state: 'live', retries: 0 });
    sub.sourceStatus({ state: 'no-signal', retries: 3, lastError: 'camera gone' });
    sub.sourceStatus({ state: 'no-signal', retries: 4, lastError: null });
    sub.sourceStatus({ state: 'starting', retries: 0 });
    // Starting again is not the signal back: only live is.
    expect(socket.messages()).toHaveLength(3);
    sub.sourceStatus({ state: 'live', retries: 0 });
    sub.sourceStatus({ state: 'live', retries: 0 });
    expect(socket.messages()).toEqual([
      { type: 'status', code: StatusCode.Waiting, value: 2, message: 'waiting for a place (#2)' },
      { type: 'status', code: StatusCode.NoSignal, value: 3, message: 'no signal: camera gone' },
      { type: 'status', code: StatusCode.NoSignal, value: 4, message: 'no signal' },
      { type: 'status', code: StatusCode.SignalRestored, value: 0, message: 'signal restored' },
    ]);
    socket.destroy();
    sub.status(1, 1, 'x');
    expect(socket.messages()).toHaveLength(4);
  });

  it.each([
    ['eof', 'end of the source'],
    ['stopped', 'the server stopped the transmission'],
    ['source-error', 'the source failed'],
    ['shutdown', 'the server is shutting down'],
    ['kicked', 'disconnected by the server'],
    ['removed', 'the stream was removed or changed on the server'],
  ] as const)('END %s says "%s"', async (reason, text) => {
    const { socket, sub } = make();
    sub.end(reason);
    await tick();
    expect(socket.messages()).toEqual([{ type: 'end', reason, message: text }]);
  });

  it(`an acknowledging client has at most ${ACK_WINDOW} frames unacknowledged; the rest wait, newest wins`, async () => {
    const { socket, sub } = make(true);
    for (let seq = 1; seq <= 5; seq++) {
      sub.offer(frame(seq));
      await tick();
    }
    const seqs = (): number[] =>
      socket.messages().flatMap((m) => (m.type === 'frame' ? [(m as { seq: number }).seq] : []));
    expect(seqs()).toEqual([1, 2]);
    expect(sub.stats().drops).toBe(2);
    // An ACK of a frame not in flight changes nothing.
    sub.acknowledge(99);
    await tick();
    expect(seqs()).toEqual([1, 2]);
    // Acknowledging 1 opens one place: the newest waiting frame goes.
    sub.acknowledge(1);
    await tick();
    expect(seqs()).toEqual([1, 2, 5]);
    sub.offer(frame(6));
    await tick();
    expect(seqs()).toEqual([1, 2, 5]);
    // Acknowledging 5 acknowledges 2 as well.
    sub.acknowledge(5);
    await tick();
    expect(seqs()).toEqual([1, 2, 5, 6]);
  });

  it('an ACK may change the window', async () => {
    const { socket, sub } = make(true);
    const seqs = (): number[] =>
      socket.messages().flatMap((m) => (m.type === 'frame' ? [(m as { seq: number }).seq] : []));
    sub.acknowledge(0, 4);
    for (let seq = 1; seq <= 6; seq++) {
      sub.offer(frame(seq));
      await tick();
    }
    expect(seqs()).toEqual([1, 2, 3, 4]);
    sub.acknowledge(4, 1);
    await tick();
    expect(seqs()).toEqual([1, 2, 3, 4, 6]);
    sub.offer(frame(7));
    await tick();
    expect(seqs()).toEqual([1, 2, 3, 4, 6]);
    // Without a window, an ACK keeps the last one.
    sub.acknowledge(6, null);
    await tick();
    expect(seqs()).toEqual([1, 2, 3, 4, 6, 7]);
  });

  it('a client without ACKs ignores acknowledgements and is never held', async () => {
    const { socket, sub } = make(false);
    sub.acknowledge(0, 1);
    for (let seq = 1; seq <= 4; seq++) {
      sub.offer(frame(seq));
      await tick();
    }
    expect(types(socket)).toEqual(['frame', 'frame', 'frame', 'frame']);
    expect(sub.stalledMs(Date.now() + 10_000)).toBe(0);
  });

  it('seqs compare as unsigned 32-bit', async () => {
    const { socket, sub } = make(true);
    sub.offer(frame(0xffffffff));
    await tick();
    sub.offer(frame(0xfffffffe));
    await tick();
    sub.offer(frame(3));
    await tick();
    expect(socket.messages().filter((m) => m.type === 'frame')).toHaveLength(2);
    sub.acknowledge(-1);
    await tick();
    // -1 is 0xffffffff: one place opened.
    expect(socket.messages().filter((m) => m.type === 'frame')).toHaveLength(3);
  });

  it('stalled: a full window with a frame waiting counts as stalled since the window filled', async () => {
    const now = vi.spyOn(Date, 'now').mockReturnValue(5_000);
    const { sub } = make(true);
    sub.offer(frame(1));
    await tick();
    expect(sub.stalledMs(20_000)).toBe(0);
    now.mockReturnValue(10_000);
    sub.offer(frame(2));
    await tick();
    // The window is full but nothing waits: not stalled.
    expect(sub.stalledMs(20_000)).toBe(0);
    now.mockReturnValue(12_000);
    sub.offer(frame(3));
    expect(sub.stalledMs(20_000)).toBe(10_000); // since frame 2 filled the window, not since frame 1
    // An ACK of a frame not in flight frees nothing: still stalled since then.
    sub.acknowledge(99);
    await tick();
    expect(sub.stalledMs(20_000)).toBe(10_000);
    sub.acknowledge(2);
    await tick();
    expect(sub.stalledMs(20_000)).toBe(0);
  });

  it('maxFps: frames closer in capture time than the rate allows are skipped', async () => {
    const { socket, sub } = make(false, { maxFps: 2 });
    for (const seq of [1, 2, 3, 600, 601]) {
      sub.offer(frame(seq));
      await tick();
    }
    // Capture times 1001, 1002, 1003, 1600, 1601 ms: at 2 fps (450 ms apart at least) 1 and 600 go.
    expect(
      socket.messages().flatMap((m) => (m.type === 'frame' ? [(m as { seq: number }).seq] : [])),
    ).toEqual([1, 600]);
  });

  it('a frame still being written counts as stalled like any stream client', async () => {
    const { socket, sub } = make(false);
    socket.auto = false;
    sub.offer(frame(1));
    const now = performance.timeOrigin + performance.now();
    expect(sub.stalledMs(now + 1000)).toBeGreaterThanOrEqual(999);
    expect(sub.stalledMs(now + 1000)).toBeLessThan(2000);
    for (let i = 0; i < 10; i++) {
      socket.release();
      await tick();
    }
    expect(sub.stalledMs(now + 1000)).toBe(0);
  });

  it('lossless: a backlog sent tells the hub (it may resume the source)', async () => {
    const { socket, sub, t } = make(false, {}, true);
    socket.auto = false;
    sub.offer(frame(1));
    sub.offer(frame(2));
    sub.offer(frame(3));
    expect(sub.backlogged).toBe(true);
    for (let i = 0; i < 30; i++) {
      socket.release();
      await tick();
    }
    expect(socket.messages().map((m) => (m as { seq: number }).seq)).toEqual([1, 2, 3]);
    expect(t.drained()).toBe(1);
    expect(sub.stats().drops).toBe(0);
  });
});
