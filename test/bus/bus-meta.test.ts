import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { edge } from '../../src/app/edge.js';
import { serve } from '../../src/index.js';
import { NativeParser, type NativeMessage } from '../../src/protocol/native-parser.js';
import {
  HelloFlag,
  MetaKind,
  encodeHello,
  encodeMeta,
  encodeNativeFrame,
} from '../../src/protocol/native.js';
import { startNats } from '../helpers/nats.js';
import { makeJpeg } from '../helpers/native.js';
import { sleep } from '../helpers/processes.js';
import { busRig, natsOrFail, until } from './support.js';

// Metadata and annotations cross the bus: a publisher's metadata at the origin and an analyzer's
// annotation at the origin reach a viewer at an edge, on the right frame.

const available = natsOrFail();
const rig = busRig();

interface Raw {
  messages: NativeMessage[];
  socket: net.Socket;
}

function raw(port: number, stream: string, flags: number, token = ''): Raw {
  const parser = new NativeParser(1 << 24);
  const r: Raw = { messages: [], socket: net.connect({ host: '127.0.0.1', port }) };
  r.socket.on('data', (c: Buffer) => parser.push(c, (m) => r.messages.push(m)));
  r.socket.on('error', () => {});
  r.socket.write(encodeHello(token, Date.now(), 2, flags, stream));
  return r;
}

type Meta = Extract<NativeMessage, { type: 'meta' }>;
type FrameM = Extract<NativeMessage, { type: 'frame' }>;
const metas = (m: NativeMessage[], kind: number): Meta[] =>
  m.filter((x): x is Meta => x.type === 'meta' && x.kind === kind);
const frames = (m: NativeMessage[]): FrameM[] => m.filter((x): x is FrameM => x.type === 'frame');

describe.skipIf(!available)('metadata and annotations over the bus', () => {
  it("an edge viewer gets the publisher's metadata before its frame and the origin's annotations, by capture time", async () => {
    rig.nats = await startNats();
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: 'publisher', publishToken: 'pub-secret-1' }],
      bus: { url: rig.nats.url },
    });
    const e = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: null, streams: ['cam'] });
    rig.edges.push(e);
    const originPort = rig.origin.address().port;
    const atEdge = raw(e.server.address().port, 'cam', HelloFlag.Meta | HelloFlag.Annotations);
    // Demand reaches the origin: its hub must run before the publisher's frames count.
    await until(() => rig.origin?.streams.get('cam')?.hub.transmitting === true, 15_000);
    const pub = raw(originPort, 'cam', HelloFlag.Publish | HelloFlag.Meta, 'pub-secret-1');
    const analyzer = raw(originPort, 'cam', HelloFlag.Annotate);
    await until(() => pub.messages.some((m) => m.type === 'welcome'));
    const jpegs = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => makeJpeg(160, 120, i)));
    for (const [i, j] of jpegs.entries()) {
      pub.socket.write(
        encodeMeta({
          seq: i,
          kind: MetaKind.Metadata,
          name: '',
          capturedAt: 0,
          json: Buffer.from(`{"i":${i}}`),
        }),
      );
      pub.socket.write(
        encodeNativeFrame(
          { seq: i, width: 0, height: 0, capturedAt: Date.now(), encodedAt: Date.now(), jpeg: j },
          Date.now(),
        ),
      );
      await sleep(100);
    }
    const ours = (f: FrameM): number => jpegs.findIndex((j) => j.equals(f.jpeg));
    await until(() => frames(atEdge.messages).filter((f) => ours(f) >= 0).length >= 3, 15_000);
    // Each of our frames at the edge came right after the META holding its own metadata.
    for (const [k, m] of atEdge.messages.entries()) {
      if (m.type !== 'frame' || ours(m) < 0) continue;
      const before = atEdge.messages[k - 1];
      expect(before?.type === 'meta' && before.kind === MetaKind.Metadata && before.seq === m.seq).toBe(true);
      expect(JSON.parse((before as Meta).json.toString())).toEqual({ i: ours(m) });
    }
    // The analyzer at the origin annotates the last frame it saw; the edge viewer gets it, tagged
    // with the edge's seq of the same frame (matched by capture time).
    await until(() => frames(analyzer.messages).some((f) => ours(f) === 5), 15_000);
    const seen = frames(analyzer.messages).find((f) => ours(f) === 5) as FrameM;
    analyzer.socket.write(
      encodeMeta({
        seq: seen.seq,
        kind: MetaKind.Annotation,
        name: 'motion',
        capturedAt: 0,
        json: Buffer.from('{"objects":[]}'),
      }),
    );
    await until(() => metas(atEdge.messages, MetaKind.Annotation).length >= 1, 10_000);
    const a = metas(atEdge.messages, MetaKind.Annotation)[0] as Meta;
    const edgeFrame = frames(atEdge.messages).find((f) => ours(f) === 5) as FrameM;
    expect([a.name, a.capturedAt, a.seq]).toEqual(['motion', seen.capturedAt, edgeFrame.seq]);
    for (const r of [pub, analyzer, atEdge]) r.socket.destroy();
  }, 60_000);
});
