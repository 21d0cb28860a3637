/**
 * The client side of per-frame metadata and annotations, against real servers on 127.0.0.1:0:
 * RemotePublisher's `meta` reaching a StreamClient's `frame.meta` on the frame it belongs to, a viewer
 * that did not ask getting the same frames without it, `annotate()` reaching another viewer's
 * `annotation` event tagged with the frame's seq, a refusal coming back as `annotation-refused`, and
 * what the library refuses before a byte is sent.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { HelloFlag, decodeHello, encodePreamble, encodeWelcome } from '../../src/protocol/native.js';
import {
  connect,
  publish,
  serve,
  StreamClient,
  type FrameAnnotation,
  type FramecastError,
  type FramecastServer,
  type RemotePublisher,
  type StreamFrame,
  type AnnotationRefusal,
} from '../../src/index.js';
import { fakeServer, type FakeServer } from '../helpers/net.js';
import { makeJpeg } from '../helpers/native.js';
import { sleep } from '../helpers/processes.js';

let server: FramecastServer | null = null;
let fake: FakeServer | null = null;
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  await server?.close();
  server = null;
  await fake?.close();
  fake = null;
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(10);
  expect(cond()).toBe(true);
}

/** A StreamClient on stream `cam` (or the default) collecting frames and annotations. */
function viewer(
  port: number,
  opts: ConstructorParameters<typeof StreamClient>[1],
  stream: string | null = 'cam',
): { client: StreamClient; frames: StreamFrame[]; annotations: FrameAnnotation[]; ready: () => boolean } {
  const client = new StreamClient({ host: '127.0.0.1', port, tls: false, stream }, opts);
  const v = { client, frames: [] as StreamFrame[], annotations: [] as FrameAnnotation[], ready: () => false };
  let welcomed = false;
  client.on('handshake', () => (welcomed = true));
  client.on('frame', (f) => v.frames.push(f));
  client.on('annotation', (a) => v.annotations.push(a));
  client.on('error', () => {});
  v.ready = () => welcomed;
  client.connect();
  closers.push(() => client.close());
  return v;
}

async function publisherServer(): Promise<number> {
  server = await serve({
    port: 0,
    httpPort: null,
    streams: [{ name: 'cam', source: 'publisher', publishToken: 'pub-secret-1' }],
  });
  return server.address().port;
}

function publisher(port: number): RemotePublisher {
  const p = publish(`127.0.0.1:${port}/cam`, { token: 'pub-secret-1', reconnect: false });
  p.on('error', () => {});
  closers.push(() => p.close());
  return p;
}

