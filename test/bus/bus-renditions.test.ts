import { connect, type NatsConnection } from '@nats-io/transport-node';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { edge } from '../../src/app/edge.js';
import { Subjects } from '../../src/bus/bus.js';
import { serve } from '../../src/index.js';
import { jpegInfo } from '../../src/util/jpeg.js';
import { openMjpeg, type MjpegViewer } from '../helpers/mjpeg.js';
import { startNats } from '../helpers/nats.js';
import { busRig, natsOrFail, until } from './support.js';

// An edge's renditions: made on the edge from the origin's frames; the bus carries the main size only.

const available = natsOrFail();
const rig = busRig();
let raw: NatsConnection | null = null;
const viewers: MjpegViewer[] = [];
afterEach(async () => {
  for (const v of viewers.splice(0)) v.close();
  await raw?.close();
  raw = null;
});

interface StatsRendition {
  width: number;
  viewers: number;
  encoded: number;
}
const renditionsAt = async (httpPort: number): Promise<StatsRendition[]> =>
  (
    (await (await fetch(`http://127.0.0.1:${httpPort}/streams/cam/stats`)).json()) as {
      renditions: StatsRendition[];
    }
  ).renditions;

/** The JPEG in a bus frame message (the native FRAME message: envelope, header, then the JPEG). */
function jpegOf(message: Uint8Array): Buffer | null {
  const b = Buffer.from(message);
  const at = b.indexOf(Buffer.from([0xff, 0xd8, 0xff]));
  return at < 0 ? null : b.subarray(at);
}

describe.skipIf(!available)('NATS bus: renditions on an edge', () => {
  it("a viewer of the edge at width=320 gets 320-px frames made on the edge; the bus carries only the origin's 800-px frames", async () => {
    rig.nats = await startNats();
    raw = await connect({ servers: rig.nats.url });
    const busWidths: number[] = [];
    raw.subscribe(new Subjects().frame('cam'), {
      callback: (_e, m) => {
        const jpeg = jpegOf(m.data);
        busWidths.push(jpeg ? (jpegInfo(jpeg)?.width ?? -1) : -1);
      },
    });
    await raw.flush();
    rig.origin = await serve({
      port: 0,
      httpPort: 0,
      streams: [{ name: 'cam', source: 'test', width: 800 }],
      bus: { url: rig.nats.url },
    });
    const e = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: 0 });
    rig.edges.push(e);
    const edgeHttp = e.server.httpAddress()?.port as number;
    const small = openMjpeg(`http://127.0.0.1:${edgeHttp}/streams/cam/stream.mjpg?width=320`, { keep: true });
    viewers.push(small);
    const sized320 = (): Buffer[] => small.parts.map((p) => p.body).filter((b) => jpegInfo(b)?.width === 320);
    await until(() => sized320().length >= 15 && busWidths.length >= 15, 30_000);
    // Measured while the viewer watches: the edge runs the rendition, the origin none.
    const onEdge = await renditionsAt(edgeHttp);
    const onOrigin = await renditionsAt(rig.origin.httpAddress()?.port as number);
    small.close();

    // The viewer's frames, decoded: 320x180 pictures (NO SIGNAL, before the first frame, is no wider).
    const decoded = await Promise.all(
      sized320().map((b) => sharp(b).raw().toBuffer({ resolveWithObject: true })),
    );
    expect(new Set(decoded.map((d) => `${d.info.width}x${d.info.height}`))).toEqual(new Set(['320x180']));
    expect(decoded.every((d) => d.data.length === 320 * 180 * d.info.channels)).toBe(true);
    expect(small.parts.every((p) => (jpegInfo(p.body)?.width ?? 0) <= 320)).toBe(true);
    // The bus: every frame message holds an 800x450 JPEG, none of another size.
    expect(new Set(busWidths)).toEqual(new Set([800]));
    expect(onEdge.map((r) => `${r.width}/${r.viewers}`)).toEqual(['320/1']);
    expect(onEdge[0]?.encoded).toBeGreaterThanOrEqual(10);
    expect(onOrigin).toEqual([]);
  }, 60_000);
});
