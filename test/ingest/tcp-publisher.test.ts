/**
 * One native publisher after its WELCOME, against a socket stand-in that records what the server
 * writes: each FRAME checked, handed to the slot and ACKed; END a clean goodbye; anything else an
 * ERROR for this publisher alone (fake clock for the close that follows an ERROR).
 */
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  PUBLISH_IDLE_REASON,
  PublisherSlot,
  type IngestFrame,
  type PublisherConnection,
} from '../../src/ingest/publish/publisher-slot.js';
import {
  MAX_PUBLISHED_FRAME_BYTES,
  captureTime,
  checkPublishedJpeg,
  servePublisher,
  tcpPublisherConnection,
} from '../../src/ingest/publish/tcp-publisher.js';
import { NativeParser, type NativeMessage } from '../../src/protocol/native-parser.js';
import {
  ACK_WINDOW,
  ErrorCode,
  encodeAck,
  encodeEnd,
  encodeFrameHeader,
  encodeMeta,
  encodeNativeFrame,
  encodePreamble,
  MetaKind,
} from '../../src/protocol/native.js';
import { ImageBound } from '../../src/util/jpeg.js';
import { nowMs } from '../../src/util/clock.js';
import { makeJpeg } from '../helpers/native.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A socket stand-in: records what is written, whether it was ended, destroyed and resumed. */
class FakeSocket extends EventEmitter {
  writable = true;
  destroyed = false;
  resumed = false;
  ended = false;
  readonly out: Buffer[] = [];
  write(data: Buffer): boolean {
    this.out.push(data);
    return true;
  }
  end(data?: Buffer): this {
    if (data) this.out.push(data);
    this.ended = true;
    this.writable = false;
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    this.writable = false;
    return this;
  }
  resume(): this {
    this.resumed = true;
    return this;
  }
  /** What the server wrote, read as a native client reads it. */
  messages(): NativeMessage[] {
    const parser = new NativeParser(1 << 24);
    const got: NativeMessage[] = [];
    parser.push(Buffer.concat([encodePreamble(2), ...this.out]), (m) => got.push(m));
    return got;
  }
  get net(): net.Socket {
    return this as unknown as net.Socket;
  }
}

/** A publisher connection on a slot, with the slot's frames and departures recorded. */
function setupPublisher(
  opts: { images?: ImageBound; rest?: Buffer; maxFrameBytes?: number; metaMaxBytes?: number } = {},
) {
  const socket = new FakeSocket();
  const slot = new PublisherSlot(false, opts.images);
  const conn: PublisherConnection = { address: 'pub', via: 'tcp', evict: () => {} };
  const frames: IngestFrame[] = [];
  const gone: string[] = [];
  slot.on('frame', (f) => frames.push(f));
  slot.on('disconnected', (_c, why) => gone.push(why));
  slot.claim(conn);
  servePublisher(
    socket.net,
    conn,
    slot,
    opts.rest ?? Buffer.alloc(0),
    opts.maxFrameBytes,
    opts.metaMaxBytes ?? null,
  );
  return { socket, slot, conn, frames, gone };
}

const frameMsg = (jpeg: Buffer, seq: number, capturedAt = Date.now()): Buffer =>
  encodeNativeFrame({ seq, width: 0, height: 0, capturedAt, encodedAt: capturedAt, jpeg }, capturedAt);

/** A META message: metadata (kind 1) or an annotation (kind 2) of frame `seq`. */
const metaMsg = (seq: number, json: string, kind: number = MetaKind.Metadata): Buffer =>
  encodeMeta({
    seq,
    kind,
    name: kind === MetaKind.Metadata ? '' : 'yolo',
    capturedAt: 0,
    json: Buffer.from(json),
  });

/** `jpeg` with the height in its SOF header set to 0. */
function zeroHeight(jpeg: Buffer): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i + 9 < out.length; i++) {
    if (out[i] === 0xff && out[i + 1] === 0xc0) {
      out.writeUInt16BE(0, i + 5);
      return out;
    }
  }
  throw new Error('no SOF0');
}

const errorOf = (m: NativeMessage[]) => m.filter((x) => x.type === 'error');

