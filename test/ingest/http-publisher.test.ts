/**
 * POST /streams/NAME/publish as serveHttpPublish answers it, driven with request and response
 * stand-ins: which images of a body reach the slot, and which status and text end it.
 */
import { EventEmitter } from 'node:events';
import type http from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { serveHttpPublish, type HttpPublishTarget } from '../../src/ingest/publish/http-publisher.js';
import {
  PUBLISH_IDLE_MS,
  PUBLISH_IDLE_REASON,
  PublisherSlot,
  type IngestFrame,
} from '../../src/ingest/publish/publisher-slot.js';
import { MAX_PUBLISHED_FRAME_BYTES } from '../../src/ingest/publish/tcp-publisher.js';
import { ImageBound } from '../../src/util/jpeg.js';
import { nowMs } from '../../src/util/clock.js';
import { makeJpeg } from '../helpers/native.js';

afterEach(() => {
  vi.useRealTimers();
});

class FakeRequest extends EventEmitter {
  destroyed = false;
  /** Without a Content-Type the body's own first boundary line (or none, concatenated JPEGs) decides. */
  readonly headers: Record<string, string> = {};
  destroy(): void {
    this.destroyed = true;
  }
}

class FakeResponse {
  headersSent = false;
  destroyed = false;
  status: number | null = null;
  headers: Record<string, unknown> | null = null;
  body: string | null = null;
  writeHead(status: number, headers: Record<string, unknown>): this {
    this.status = status;
    this.headers = headers;
    this.headersSent = true;
    return this;
  }
  end(body: Buffer): void {
    this.body = body.toString('utf8');
  }
}

const CORS = { 'Access-Control-Allow-Origin': '*' };