describe('per-frame metadata: RemotePublisher -> StreamClient', () => {
  it("each frame's metadata arrives as frame.meta of that frame; a viewer without `meta` gets the same frames with null", async () => {
    const port = await publisherServer();
    const wants = viewer(port, { protocol: 'native', meta: true });
    const plain = viewer(port, { protocol: 'native' });
    await until(() => wants.ready() && plain.ready());
    const pub = publisher(port);
    const jpegs = await Promise.all([1, 2, 3, 4].map((i) => makeJpeg(96, 64, i)));
    const metaOf = (i: number): unknown => (i === 1 ? undefined : { objects: [{ box: [i, 2, 3, 4] }], i });
    for (const [i, jpeg] of jpegs.entries()) {
      await pub.ready();
      // Frame 1 carries no metadata.
      expect(pub.publish(jpeg, { meta: metaOf(i) })).toBe(true);
      await until(() => pub.counts.accepted > i);
      await until(() => wants.frames.some((f) => f.jpeg.equals(jpeg)));
    }
    const ours = (v: typeof wants): StreamFrame[] =>
      v.frames.filter((f) => jpegs.some((j) => j.equals(f.jpeg)));
    await until(() => ours(plain).length === 4);
    const got = ours(wants);
    expect(got).toHaveLength(4);
    for (const f of got) {
      const i = jpegs.findIndex((j) => j.equals(f.jpeg));
      expect(f.meta).toEqual(metaOf(i) ?? null);
    }
    // The same frames, in the same order with the same seqs, and no metadata for a viewer that did not ask.
    expect(ours(plain).map((f) => f.seq)).toEqual(got.map((f) => f.seq));
    expect(ours(plain).map((f) => f.meta)).toEqual([null, null, null, null]);
  }, 30_000);

  it('metadata over the cap, not an object or too deep is refused locally with ERR_BAD_META; nothing is sent', async () => {
    const port = await publisherServer();
    const pub = publisher(port);
    await pub.ready();
    const jpeg = await makeJpeg(96, 64, 9);
    expect(() => pub.publish(jpeg, { meta: { note: 'x'.repeat(70_000) } })).toThrow(
      /metadata not sent: of \d+ bytes is over 65536/,
    );
    let deep: unknown = {};
    for (let i = 0; i < 40; i++) deep = { d: deep };
    for (const bad of [[1, 2], 'text', deep])
      expect(() => pub.publish(jpeg, { meta: bad })).toThrow(
        expect.objectContaining({ code: 'ERR_BAD_META' }),
      );
    await expect(
      pub.publishRaw(Buffer.alloc(8 * 8 * 3), { width: 8, height: 8 }, { meta: [] }),
    ).rejects.toMatchObject({ code: 'ERR_BAD_META' });
    expect(pub.counts.sent).toBe(0);
    // The publisher's own cap: smaller than the server's.
    const small = publish(`127.0.0.1:${port}/cam`, {
      token: 'pub-secret-1',
      reconnect: false,
      maxMetaBytes: 10,
    });
    closers.push(() => small.close());
    expect(() => small.publish(jpeg, { meta: { a: 'bcdefghijk' } })).toThrow(/over 10/);
    // The connection was never touched: a good frame with metadata still goes.
    expect(pub.publish(jpeg, { meta: { ok: true } })).toBe(true);
    await until(() => pub.counts.accepted === 1);
  }, 30_000);

  it("metadata over the stream's own maxMetaBytes: ERROR 15 ends the publisher with ERR_BAD_META, no retry", async () => {
    server = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: 'publisher', publishToken: 'pub-secret-1', maxMetaBytes: 100 }],
    });
    const pub = publish(`127.0.0.1:${server.address().port}/cam`, { token: 'pub-secret-1' });
    closers.push(() => pub.close());
    const errors: FramecastError[] = [];
    let reconnects = 0;
    pub.on('error', (e) => errors.push(e));
    pub.on('reconnecting', () => reconnects++);
    await pub.ready();
    expect(pub.publish(await makeJpeg(32, 32, 1), { meta: { note: 'x'.repeat(200) } })).toBe(true);
    await until(() => errors.length === 1);
    expect(errors[0]?.code).toBe('ERR_BAD_META');
    expect(errors[0]?.message).toMatch(/refused the publisher: bad metadata of frame 0: .*over 100/);
    expect(reconnects).toBe(0);
  }, 15_000);

  it('metadata to a server whose WELCOME did not echo the Meta bit is a clear ERR_INVALID_STATE', async () => {
    let helloFlags = -1;
    fake = await fakeServer((socket) => {
      let pending: Buffer | null = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        if (pending === null) return;
        pending = Buffer.concat([pending, chunk]);
        const hello = decodeHello(pending);
        if (hello.status !== 'ok') return;
        helloFlags = hello.hello.flags;
        pending = null;
        socket.write(Buffer.concat([encodePreamble(), encodeWelcome(0, 0, 'old', HelloFlag.Publish)]));
      });
    });
    const pub = publish(`127.0.0.1:${fake.port}/cam`, { reconnect: false });
    pub.on('error', () => {});
    closers.push(() => pub.close());
    await pub.ready();
    const jpeg = await makeJpeg(32, 32, 1);
    expect(() => pub.publish(jpeg, { meta: { a: 1 } })).toThrow(/takes no frame metadata/);
    expect(pub.publish(jpeg)).toBe(true);
    expect(helloFlags).toBe(HelloFlag.Publish | HelloFlag.Meta);
  }, 15_000);
});

