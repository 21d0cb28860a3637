import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { edge, type Edge } from '../../src/app/edge.js';
import { serve, type FramecastServer } from '../../src/index.js';
import { startNatsCluster, type NatsCluster } from '../helpers/nats.js';
import { killTracked } from '../helpers/processes.js';
import { natsOrFail, sized, until, viewer } from './support.js';

const available = natsOrFail();

let cluster: NatsCluster | null = null;
let origin: FramecastServer | null = null;
let e: Edge | null = null;
afterEach(async () => {
  await e?.close();
  e = null;
  await origin?.close();
  origin = null;
  await cluster?.stop();
  cluster = null;
});
afterAll(killTracked);

/** The longest time between two consecutive entries of `times` (ms). */
const maxGap = (times: number[]): number =>
  times.slice(1).reduce((m, t, i) => Math.max(m, t - (times[i] as number)), 0);

describe.skipIf(!available)('NATS frame bus on a three-node cluster', () => {
  it('killing the node an edge is on costs its viewers a gap of at most 2 s, on the same connection', async () => {
    cluster = await startNatsCluster(3);
    // The edge knows every node (nats.js tries them in random order): find out which one it is on.
    e = await edge({ bus: { url: cluster.url }, port: 0, httpPort: null, streams: ['cam'] });
    const edgeNode = cluster.nodes.find((n) => n.url.endsWith(`:${e?.bus.getServer().split(':').at(-1)}`));
    const originNode = cluster.nodes.find((n) => n !== edgeNode);
    if (!edgeNode || !originNode) throw new Error(`edge on ${e.bus.getServer()}, not a cluster node`);
    origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: 'test', width: 320 }],
      bus: { url: originNode.url },
    });
    const sent = new Set<string>();
    origin.on('frame', (f) => void sent.add(f.jpeg.subarray(-64).toString('hex')));
    const edgeNow = e;
    // The origin's announcement (across the cluster) tells the edge the stream has no token.
    await until(() => edgeNow.server.streams.get('cam')?.config.readTokenDigest === null);
    const v = viewer(edgeNow.server.address().port, 'cam');
    await until(() => sized(v, 320).length >= 30, 15_000);
    const killedAt = Date.now();
    const before = v.frames.length;
    await edgeNode.kill();
    await until(() => sized(v, 320).filter((f) => f.at > killedAt).length >= 60, 20_000);
    expect(v.ended).toBeNull();
    expect(edgeNow.bus.getServer()).not.toBe(edgeNode.url.replace('nats://', ''));
    // Only the origin's own frames count (a NO SIGNAL picture would hide the gap).
    const real = v.frames
      .slice(Math.max(0, before - 5))
      .filter((f) => sent.has(f.jpeg.subarray(-64).toString('hex')));
    expect(real.length).toBeGreaterThanOrEqual(60);
    const gap = maxGap(real.map((f) => f.at));
    if (process.env['FRAMECAST_BUS_GAP_LOG'])
      process.stderr.write(
        `cluster node loss: max gap ${gap} ms, edge on ${edgeNode.url} then ${edgeNow.bus.getServer()}\n`,
      );
    expect(gap).toBeLessThanOrEqual(2000);
    v.close();
  }, 60_000);
});
