import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { edge, type EdgeNotice } from '../../src/app/edge.js';
import { resolveStreamConfig } from '../../src/streams/stream-options.js';
import { serve } from '../../src/index.js';
import { startNats } from '../helpers/nats.js';
import { freePort } from '../helpers/net.js';
import { busRig, natsOrFail, seedViewer, sized, until, viewer } from './support.js';

// A stream's legacyPort on its origin is announced on the bus, and edges open it (the same port,
// none, or shifted by an offset); a port an edge cannot bind leaves the stream served without it.

const available = natsOrFail();

const rig = busRig();

/** True when `port` can be bound on 127.0.0.1 now. */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Two free ports, the lower first (an offset takes the origin's to the edge's). */
async function portPair(): Promise<[number, number]> {
  for (;;) {
    const [a, b] = [await freePort(), await freePort()];
    if (a !== b) return a < b ? [a, b] : [b, a];
  }
}

/** A free port p with p + shift free too. */
async function shiftedPair(shift: number): Promise<[number, number]> {
  for (;;) {
    const p = await freePort();
    if (p + shift <= 65535 && (await isFree(p + shift))) return [p, p + shift];
  }
}

/**
 * Origins and edges here share a bus secret: without one an edge keeps the seed port a stream was
 * first served with (a peer could flip it), and these tests follow an origin's port change.
 */
const SECRET = 'legacy-ports-bus-secret-0123';

/** An origin on the rig's bus with stream cam (test pattern, 320 wide) on seed-only port `legacyPort`. */
async function origin(legacyPort: number): Promise<Set<string>> {
  rig.nats = await startNats();
  rig.origin = await serve({
    port: 0,
    httpPort: null,
    streams: [{ name: 'cam', source: 'test', width: 320, legacyPort }],
    bus: { url: rig.nats.url, secret: SECRET },
  });
  const sent = new Set<string>();
  rig.origin.on('frame', (f) => void sent.add(f.jpeg.toString('base64')));
  return sent;
}

describe.skipIf(!available)('edge legacy ports', () => {
  it("+N: a seed client on the origin's port + N gets the origin's JPEGs; a changed port follows", async () => {
    const [p, q] = await portPair();
    const sent = await origin(p);
    const notices: EdgeNotice[] = [];
    const e = await edge({
      bus: { url: rig.nats!.url, secret: SECRET },
      port: 0,
      httpPort: null,
      legacyPorts: { offset: q - p },
      onNotice: (n) => notices.push(n),
    });
    rig.edges.push(e);
    expect(e.server.legacyAddress('cam')?.port).toBe(q);
    const seed = seedViewer(q);
    await until(() => seed.jpegs.filter((j) => sent.has(j.toString('base64'))).length >= 5, 15_000);
    seed.close();

    // The origin's port changes (a config reload): the edge restarts the stream on the new port + N.
    const [p2, q2] = await shiftedPair(q - p);
    const c = resolveStreamConfig('cam', { source: 'test', width: 320, legacyPort: p2 });
    expect((await rig.origin!.applyStreams([c])).restarted).toEqual(['cam']);
    await until(() => e.server.legacyAddress('cam')?.port === q2, 10_000);
    expect(await isFree(q)).toBe(true);
    const again = seedViewer(q2);
    await until(() => again.jpegs.filter((j) => sent.has(j.toString('base64'))).length >= 3, 15_000);
    again.close();
    expect(notices).toEqual([]);
  });

  it('off: no seed port opens on the edge', async () => {
    const [p] = await portPair();
    await origin(p);
    const notices: EdgeNotice[] = [];
    const e = await edge({
      bus: { url: rig.nats!.url, secret: SECRET },
      port: 0,
      httpPort: null,
      legacyPorts: 'off',
      onNotice: (n) => notices.push(n),
    });
    rig.edges.push(e);
    expect(e.server.streams.get('cam')?.config.legacyPort).toBeNull();
    expect(e.server.legacyAddress('cam')).toBeNull();
    expect(notices).toEqual([]);
  });

  it('a port in use: the edge serves the stream on its main port and says which port and why', async () => {
    const [p] = await portPair();
    const sent = await origin(p);
    const notices: EdgeNotice[] = [];
    // Beside its origin with the same port numbers: the origin holds p.
    const e = await edge({
      bus: { url: rig.nats!.url, secret: SECRET },
      port: 0,
      httpPort: null,
      onNotice: (n) => notices.push(n),
    });
    rig.edges.push(e);
    await until(() => notices.length > 0, 5000);
    expect(notices).toEqual([
      {
        kind: 'legacy-port',
        stream: 'cam',
        message: `stream cam: seed TCP port ${p} not opened: it is already in use; the stream is served without it`,
      },
    ]);
    expect(e.server.legacyAddress('cam')).toBeNull();
    const v = viewer(e.server.address().port, 'cam');
    await until(() => sized(v, 320).filter((f) => sent.has(f.jpeg.toString('base64'))).length >= 5, 15_000);
    v.close();
    // Announcements go on every 2 s: the notice is not repeated.
    await new Promise((r) => setTimeout(r, 2500));
    expect(notices).toHaveLength(1);
  });
});
