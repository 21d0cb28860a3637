import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/index.js';
import { NativeParser, type NativeMessage } from '../../src/protocol/native-parser.js';
import {
  ErrorCode,
  HelloFlag,
  MetaKind,
  StatusCode,
  encodeHello,
  encodeMeta,
  encodeNativeFrame,
} from '../../src/protocol/native.js';
import { makeJpeg } from '../helpers/native.js';
import { sleep } from '../helpers/processes.js';

let server: FramecastServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

/** A native connection speaking the protocol byte by byte, recording what the server says and every byte. */
interface Raw {
  messages: NativeMessage[];
  bytes: Buffer[];
  closed: boolean;
  socket: net.Socket;
  until: (cond: (m: NativeMessage[]) => boolean, ms?: number) => Promise<void>;
}

function raw(port: number, stream: string, flags: number, token = '', version = 2): Raw {
  const parser = new NativeParser(1 << 24);
  const r: Raw = {
    messages: [],
    bytes: [],
    closed: false,
    socket: net.connect({ host: '127.0.0.1', port }),
    until: async (cond, ms = 8000) => {
      const end = Date.now() + ms;
      while (!cond(r.messages) && Date.now() < end) await sleep(20);
      expect(cond(r.messages)).toBe(true);
    },
  };
  r.socket.on('data', (c: Buffer) => {
    r.bytes.push(c);
    parser.push(c, (m) => r.messages.push(m));
  });
  r.socket.on('error', () => {});
  r.socket.on('close', () => (r.closed = true));
  r.socket.write(encodeHello(token, Date.now(), version, flags, version >= 2 ? stream : null));
  return r;
}

const frameMsg = (jpeg: Buffer, seq: number): Buffer =>
  encodeNativeFrame(
    { seq, width: 0, height: 0, capturedAt: Date.now(), encodedAt: Date.now(), jpeg },
    Date.now(),
  );
const metaMsg = (seq: number, value: unknown, kind: number = MetaKind.Metadata, name = ''): Buffer =>
  encodeMeta({ seq, kind, name, capturedAt: 0, json: Buffer.from(JSON.stringify(value)) });

type Meta = Extract<NativeMessage, { type: 'meta' }>;
type FrameM = Extract<NativeMessage, { type: 'frame' }>;
const metas = (m: NativeMessage[]): Meta[] => m.filter((x): x is Meta => x.type === 'meta');
const frames = (m: NativeMessage[]): FrameM[] => m.filter((x): x is FrameM => x.type === 'frame');

async function publisherServer(extra: Record<string, unknown> = {}): Promise<number> {
  server = await serve({
    port: 0,
    httpPort: null,
    streams: [{ name: 'cam', source: 'publisher', publishToken: 'pub-secret-1', ...extra }],
  });
  return server.address().port;
}