describe('checkPublishedJpeg and captureTime', () => {
  it('reads the size of a whole JPEG and says why anything else is refused', async () => {
    const jpeg = await makeJpeg(96, 64);
    expect(checkPublishedJpeg(jpeg)).toEqual({ width: 96, height: 64 });
    expect(checkPublishedJpeg(Buffer.from('hello'))).toBe(
      'not a whole JPEG (it must start with FF D8 and end with FF D9)',
    );
    expect(checkPublishedJpeg(jpeg.subarray(0, jpeg.length - 2))).toMatch(/^not a whole JPEG/);
    const noSize = 'a JPEG without a readable size (no SOF segment)';
    expect(checkPublishedJpeg(Buffer.from([0xff, 0xd8, 0xff, 0xd9]))).toBe(noSize);
    expect(checkPublishedJpeg(zeroHeight(jpeg))).toBe(noSize);
    const zeroWidth = zeroHeight(jpeg);
    const sof = zeroWidth.indexOf(Buffer.from([0xff, 0xc0]));
    zeroWidth.writeUInt16BE(64, sof + 5);
    zeroWidth.writeUInt16BE(0, sof + 7);
    expect(checkPublishedJpeg(zeroWidth)).toBe(noSize);
  });

  it("keeps a publisher's capture time within a day of ours, else takes ours", () => {
    const now = 1_700_000_000_000;
    const day = 86_400_000;
    expect(captureTime(now - 5, now)).toBe(now - 5);
    expect(captureTime(now - day + 1, now)).toBe(now - day + 1);
    expect(captureTime(now + day - 1, now)).toBe(now + day - 1);
    expect(captureTime(now - day, now)).toBe(now);
    expect(captureTime(now + day, now)).toBe(now);
    expect(captureTime(0, now)).toBe(now);
    expect(captureTime(Number.NaN, now)).toBe(now);
    expect(captureTime(Number.POSITIVE_INFINITY, now)).toBe(now);
  });
});