/** One POST to a publisher stream: its request and response, and what the slot saw. */
function post(
  slot: PublisherSlot | null = new PublisherSlot(false),
  opts: { contentType?: string; maxMetaBytes?: number } = {},
) {
  const req = new FakeRequest();
  if (opts.contentType) req.headers['content-type'] = opts.contentType;
  const res = new FakeResponse();
  const frames: IngestFrame[] = [];
  const gone: string[] = [];
  slot?.on('frame', (f) => frames.push(f));
  slot?.on('disconnected', (c, why) => gone.push(`${c.address} (${c.via}): ${why}`));
  const target: HttpPublishTarget = { name: 'cam', ingest: slot, maxMetaBytes: opts.maxMetaBytes ?? 65536 };
  serveHttpPublish(
    req as unknown as http.IncomingMessage,
    res as unknown as http.ServerResponse,
    target,
    '10.0.0.9:5555',
    CORS,
  );
  const send = (...chunks: Buffer[]): void => chunks.forEach((c) => req.emit('data', c));
  return { req, res, slot, frames, gone, send, answer: () => [res.status, res.body] };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** `jpeg` with the height in its SOF header set to 0 (a JPEG whose size cannot be read). */
function sizeless(jpeg: Buffer): Buffer {
  const out = Buffer.from(jpeg);
  out.writeUInt16BE(0, out.indexOf(Buffer.from([0xff, 0xc0])) + 5);
  return out;
}

describe('serveHttpPublish', () => {
  it('a stream that takes no publisher: 409 with the reason, as plain text that closes the connection', () => {
    const { res } = post(null);
    const text = 'stream cam takes no publisher (its source is not publisher)\n';
    expect(res.status).toBe(409);
    expect(res.body).toBe(text);
    expect(res.headers).toEqual({
      'Access-Control-Allow-Origin': '*',
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      Connection: 'close',
    });
  });

  it('a stream that already has a publisher: 409, and the holder keeps it', () => {
    const slot = new PublisherSlot(false);
    const holder = { address: 'holder', via: 'tcp', evict: vi.fn() };
    slot.claim(holder);
    const second = post(slot);
    expect(second.answer()).toEqual([409, 'stream cam already has a publisher\n']);
    expect(slot.current).toBe(holder);
    expect(holder.evict).not.toHaveBeenCalled();
  });

  it('passes each image of a multipart body to the slot as it came, cut anywhere; 200 with the count', async () => {
    vi.useFakeTimers();
    const [a, b] = [await makeJpeg(96, 64, 1), await makeJpeg(48, 32, 2)];
    const { req, res, slot, frames, gone, send } = post();
    expect(slot?.current?.address).toBe('10.0.0.9:5555');
    expect(slot?.current?.via).toBe('http');
    const part = (jpeg: Buffer): Buffer =>
      Buffer.concat([Buffer.from('--xx\r\nContent-Type: image/jpeg\r\n\r\n'), jpeg, Buffer.from('\r\n')]);
    const body = Buffer.concat([part(a), part(b), Buffer.from('--xx--\r\n')]);
    for (let i = 0; i < body.length; i += 1000) send(body.subarray(i, i + 1000));
    expect(res.status).toBeNull();
    const now = nowMs();
    expect(frames).toEqual([
      { jpeg: a, width: 96, height: 64, capturedAt: now, receivedAt: now, meta: null },
      { jpeg: b, width: 48, height: 32, capturedAt: now, receivedAt: now, meta: null },
    ]);
    req.emit('end');
    expect([res.status, res.body]).toEqual([200, '2 frames received\n']);
    expect(gone).toEqual(['10.0.0.9:5555 (http): 2 frames received']);
    expect(slot?.current).toBeNull();
    req.emit('close');
    expect(gone).toHaveLength(1);
    vi.runAllTimers();
    expect(req.destroyed).toBe(false);
  });

  it("takes the boundary from the request's Content-Type: a JSON part's metadata goes with the image after it", async () => {
    const jpeg = await makeJpeg(32, 32);
    // A quoted boundary with a space: the body's own first line could not name it.
    const { req, send, frames, answer } = post(undefined, { contentType: 'multipart/mixed; boundary="a b"' });
    send(
      Buffer.from('--a b\r\nContent-Type: application/json\r\n\r\n{ "k" : 1 }\r\n--a b\r\n\r\n'),
      jpeg,
      Buffer.from('\r\n--a b--\r\n'),
    );
    req.emit('end');
    expect(answer()).toEqual([200, '1 frames received\n']);
    expect(frames.map((f) => f.meta?.toString() ?? null)).toEqual(['{"k":1}']);
  });

  it("metadata over the stream's maxMetaBytes: 413; a refusal after frames says how many were delivered", async () => {
    const jpeg = await makeJpeg(32, 32);
    const json = '{"t":"0123456789"}';
    const big = post(undefined, { maxMetaBytes: 10 });
    big.send(
      Buffer.from(
        `--xx\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}\r\n`,
      ),
    );
    expect(big.answer()).toEqual([
      413,
      "metadata part 1: metadata of 18 bytes is over 10 bytes (the stream's maxMetaBytes)\n",
    ]);
    const late = post();
    late.send(jpeg, jpeg, Buffer.alloc(16 * 1024 + 1, 0x41));
    expect(late.frames).toHaveLength(2);
    expect(late.answer()).toEqual([
      400,
      'the published body is malformed: more than 16384 bytes between two JPEG images (after 2 frames)\n',
    ]);
  });

  it('an empty body sent nothing wrong: 200, 0 frames', () => {
    const { req, answer } = post();
    req.emit('end');
    expect(answer()).toEqual([200, '0 frames received\n']);
  });

  it('a body with bytes but no JPEG: 400 with the byte count', () => {
    const { req, send, answer } = post();
    send(Buffer.from('hello '), Buffer.from('world'));
    req.emit('end');
    expect(answer()).toEqual([400, 'the body holds no JPEG (11 bytes): each part must be an image/jpeg\n']);
  });

  it('a body that ends inside an image: 400, and nothing of that image is taken', async () => {
    const jpeg = await makeJpeg(32, 32);
    const { req, send, frames, answer } = post();
    send(jpeg, jpeg.subarray(0, 100));
    req.emit('end');
    expect(frames).toHaveLength(1);
    expect(answer()).toEqual([
      400,
      'the body ended inside an image (100 bytes of it): nothing of it was taken\n',
    ]);
  });

  it('an image without a readable size: 400 naming it, the publisher is cut, the rest is not read', async () => {
    const jpeg = await makeJpeg(32, 32);
    const { req, send, frames, gone, answer } = post();
    send(jpeg, sizeless(jpeg), jpeg);
    const why = 'bad frame 1: a JPEG without a readable size (no SOF segment)';
    expect(answer()).toEqual([400, `${why}\n`]);
    expect(frames).toHaveLength(1);
    expect(gone).toEqual([`10.0.0.9:5555 (http): ${why}`]);
    expect(req.destroyed).toBe(false);
    await tick();
    expect(req.destroyed).toBe(true);
    send(jpeg);
    req.emit('end');
    expect(frames).toHaveLength(1);
    expect(answer()).toEqual([400, `${why}\n`]);
  });

  it("an image over the stream's pixel bound: 413, counted as refused", async () => {
    const jpeg = await makeJpeg(64, 64);
    const slot = new PublisherSlot(false, new ImageBound(32 * 32));
    const { send, frames, answer } = post(slot);
    send(jpeg);
    expect(answer()[0]).toBe(413);
    expect(answer()[1]).toMatch(/^bad frame 0: image too large/);
    expect(frames).toEqual([]);
    expect(slot.images.refused).toBe(1);
  });

  it('the images after a refused one, in the same chunk, are not looked at: the refusal counts once', async () => {
    const jpeg = await makeJpeg(64, 64);
    const slot = new PublisherSlot(false, new ImageBound(32 * 32));
    const { send, answer } = post(slot);
    send(Buffer.concat([jpeg, jpeg, jpeg]));
    expect(answer()[1]).toMatch(/^bad frame 0: image too large/);
    expect(slot.images.refused).toBe(1);
  });

  it('an image over 16 MiB: 413', async () => {
    const jpeg = await makeJpeg(32, 32);
    const head = jpeg.subarray(0, jpeg.length - 2);
    const { send, answer } = post();
    send(head, Buffer.alloc(MAX_PUBLISHED_FRAME_BYTES + 1 - head.length, 0x11));
    expect(answer()).toEqual([413, 'a JPEG image in the published body exceeds 16777216 bytes\n']);
  });

  it('up to 16 KiB of text between images is skipped; more is 400', async () => {
    const jpeg = await makeJpeg(32, 32);
    const ok = post();
    ok.send(Buffer.alloc(16 * 1024, 0x41), jpeg);
    ok.req.emit('end');
    expect(ok.answer()).toEqual([200, '1 frames received\n']);
    const bad = post();
    bad.send(Buffer.alloc(16 * 1024 + 1, 0x41), jpeg);
    expect(bad.answer()).toEqual([
      400,
      'the published body is malformed: more than 16384 bytes between two JPEG images\n',
    ]);
  });

  it('taken over by another publisher: 409; the stream removed: 409; both stop reading the body', async () => {
    const jpeg = await makeJpeg(32, 32);
    const slot = new PublisherSlot(true);
    const first = post(slot);
    slot.claim({ address: 'newcomer', via: 'tcp', evict: () => {} });
    expect(first.answer()).toEqual([409, 'another publisher took this stream over\n']);
    first.send(jpeg);
    expect(first.frames).toEqual([]);
    await tick();
    expect(first.req.destroyed).toBe(true);

    const other = new PublisherSlot(false);
    const second = post(other);
    other.close();
    expect(second.answer()).toEqual([409, 'the stream was removed\n']);
  });

  it('no complete image for the idle time: 408 with the reason', async () => {
    vi.useFakeTimers();
    const jpeg = await makeJpeg(32, 32);
    const { send, answer, slot } = post();
    send(jpeg, jpeg.subarray(0, 50));
    vi.advanceTimersByTime(PUBLISH_IDLE_MS);
    expect(answer()).toEqual([408, `${PUBLISH_IDLE_REASON}\n`]);
    expect(slot?.current).toBeNull();
  });

  it('the connection closing mid-body frees the slot without an answer', async () => {
    const jpeg = await makeJpeg(32, 32);
    const { req, send, slot, gone, answer } = post();
    send(jpeg);
    req.emit('close');
    expect(gone).toEqual(['10.0.0.9:5555 (http): the connection closed']);
    expect(slot?.current).toBeNull();
    expect(answer()).toEqual([null, null]);
    // Late events change nothing.
    req.emit('end');
    expect(answer()).toEqual([null, null]);
    expect(gone).toHaveLength(1);
  });

  it('writes no answer on a response already answered or destroyed, yet frees the slot', () => {
    const a = post();
    a.res.destroyed = true;
    a.req.emit('end');
    expect(a.res.status).toBeNull();
    expect(a.slot?.current).toBeNull();
    const b = post();
    b.res.headersSent = true;
    b.req.emit('end');
    expect(b.res.status).toBeNull();
    expect(b.gone).toHaveLength(1);
  });
});