describe('annotations: annotate() -> another viewer, refusals', () => {
  it("an analyzer's annotation of frame N reaches a viewer as an `annotation` event tagged N", async () => {
    server = await serve({ port: 0, httpPort: null, source: 'test', width: 160, fps: 10 });
    const port = server.address().port;
    const watcher = viewer(port, { protocol: 'native', annotations: true }, null);
    const plain = viewer(port, { protocol: 'native' }, null);
    const analyzer = connect(`127.0.0.1:${port}`, { protocol: 'native', annotate: true });
    closers.push(() => analyzer.close());
    const refusals: AnnotationRefusal[] = [];
    analyzer.onAnnotationRefused((r) => refusals.push(r));
    let n = 0;
    let target: StreamFrame | null = null;
    for await (const frame of analyzer) {
      if (++n < 3) continue;
      target = frame;
      analyzer.annotate(frame, 'motion', { objects: [{ box: [1, 2, 3, 4], label: 'motion', score: 0.5 }] });
      break;
    }
    const t = target as StreamFrame;
    await until(() => watcher.annotations.length === 1);
    const got = watcher.annotations[0] as FrameAnnotation;
    expect(got).toEqual({
      analyzer: 'motion',
      seq: t.seq,
      capturedAt: t.capturedAt,
      data: { objects: [{ box: [1, 2, 3, 4], label: 'motion', score: 0.5 }] },
    });
    // The viewer saw the frame it is tagged with, and keeps the analyzer's newest.
    expect(watcher.frames.some((f) => f.seq === t.seq && f.capturedAt === t.capturedAt)).toBe(true);
    expect(watcher.client.latestAnnotations.get('motion')).toEqual(got);
    expect(plain.annotations).toEqual([]);
    expect(refusals).toEqual([]);
  }, 30_000);

  it('a refused annotation comes back as `annotation-refused` (409) and the connection goes on', async () => {
    server = await serve({ port: 0, httpPort: null, source: 'test', width: 160, fps: 10 });
    const port = server.address().port;
    const analyzer = viewer(port, { protocol: 'native', annotate: true }, null);
    const refusals: AnnotationRefusal[] = [];
    analyzer.client.on('annotation-refused', (r) => refusals.push(r));
    await until(() => analyzer.frames.length >= 1);
    const seq = (analyzer.frames[0] as StreamFrame).seq;
    analyzer.client.annotate(seq + 100_000, 'motion', { objects: [] });
    await until(() => refusals.length === 1);
    expect(refusals[0]?.status).toBe(409);
    expect(refusals[0]?.message).toMatch(/annotation refused/);
    const before = analyzer.frames.length;
    await until(() => analyzer.frames.length > before + 1);
  }, 30_000);

  it('annotate() refuses locally: without the option, a bad name, too large; a viewer without `meta` has frame.meta null', async () => {
    server = await serve({ port: 0, httpPort: null, source: 'test', width: 160, fps: 10 });
    const port = server.address().port;
    const plain = viewer(port, { protocol: 'native' }, null);
    const analyzer = viewer(port, { protocol: 'native', annotate: true, maxMetaBytes: 100 }, null);
    await until(() => plain.frames.length >= 1 && analyzer.frames.length >= 1);
    const f = plain.frames[0] as StreamFrame;
    expect(f.meta).toBeNull();
    expect(() => plain.client.annotate(f, 'motion', {})).toThrow(
      /needs the client option \{ annotate: true \}/,
    );
    expect(() => analyzer.client.annotate(f, 'bad name!', {})).toThrow(/analyzer name "bad name!"/);
    expect(() => analyzer.client.annotate(f, 'motion', { x: 'y'.repeat(200) })).toThrow(
      /annotation not sent: of \d+ bytes is over 100/,
    );
    expect(() => analyzer.client.annotate(f, 'motion', [1])).toThrow(/must be a JSON object/);
  }, 30_000);
});