describe('servePublisher', () => {
  it('hands each frame to the slot as it came and ACKs it with the window, the bytes after the hello first', async () => {
    vi.useFakeTimers();
    const [a, b] = [await makeJpeg(96, 64, 1), await makeJpeg(48, 32, 2)];
    const captured = Date.now() - 500;
    const { socket, frames } = setupPublisher({ rest: frameMsg(a, 7, captured) });
    expect(socket.resumed).toBe(true);
    expect(frames).toHaveLength(1);
    // The next frame arrives cut in two chunks.
    const msg = frameMsg(b, 8, 0);
    socket.emit('data', msg.subarray(0, 30));
    expect(frames).toHaveLength(1);
    socket.emit('data', msg.subarray(30));
    const now = nowMs();
    expect(frames).toEqual([
      { jpeg: a, width: 96, height: 64, capturedAt: captured, receivedAt: now, meta: null },
      // A capture time of 0 is not a sane clock: ours is taken.
      { jpeg: b, width: 48, height: 32, capturedAt: now, receivedAt: now, meta: null },
    ]);
    expect(socket.messages()).toEqual([
      { type: 'ack', seq: 7, window: ACK_WINDOW },
      { type: 'ack', seq: 8, window: ACK_WINDOW },
    ]);
    expect(socket.ended).toBe(false);
  });

  it('a frame that is not a JPEG: ERROR bad frame, the slot is freed, the socket closes within 1 s', () => {
    vi.useFakeTimers();
    const { socket, slot, frames, gone } = setupPublisher();
    const bad = frameMsg(Buffer.from('this is not a JPEG at all'), 5);
    // A second bad frame in the same chunk makes no second ERROR.
    socket.emit('data', Buffer.concat([bad, bad]));
    const why = 'bad frame 5: not a whole JPEG (it must start with FF D8 and end with FF D9)';
    expect(socket.messages()).toEqual([{ type: 'error', code: ErrorCode.BadFrame, message: why }]);
    expect(socket.ended).toBe(true);
    expect(slot.current).toBeNull();
    expect(gone).toEqual([why]);
    expect(frames).toEqual([]);
    vi.advanceTimersByTime(999);
    expect(socket.destroyed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(socket.destroyed).toBe(true);
  });

  it('after an ERROR nothing the publisher still sends is taken or answered', async () => {
    vi.useFakeTimers();
    const good = await makeJpeg(32, 32);
    const { socket, frames } = setupPublisher();
    socket.emit('data', frameMsg(Buffer.from('not a JPEG'), 0));
    // Even while the ERROR is still being flushed (the socket writable yet).
    socket.writable = true;
    socket.emit('data', frameMsg(good, 1));
    expect(frames).toEqual([]);
    expect(socket.messages().map((m) => m.type)).toEqual(['error']);
  });

  it('a JPEG without a size, or larger than the stream allows, is a bad frame (counted as refused)', async () => {
    vi.useFakeTimers();
    const jpeg = await makeJpeg(64, 64);
    const noSize = setupPublisher();
    noSize.socket.emit('data', frameMsg(zeroHeight(jpeg), 3));
    expect(errorOf(noSize.socket.messages())).toEqual([
      {
        type: 'error',
        code: ErrorCode.BadFrame,
        message: 'bad frame 3: a JPEG without a readable size (no SOF segment)',
      },
    ]);
    const images = new ImageBound(32 * 32);
    const big = setupPublisher({ images });
    big.socket.emit('data', frameMsg(jpeg, 4));
    const [err] = errorOf(big.socket.messages());
    expect(err).toMatchObject({ code: ErrorCode.BadFrame });
    expect(err?.type === 'error' && err.message).toMatch(/^bad frame 4: image too large/);
    expect(images.refused).toBe(1);
    expect(big.frames).toEqual([]);
    expect(big.slot.current).toBeNull();
  });

  it('END is a clean goodbye: the slot is freed with its reason, no ERROR, the socket ends', async () => {
    vi.useFakeTimers();
    const jpeg = await makeJpeg(32, 32);
    const { socket, slot, gone, frames } = setupPublisher();
    socket.emit('data', Buffer.concat([frameMsg(jpeg, 0), encodeEnd('eof'), frameMsg(jpeg, 1)]));
    expect(frames).toHaveLength(1);
    expect(gone).toEqual(['the publisher ended (eof)']);
    expect(slot.current).toBeNull();
    expect(socket.messages().map((m) => m.type)).toEqual(['ack']);
    expect(socket.ended).toBe(true);
    vi.advanceTimersByTime(5000);
    expect(socket.destroyed).toBe(false);
  });

  it('any other message is an ERROR bad message', () => {
    vi.useFakeTimers();
    const { socket, gone } = setupPublisher();
    socket.emit('data', encodeAck(1));
    const why = 'a publisher sends FRAME and END messages only, not ack';
    expect(socket.messages()).toEqual([{ type: 'error', code: ErrorCode.BadMessage, message: why }]);
    expect(gone).toEqual([why]);
  });

  it('a declared frame length over the cap is a bad frame, from the header alone; other garbage a bad message', async () => {
    vi.useFakeTimers();
    const jpeg = await makeJpeg(32, 32);
    const big = setupPublisher({ maxFrameBytes: 100 });
    big.socket.emit(
      'data',
      encodeFrameHeader({ seq: 0, width: 0, height: 0, capturedAt: 0, encodedAt: 0, jpeg }, 0),
    );
    expect(errorOf(big.socket.messages())).toEqual([
      {
        type: 'error',
        code: ErrorCode.BadFrame,
        message: `frame length ${jpeg.length} bytes is over the limit of 100 bytes (--max-frame-size)`,
      },
    ]);
    const garbage = setupPublisher();
    // An envelope whose header is longer than any message allows.
    garbage.socket.emit('data', Buffer.from([4, 0, 0xff, 0xff, 0, 0, 0, 0]));
    expect(errorOf(garbage.socket.messages())).toEqual([
      { type: 'error', code: ErrorCode.BadMessage, message: 'message type 4 has a header of 65535 bytes' },
    ]);
  });

  it('takes frames up to 16 MiB by default', async () => {
    vi.useFakeTimers();
    const jpeg = await makeJpeg(32, 32);
    const { socket } = setupPublisher();
    const header = encodeFrameHeader({ seq: 0, width: 0, height: 0, capturedAt: 0, encodedAt: 0, jpeg }, 0);
    header.writeUInt32BE(MAX_PUBLISHED_FRAME_BYTES, 4);
    socket.emit('data', header);
    expect(socket.messages()).toEqual([]);
    expect(MAX_PUBLISHED_FRAME_BYTES).toBe(16 * 1024 * 1024);
  });

  it('the connection closing frees the slot; nothing is read after', async () => {
    const jpeg = await makeJpeg(32, 32);
    const { socket, slot, gone, frames } = setupPublisher();
    socket.emit('close');
    expect(gone).toEqual(['the connection closed']);
    expect(slot.current).toBeNull();
    socket.emit('data', frameMsg(jpeg, 0));
    expect(frames).toEqual([]);
    expect(socket.out).toEqual([]);
  });

  it('once evicted (the socket no longer writable) incoming frames are dropped unanswered', async () => {
    const jpeg = await makeJpeg(32, 32);
    const { socket, frames } = setupPublisher();
    socket.writable = false;
    socket.emit('data', frameMsg(jpeg, 0));
    expect(frames).toEqual([]);
    expect(socket.out).toEqual([]);
  });
});

describe('servePublisher: metadata (META before its FRAME)', () => {
  it('hands a frame the compact JSON of the META with its seq; a frame without one gets none', async () => {
    vi.useFakeTimers();
    const jpeg = await makeJpeg(32, 32);
    const { socket, frames } = setupPublisher({ metaMaxBytes: 100 });
    socket.emit(
      'data',
      Buffer.concat([metaMsg(3, '{ "a" : [1, 2] }'), frameMsg(jpeg, 3), frameMsg(jpeg, 4)]),
    );
    expect(frames.map((f) => f.meta?.toString() ?? null)).toEqual(['{"a":[1,2]}', null]);
    expect(socket.messages().map((m) => m.type)).toEqual(['ack', 'ack']);
  });

  it('a META for another seq is dropped at the next frame, not kept for a later one', async () => {
    vi.useFakeTimers();
    const jpeg = await makeJpeg(32, 32);
    const { socket, frames } = setupPublisher({ metaMaxBytes: 100 });
    socket.emit('data', Buffer.concat([metaMsg(5, '{"a":1}'), frameMsg(jpeg, 6), frameMsg(jpeg, 5)]));
    expect(frames.map((f) => f.meta)).toEqual([null, null]);
  });

  it('metadata that is not a JSON object, or over the cap, is ERROR bad metadata', () => {
    vi.useFakeTimers();
    const notJson = setupPublisher({ metaMaxBytes: 100 });
    notJson.socket.emit('data', metaMsg(3, '{nope'));
    const [err] = errorOf(notJson.socket.messages());
    expect(err).toMatchObject({ code: ErrorCode.BadMetadata });
    expect(err?.type === 'error' && err.message).toMatch(/^bad metadata of frame 3: metadata is not JSON: /);
    expect(notJson.slot.current).toBeNull();
    const big = setupPublisher({ metaMaxBytes: 10 });
    big.socket.emit('data', metaMsg(4, '{"t":"xxxxxxxx"}'));
    expect(errorOf(big.socket.messages())).toEqual([
      {
        type: 'error',
        code: ErrorCode.BadMetadata,
        message: 'bad metadata of frame 4: metadata of 16 bytes is over 10',
      },
    ]);
  });

  it('an annotation from a publisher, or META to a server that takes no metadata, is ERROR bad message', () => {
    vi.useFakeTimers();
    const annotation = setupPublisher({ metaMaxBytes: 100 });
    annotation.socket.emit('data', metaMsg(1, '{"a":1}', MetaKind.Annotation));
    expect(errorOf(annotation.socket.messages())).toEqual([
      {
        type: 'error',
        code: ErrorCode.BadMessage,
        message: 'a publisher sends FRAME, META (kind 1) and END messages only, not meta',
      },
    ]);
    const none = setupPublisher();
    none.socket.emit('data', metaMsg(1, '{"a":1}'));
    expect(errorOf(none.socket.messages())).toEqual([
      {
        type: 'error',
        code: ErrorCode.BadMessage,
        message: 'a publisher sends FRAME and END messages only, not meta',
      },
    ]);
  });
});

describe('tcpPublisherConnection', () => {
  const evicted = (reason: 'replaced' | 'removed' | 'idle'): FakeSocket => {
    const socket = new FakeSocket();
    const conn = tcpPublisherConnection(socket.net, '10.0.0.1:4000');
    expect([conn.address, conn.via]).toEqual(['10.0.0.1:4000', 'tcp']);
    conn.evict(reason);
    return socket;
  };

  it('says END kicked on a takeover, END removed when the stream went away, ERROR 14 when idle', () => {
    vi.useFakeTimers();
    expect(evicted('replaced').messages()).toEqual([
      { type: 'end', reason: 'kicked', message: 'another publisher took this stream over' },
    ]);
    expect(evicted('removed').messages()).toEqual([
      { type: 'end', reason: 'removed', message: 'the stream was removed or changed on the server' },
    ]);
    expect(evicted('idle').messages()).toEqual([
      { type: 'error', code: ErrorCode.PublisherIdle, message: PUBLISH_IDLE_REASON },
    ]);
  });

  it('closes the socket 1 s later, and writes nothing to one that is no longer writable', () => {
    vi.useFakeTimers();
    const socket = evicted('replaced');
    expect(socket.ended).toBe(true);
    vi.advanceTimersByTime(999);
    expect(socket.destroyed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(socket.destroyed).toBe(true);
    const closed = new FakeSocket();
    closed.writable = false;
    tcpPublisherConnection(closed.net, 'x').evict('idle');
    expect(closed.out).toEqual([]);
    expect(closed.ended).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(closed.destroyed).toBe(true);
  });
});
