import { describe, expect, it } from 'vitest';
import { edge } from '../../src/app/edge.js';
import { serve } from '../../src/index.js';
import { openMjpeg } from '../helpers/mjpeg.js';
import { startNats } from '../helpers/nats.js';
import { openWs } from '../http/support.js';
import { busRig, natsOrFail, seedViewer, sized, until, viewer } from './support.js';

const available = natsOrFail();

const rig = busRig();

describe.skipIf(!available)('NATS frame bus: every transport on two edges', () => {
  it("seed, native, MJPEG and WebSocket viewers on two edges get the origin's JPEGs", async () => {
    rig.nats = await startNats();
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: 'test', width: 320 }],
      bus: { url: rig.nats.url },
    });
    const sent = new Set<string>();
    rig.origin.on('frame', (f) => void sent.add(f.jpeg.toString('base64')));
    const fromOrigin = (jpeg: Buffer): boolean => sent.has(jpeg.toString('base64'));
    for (let i = 0; i < 2; i++)
      rig.edges.push(await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: 0 }));
    const viewers = rig.edges.map((e) => {
      const http = `127.0.0.1:${e.server.httpAddress()?.port}`;
      return {
        seed: seedViewer(e.server.address().port),
        native: viewer(e.server.address().port, 'cam'),
        mjpeg: openMjpeg(`http://${http}/streams/cam/stream.mjpg`, { keep: true }),
        ws: openWs(`ws://${http}/streams/cam/ws`, true),
      };
    });
    const enough = (): boolean =>
      viewers.every(
        (v) =>
          v.seed.jpegs.filter(fromOrigin).length >= 10 &&
          sized(v.native, 320).filter((f) => fromOrigin(f.jpeg)).length >= 10 &&
          v.mjpeg.parts.filter((p) => fromOrigin(p.body)).length >= 10 &&
          v.ws.frames.filter((f) => fromOrigin(f.jpeg)).length >= 10,
      );
    await until(enough, 20_000);
    for (const v of viewers) {
      // Nothing but the origin's bytes (and, before the first frame, the NO SIGNAL picture).
      expect(sized(v.native, 320).every((f) => fromOrigin(f.jpeg))).toBe(true);
      expect(v.ws.frames.filter((f) => f.width === 320).every((f) => fromOrigin(f.jpeg))).toBe(true);
      v.seed.close();
      v.native.close();
      v.mjpeg.close();
      v.ws.ws.close();
    }
    // One source on the origin served both edges: the bus is one viewer there.
    expect(rig.origin.streams.get('cam')?.hub.clientCount).toBe(1);
  }, 60_000);
});
