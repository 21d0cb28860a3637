/**
 * Per-frame metadata over HTTP: an application/json part before an image part of a published body
 * reaches native viewers (hello flag Meta), WebSocket viewers (?meta=1) and MJPEG viewers (?meta=1)
 * tagged with that frame's seq; viewers that did not ask get exactly the bytes they always got.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/index.js';
import { NativeParser, type NativeMessage } from '../../src/protocol/native-parser.js';
import { HelloFlag, MetaKind, encodeHello } from '../../src/protocol/native.js';
import { httpBase, until } from '../http/support.js';
import { openMjpeg } from '../helpers/mjpeg.js';
import { makeJpeg } from '../helpers/native.js';
import { frameJpeg, frameSeq, openPost, part, recordWs, texts } from './http-support.js';

let server: FramecastServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const TOKEN = 'pub-secret-1';

async function publisherServer(maxMetaBytes?: number): Promise<string> {
  server = await serve({
    port: 0,
    httpPort: 0,
    streams: [
      { name: 'cam', source: 'publisher', publishToken: TOKEN, ...(maxMetaBytes ? { maxMetaBytes } : {}) },
    ],
  });
  return httpBase(server);
}

function nativeViewer(port: number, flags: number): { messages: NativeMessage[]; socket: net.Socket } {
  const parser = new NativeParser(1 << 24);
  const v = { messages: [] as NativeMessage[], socket: net.connect({ host: '127.0.0.1', port }) };
  v.socket.on('data', (c: Buffer) => parser.push(c, (m) => v.messages.push(m)));
  v.socket.on('error', () => {});
  v.socket.write(encodeHello('', Date.now(), 2, flags, 'cam'));
  return v;
}

describe('metadata published over HTTP', () => {
  it('reaches native and WebSocket viewers that asked, just before its frame and tagged with its seq', async () => {
    const base = await publisherServer();
    const port = server!.address().port;
    const native = nativeViewer(port, HelloFlag.Meta);
    const wsMeta = recordWs(`${base.replace('http', 'ws')}/streams/cam/ws?meta=1`);
    const wsPlain = recordWs(`${base.replace('http', 'ws')}/streams/cam/ws`);
    await Promise.all([wsMeta.opened, wsPlain.opened]);
    await until(() => native.messages.some((m) => m.type === 'welcome'));
    const jpegs = await Promise.all([0, 1, 2].map((i) => makeJpeg(160, 120, 10 + i)));
    const metas = [{ objects: [{ box: [1, 2, 3, 4], label: 'bottle', score: 0.9 }] }, null, { n: 'été ✓' }];
    // No Content-Type on the request: the boundary is learned from the body (as ffmpeg sends it).
    const post = openPost(`${base}/streams/cam/publish?token=${TOKEN}`);
    const isOurs = (j: Buffer): boolean => jpegs.some((x) => x.equals(j));
    for (const [i, jpeg] of jpegs.entries()) {
      const meta = metas[i];
      // Frame 0's metadata has a Content-Length, frame 2's has none (read up to the boundary).
      if (meta) post.write(part('application/json', Buffer.from(JSON.stringify(meta)), 'fc', i === 0));
      post.write(part('image/jpeg', jpeg, 'fc'));
      // One frame at a time: latest frame wins would otherwise drop some for the viewers.
      await until(
        () => wsPlain.messages.filter((m) => 'binary' in m && jpeg.equals(frameJpeg(m.binary))).length === 1,
      );
      await until(
        () => wsMeta.messages.filter((m) => 'binary' in m && jpeg.equals(frameJpeg(m.binary))).length === 1,
      );
    }
    post.write(Buffer.from('--fc--\r\n'));
    post.end();
    expect(await post.done).toEqual({ status: 200, text: '3 frames received\n' });

    // WebSocket ?meta=1: {"type":"meta","seq":N,...} right before the binary frame N.
    const seen = wsMeta.messages.filter((m) => 'text' in m || isOurs(frameJpeg(m.binary)));
    const order = seen.map((m) =>
      'text' in m ? `meta ${String(m.text.seq)}` : `frame ${frameSeq(m.binary)}`,
    );
    const f0 = frameSeq((seen.find((m) => 'binary' in m) as { binary: Buffer }).binary);
    expect(order).toEqual([
      `meta ${f0}`,
      `frame ${f0}`,
      `frame ${f0 + 1}`,
      `meta ${f0 + 2}`,
      `frame ${f0 + 2}`,
    ]);
    const wsTexts = texts(wsMeta);
    expect(wsTexts[0]).toMatchObject({ type: 'meta', seq: f0, data: metas[0] });
    expect(wsTexts[1]).toMatchObject({ type: 'meta', seq: f0 + 2, data: metas[2] });
    expect(typeof wsTexts[0]?.capturedAt).toBe('number');
    // Without ?meta=1: binary frames only, each exactly the native FRAME message (40 bytes + JPEG).
    expect(texts(wsPlain)).toEqual([]);
    for (const m of wsPlain.messages)
      if ('binary' in m)
        expect([m.binary.readUInt16BE(2), m.binary.length - frameJpeg(m.binary).length]).toEqual([32, 40]);

    // Native viewer with the Meta flag: META (kind 1) before each FRAME with metadata.
    await until(() => native.messages.filter((m) => m.type === 'frame' && isOurs(m.jpeg)).length === 3);
    const nat = native.messages.filter((m) => m.type === 'meta' || (m.type === 'frame' && isOurs(m.jpeg)));
    expect(
      nat.map((m) => (m.type === 'meta' ? `meta ${m.seq}` : `frame ${(m as { seq: number }).seq}`)),
    ).toEqual(order);
    const m0 = nat[0] as Extract<NativeMessage, { type: 'meta' }>;
    expect([m0.kind, JSON.parse(m0.json.toString())]).toEqual([MetaKind.Metadata, metas[0]]);
    for (const s of [wsMeta.ws, wsPlain.ws]) s.close();
    native.socket.destroy();
  }, 30_000);

  it('MJPEG: X-Framecast-Meta only with ?meta=1 and only up to 8 KiB; parts without it are unchanged', async () => {
    const base = await publisherServer();
    const plain = openMjpeg(`${base}/streams/cam/stream.mjpg`, { keep: true });
    const withMeta = openMjpeg(`${base}/streams/cam/stream.mjpg?meta=1`, { keep: true });
    await Promise.all([plain.headers, withMeta.headers]);
    const jpegs = await Promise.all([0, 1].map((i) => makeJpeg(96, 64, 30 + i)));
    const small = { label: 'bottle ✓' };
    const big = { pad: 'x'.repeat(9000) };
    const post = openPost(`${base}/streams/cam/publish?token=${TOKEN}`, {
      'Content-Type': 'multipart/x-mixed-replace; boundary=b1',
    });
    for (const [i, jpeg] of jpegs.entries()) {
      post.write(part('application/json', Buffer.from(JSON.stringify(i === 0 ? small : big)), 'b1'));
      post.write(part('image/jpeg', jpeg, 'b1'));
      await until(() => withMeta.parts.some((p) => p.body.equals(jpeg)));
      await until(() => plain.parts.some((p) => p.body.equals(jpeg)));
    }
    post.end();
    expect((await post.done).status).toBe(200);
    const find = (v: typeof plain, j: Buffer) => v.parts.find((p) => p.body.equals(j));
    const first = find(withMeta, jpegs[0] as Buffer);
    // The header holds the JSON's UTF-8 bytes (the reader decoded them as latin1).
    expect(
      JSON.parse(Buffer.from(first?.headers['x-framecast-meta'] ?? '', 'latin1').toString('utf8')),
    ).toEqual(small);
    // Over 8 KiB: left out.
    expect(find(withMeta, jpegs[1] as Buffer)?.headers['x-framecast-meta']).toBeUndefined();
    // Without ?meta=1: exactly today's part headers.
    for (const j of jpegs)
      expect(Object.keys(find(plain, j)?.headers ?? {})).toEqual([
        'content-type',
        'content-length',
        'x-timestamp',
        'x-framecast-seq',
      ]);
    plain.close();
    withMeta.close();
  }, 30_000);

  it('bad metadata stops the body (413 over maxMetaBytes, 400 not JSON); frames before it were delivered', async () => {
    const base = await publisherServer(200);
    let delivered = 0;
    server!.streams.get('cam')?.ingest?.on('frame', () => delivered++);
    const jpeg = await makeJpeg(64, 48, 3);
    const send = async (parts: Buffer[]): Promise<{ status: number; text: string }> => {
      const r = await fetch(`${base}/streams/cam/publish?token=${TOKEN}`, {
        method: 'POST',
        headers: { 'Content-Type': 'multipart/x-mixed-replace; boundary=zz' },
        body: Buffer.concat(parts),
      });
      return { status: r.status, text: await r.text() };
    };
    const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
    const img = part('image/jpeg', jpeg, 'zz');
    // Declared too large: refused from its headers.
    const declared = await send([img, part('application/json', json({ p: 'x'.repeat(300) }), 'zz'), img]);
    expect(declared.status).toBe(413);
    expect(declared.text).toMatch(
      /^metadata part 2: metadata of 308 bytes is over 200 bytes.*\(after 1 frames\)$/m,
    );
    // Too large without a Content-Length: refused once it passes the cap.
    const long = await send([
      img,
      img,
      part('application/json', json({ p: 'x'.repeat(5000) }), 'zz', false),
      img,
    ]);
    expect(long.status).toBe(413);
    expect(long.text).toMatch(/over 200 bytes .*\(after 2 frames\)/);
    const bad = await send([img, part('application/json', Buffer.from('{nope'), 'zz'), img]);
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/metadata part 2: metadata is not JSON/);
    const array = await send([part('application/json', json([1, 2]), 'zz', false), img]);
    expect(array.status).toBe(400);
    expect(array.text).toMatch(/must be a JSON object/);
    expect(delivered).toBe(4);
  }, 30_000);

  it('a JSON part may be larger than the 16 KiB allowed for part headers, up to maxMetaBytes', async () => {
    const base = await publisherServer();
    const jpeg = await makeJpeg(64, 48, 4);
    const meta = Buffer.from(JSON.stringify({ pad: 'y'.repeat(40_000) }));
    const r = await fetch(`${base}/streams/cam/publish?token=${TOKEN}`, {
      method: 'POST',
      body: Buffer.concat([part('application/json', meta, 'q', false), part('image/jpeg', jpeg, 'q')]),
    });
    expect([r.status, await r.text()]).toEqual([200, '1 frames received\n']);
    expect(server!.streams.get('cam')?.ingest?.last?.meta?.equals(meta)).toBe(true);
  }, 30_000);
});