describe('per-frame metadata over the native protocol', () => {
  it("a publisher's metadata reaches a viewer that asked, just before its frame; others get today's bytes", async () => {
    const port = await publisherServer();
    const wants = raw(port, 'cam', HelloFlag.Meta);
    const plain = raw(port, 'cam', 0);
    await wants.until((m) => m.some((x) => x.type === 'welcome'));
    await plain.until((m) => m.some((x) => x.type === 'welcome'));
    const welcome = wants.messages.find((x) => x.type === 'welcome');
    expect(welcome?.type === 'welcome' && welcome.flags & HelloFlag.Meta).toBeTruthy();
    const pub = raw(port, 'cam', HelloFlag.Publish | HelloFlag.Meta, 'pub-secret-1');
    await pub.until((m) => m.some((x) => x.type === 'welcome'));
    const pw = pub.messages.find((x) => x.type === 'welcome');
    expect(pw?.type === 'welcome' && pw.flags).toBe(HelloFlag.Publish | HelloFlag.Meta);
    const jpegs = await Promise.all([1, 2, 3].map((i) => makeJpeg(160, 120, i)));
    for (const [i, j] of jpegs.entries()) {
      // Frame 1 carries no metadata: nothing is sent for it.
      if (i !== 1) pub.socket.write(metaMsg(i, { objects: [{ box: [i, 2, 3, 4], label: `bottle ${i}` }] }));
      pub.socket.write(frameMsg(j, i));
      await pub.until((m) => m.filter((x) => x.type === 'ack').length > i);
      await sleep(30);
    }
    const isOurs = (f: FrameM): boolean => jpegs.some((j) => j.equals(f.jpeg));
    await wants.until((m) => frames(m).filter(isOurs).length === 3);
    await plain.until((m) => frames(m).filter(isOurs).length === 3);
    // Each META comes right before the FRAME of the same seq, holding the publisher's JSON.
    const seen = wants.messages.filter((x) => x.type === 'meta' || (x.type === 'frame' && isOurs(x)));
    const order = seen.map((x) => (x.type === 'meta' ? `meta ${x.seq}` : `frame ${(x as FrameM).seq}`));
    const f0 = frames(seen)[0]?.seq as number;
    expect(order).toEqual([
      `meta ${f0}`,
      `frame ${f0}`,
      `frame ${f0 + 1}`,
      `meta ${f0 + 2}`,
      `frame ${f0 + 2}`,
    ]);
    const first = metas(seen)[0] as Meta;
    expect(first.kind).toBe(MetaKind.Metadata);
    expect(first.name).toBe('');
    expect(JSON.parse(first.json.toString())).toEqual({
      objects: [{ box: [0, 2, 3, 4], label: 'bottle 0' }],
    });
    // The viewer that did not ask got no META at all.
    expect(metas(plain.messages)).toEqual([]);
    for (const r of [wants, plain, pub]) r.socket.destroy();
  }, 30_000);

  it('bad metadata ends that publisher alone (ERROR 15); viewers go on', async () => {
    const port = await publisherServer({ maxMetaBytes: 100 });
    const v = raw(port, 'cam', HelloFlag.Meta);
    const pub = raw(port, 'cam', HelloFlag.Publish | HelloFlag.Meta, 'pub-secret-1');
    await pub.until((m) => m.some((x) => x.type === 'welcome'));
    pub.socket.write(metaMsg(0, { note: 'x'.repeat(200) }));
    await pub.until((m) => m.some((x) => x.type === 'error'));
    const err = pub.messages.find((x) => x.type === 'error');
    expect(err?.type === 'error' && err.code).toBe(ErrorCode.BadMetadata);
    expect(err?.type === 'error' && err.message).toMatch(/over 100/);
    // Not JSON, from the next publisher: the same.
    const next = raw(port, 'cam', HelloFlag.Publish | HelloFlag.Meta, 'pub-secret-1');
    await next.until((m) => m.some((x) => x.type === 'welcome'));
    next.socket.write(encodeMeta({ seq: 0, kind: 1, name: '', capturedAt: 0, json: Buffer.from('{nope') }));
    await next.until((m) => m.some((x) => x.type === 'error'));
    expect((next.messages.find((x) => x.type === 'error') as { message: string }).message).toMatch(
      /not JSON/,
    );
    // A publisher whose hello did not ask for metadata may not send it: ERROR 9, as before.
    const old = raw(port, 'cam', HelloFlag.Publish, 'pub-secret-1');
    await old.until((m) => m.some((x) => x.type === 'welcome'));
    const ow = old.messages.find((x) => x.type === 'welcome');
    expect(ow?.type === 'welcome' && ow.flags).toBe(HelloFlag.Publish);
    old.socket.write(metaMsg(0, { a: 1 }));
    await old.until((m) => m.some((x) => x.type === 'error'));
    expect((old.messages.find((x) => x.type === 'error') as { code: number }).code).toBe(
      ErrorCode.BadMessage,
    );
    expect(v.closed).toBe(false);
    v.socket.destroy();
  }, 30_000);
});

