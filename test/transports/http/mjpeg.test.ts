/** MJPEG: the multipart bytes (multipart.ts), each frame's part (mjpegWire), and GET /stream.mjpg. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Frame } from '../../../src/hub/frame.js';
import {
  MAX_META_HEADER_BYTES,
  mjpegMetaWire,
  mjpegWire,
  serveMjpeg,
} from '../../../src/transports/http/mjpeg.js';
import {
  MJPEG_BOUNDARY,
  mjpegContentType,
  mjpegPart,
  mjpegPreamble,
} from '../../../src/transports/http/multipart.js';
import { FakeSub, setup } from '../../hub/fakes.js';
import { context, listen, request, stream, until } from './support.js';

// A test that waits for what a mutant broke fails within 3 s (mutation runs retry a failure twice).
vi.setConfig({ testTimeout: 3000 });

const jpeg = Buffer.from([0xff, 0xd8, 0x00, 0xe9, 0xff, 0xd9]);

function frame(meta: Buffer | null = null, seq = 7, capturedAt = 1_234_567.891): Frame {
  return new Frame({ seq, width: 4, height: 2, capturedAt, encodedAt: capturedAt + 3, jpeg, meta });
}

describe('multipart framing', () => {
  it('uses the boundary framecast-frame', () => {
    expect(MJPEG_BOUNDARY).toBe('framecast-frame');
    expect(mjpegContentType()).toBe('multipart/x-mixed-replace; boundary=framecast-frame');
    expect(mjpegContentType('b')).toBe('multipart/x-mixed-replace; boundary=b');
    expect(mjpegPreamble().toString('latin1')).toBe('--framecast-frame\r\n');
  });

  it('writes a boundary and header values byte for byte as latin1', () => {
    expect([...mjpegPreamble('bé')]).toEqual([...Buffer.from('--b\xe9\r\n', 'latin1')]);
    const part = mjpegPart(jpeg, { 'X-Meta': '{"a":"\xc3\xa9"}' }, 'q\xe9');
    const expected = Buffer.concat([
      Buffer.from(
        'Content-Type: image/jpeg\r\nContent-Length: 6\r\nX-Meta: {"a":"\xc3\xa9"}\r\n\r\n',
        'latin1',
      ),
      jpeg,
      Buffer.from('\r\n--q\xe9\r\n', 'latin1'),
    ]);
    expect(part.equals(expected)).toBe(true);
    expect(part.length).toBe(expected.length);
  });

  it('names the header it refuses', () => {
    expect(() => mjpegPart(jpeg, { 'X-Bad': 'a\nb' })).toThrow('invalid part header X-Bad');
    expect(() => mjpegPart(jpeg, { 'X-Bad\r': 'a' })).toThrow(TypeError);
  });
});

describe('mjpegWire and mjpegMetaWire', () => {
  it('one part with the capture time in seconds (6 decimals) and the seq; built once per frame', () => {
    const f = frame();
    const wire = mjpegWire(f);
    expect(wire.toString('latin1')).toBe(
      'Content-Type: image/jpeg\r\nContent-Length: 6\r\nX-Timestamp: 1234.567891\r\nX-Framecast-Seq: 7\r\n\r\n' +
        jpeg.toString('latin1') +
        '\r\n--framecast-frame\r\n',
    );
    expect(mjpegWire(f)).toBe(wire);
  });

  it('the meta part carries the metadata UTF-8 bytes as they are', () => {
    const meta = Buffer.from('{"label":"café"}', 'utf8');
    const f = frame(meta);
    const wire = mjpegMetaWire(f);
    const head = Buffer.concat([
      Buffer.from(
        'Content-Type: image/jpeg\r\nContent-Length: 6\r\nX-Timestamp: 1234.567891\r\nX-Framecast-Seq: 7\r\nX-Framecast-Meta: ',
        'latin1',
      ),
      meta,
      Buffer.from('\r\n\r\n', 'latin1'),
    ]);
    expect(wire.subarray(0, head.length).equals(head)).toBe(true);
    expect(wire.length).toBe(head.length + jpeg.length + '\r\n--framecast-frame\r\n'.length);
    expect(mjpegMetaWire(f)).toBe(wire);
    // The plain part of the same frame is another buffer, without the metadata.
    expect(mjpegWire(f).includes('X-Framecast-Meta')).toBe(false);
  });

  it('without metadata, or with more than MAX_META_HEADER_BYTES, the part is the plain one', () => {
    expect(MAX_META_HEADER_BYTES).toBe(8192);
    const none = frame();
    expect(mjpegMetaWire(none)).toBe(mjpegWire(none));
    const big = frame(Buffer.from(`{"a":"${'x'.repeat(MAX_META_HEADER_BYTES - 7)}"}`));
    expect(big.meta?.length).toBe(MAX_META_HEADER_BYTES + 1);
    expect(mjpegMetaWire(big)).toBe(mjpegWire(big));
    const edge = frame(Buffer.from(`{"a":"${'x'.repeat(MAX_META_HEADER_BYTES - 8)}"}`));
    expect(edge.meta?.length).toBe(MAX_META_HEADER_BYTES);
    expect(mjpegMetaWire(edge).includes('X-Framecast-Meta: {"a":"x')).toBe(true);
  });
});

describe('serveMjpeg', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
  });

  async function start(meta = false, cors: Record<string, string> = {}) {
    const fx = setup();
    const ctx = context(fx.hub, { cors });
    // Without `meta`, the default (no metadata in the parts) is what is tested.
    const srv = await listen((req, res) =>
      meta ? serveMjpeg(req, res, ctx, true) : serveMjpeg(req, res, ctx),
    );
    closers.push(srv.close);
    return { ...fx, ctx, port: srv.port };
  }

  it('answers 200 with the multipart type, no caching, no chunking, and the preamble', async () => {
    const { port, hub, ctx } = await start(false, { 'Access-Control-Allow-Origin': '*' });
    const s = await stream(port, '/stream.mjpg');
    expect(s.res.statusCode).toBe(200);
    expect(s.res.headers['content-type']).toBe('multipart/x-mixed-replace; boundary=framecast-frame');
    expect(s.res.headers['cache-control']).toBe(
      'no-store, no-cache, must-revalidate, proxy-revalidate, max-age=0',
    );
    expect(s.res.headers['pragma']).toBe('no-cache');
    expect(s.res.headers['connection']).toBe('close');
    expect(s.res.headers['x-accel-buffering']).toBe('no');
    expect(s.res.headers['access-control-allow-origin']).toBe('*');
    expect(s.res.headers['transfer-encoding']).toBeUndefined();
    await s.until((b) => b.length >= 19);
    expect(s.body().toString('latin1')).toBe('--framecast-frame\r\n');
    await until(() => hub.clients.length === 1);
    expect(ctx.clients).toHaveLength(1);
    expect(ctx.clients[0]?.protocol).toBe('mjpeg');
    expect(ctx.clients[0]?.address).toMatch(/^127\.0\.0\.1:\d+$/);
    s.close();
  });

  it('sends each frame as its part, and leaves the hub when the viewer goes', async () => {
    const { port, hub, current } = await start();
    const s = await stream(port, '/stream.mjpg');
    await until(() => hub.clients.length === 1);
    const f = new Frame({
      seq: 2,
      width: 8,
      height: 8,
      capturedAt: 5,
      encodedAt: 6,
      jpeg: Buffer.alloc(10),
      meta: Buffer.from('{"k":1}'),
    });
    current().emit('frame', f);
    // The plain part: no metadata without ?meta=1.
    const expected = Buffer.concat([mjpegPreamble(), mjpegWire(f)]);
    const body = await s.until((b) => b.length >= expected.length);
    expect(body.equals(expected)).toBe(true);
    s.close();
    await until(() => hub.clients.length === 0);
    expect(current().stopped).toBe(1);
  });

  it('with meta, parts carry the metadata', async () => {
    const { port, hub, current } = await start(true);
    const s = await stream(port, '/stream.mjpg?meta=1');
    await until(() => hub.clients.length === 1);
    const f = new Frame({
      seq: 3,
      width: 8,
      height: 8,
      capturedAt: 5,
      encodedAt: 6,
      jpeg: Buffer.alloc(10),
      meta: Buffer.from('{"k":1}'),
    });
    current().emit('frame', f);
    const body = await s.until((b) => b.includes('--framecast-frame\r\n', 20));
    expect(body.toString('latin1')).toContain('X-Framecast-Meta: {"k":1}\r\n');
    s.close();
  });

  it('HEAD: the head only, and no viewer joins', async () => {
    const { port, hub, ctx } = await start();
    const r = await request(port, '/stream.mjpg', { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe(mjpegContentType());
    expect(r.body.length).toBe(0);
    expect(hub.clients).toHaveLength(0);
    expect(ctx.clients).toHaveLength(0);
  });

  it('a full server refuses the viewer: the connection is cut and the refusal reported', async () => {
    const fx = setup({ maxClients: 1, maxWaiting: 0 });
    fx.hub.join(new FakeSub('first'));
    const ctx = context(fx.hub);
    const srv = await listen((req, res) => serveMjpeg(req, res, ctx));
    closers.push(srv.close);
    // The head may or may not get out before the connection is cut.
    await stream(srv.port, '/stream.mjpg').then(
      (s) => s.ended,
      () => undefined,
    );
    expect(ctx.refused).toHaveLength(1);
    expect(ctx.refused[0]?.[1]).toBe('server full');
    expect(ctx.clients).toHaveLength(0);
  });
});