describe('annotations over the native protocol', () => {
  it("an analyzer's annotation of frame N reaches every viewer that asked, tagged N; a late joiner gets the newest", async () => {
    server = await serve({ port: 0, httpPort: null, source: 'test', width: 160, fps: 10 });
    const port = server.address().port;
    const viewerA = raw(port, 'default', HelloFlag.Annotations, '', 1);
    const plain = raw(port, 'default', 0, '', 1);
    const analyzer = raw(port, 'default', HelloFlag.Annotate, '', 1);
    await analyzer.until((m) => frames(m).length >= 2);
    const aw = analyzer.messages.find((x) => x.type === 'welcome');
    expect(aw?.type === 'welcome' && aw.flags & HelloFlag.Annotate).toBeTruthy();
    const target = frames(analyzer.messages)[1] as FrameM;
    analyzer.socket.write(
      metaMsg(target.seq, { objects: [{ box: [1, 2, 3, 4], label: 'car' }] }, MetaKind.Annotation, 'motion'),
    );
    await viewerA.until((m) => metas(m).length === 1);
    const got = metas(viewerA.messages)[0] as Meta;
    expect([got.kind, got.name, got.seq, got.capturedAt]).toEqual([
      MetaKind.Annotation,
      'motion',
      target.seq,
      target.capturedAt,
    ]);
    expect(JSON.parse(got.json.toString())).toEqual({ objects: [{ box: [1, 2, 3, 4], label: 'car' }] });
    // A late joiner gets the newest annotation at once.
    const late = raw(port, 'default', HelloFlag.Annotations, '', 1);
    await late.until((m) => metas(m).length === 1);
    expect((metas(late.messages)[0] as Meta).seq).toBe(target.seq);
    // A frame nobody saw: refused to the analyzer alone (STATUS 4, value 409); nobody else hears of it.
    analyzer.socket.write(metaMsg(target.seq + 100_000, { a: 1 }, MetaKind.Annotation, 'motion'));
    await analyzer.until((m) =>
      m.some((x) => x.type === 'status' && x.code === StatusCode.AnnotationRefused),
    );
    const st = analyzer.messages.find((x) => x.type === 'status' && x.code === StatusCode.AnnotationRefused);
    expect(st?.type === 'status' && st.value).toBe(409);
    await sleep(200);
    expect(metas(viewerA.messages)).toHaveLength(1);
    expect(metas(plain.messages)).toEqual([]);
    expect(analyzer.closed).toBe(false);
    for (const r of [viewerA, plain, analyzer, late]) r.socket.destroy();
  }, 30_000);

  it('annotating takes the annotateToken or the server token; a readToken is refused at the hello', async () => {
    server = await serve({
      port: 0,
      httpPort: null,
      streams: [
        { name: 'cam', source: 'test', width: 160, fps: 10, readToken: 'read-1', annotateToken: 'ann-1' },
      ],
    });
    const port = server.address().port;
    const reader = raw(port, 'cam', HelloFlag.Annotate, 'read-1');
    await reader.until((m) => m.some((x) => x.type === 'error'));
    expect((reader.messages.find((x) => x.type === 'error') as { code: number }).code).toBe(
      ErrorCode.TokenInvalid,
    );
    const analyzer = raw(port, 'cam', HelloFlag.Annotate, 'ann-1');
    await analyzer.until((m) => frames(m).length >= 1);
    // Without the Annotate flag, a META from a client is a bad message, as before.
    const viewer = raw(port, 'cam', 0, 'read-1');
    await viewer.until((m) => frames(m).length >= 1);
    const seq = (frames(viewer.messages)[0] as FrameM).seq;
    viewer.socket.write(metaMsg(seq, { a: 1 }, MetaKind.Annotation, 'x'));
    await viewer.until((m) => m.some((x) => x.type === 'error'));
    expect((viewer.messages.find((x) => x.type === 'error') as { code: number }).code).toBe(
      ErrorCode.BadMessage,
    );
    analyzer.socket.destroy();
  }, 30_000);
});
