import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { edge } from '../../src/app/edge.js';
import { Subjects } from '../../src/bus/bus.js';
import { noSignalJpeg } from '../../src/encode/no-signal.js';
import { serve } from '../../src/index.js';
import { startNats } from '../helpers/nats.js';
import { runCli, spawnCli, startServe } from '../helpers/cli.js';
import { sleep, waitExit } from '../helpers/processes.js';
import { httpCamera, type HttpCamera } from '../reliability/support/http-camera.js';
import { busRig, natsOrFail, sized, until, viewer } from './support.js';

const available = natsOrFail();
const rig = busRig();
let camera: HttpCamera | null = null;
afterEach(async () => {
  await camera?.close();
  camera = null;
});

/** True when the origin encoded exactly these bytes. */
function sameAsSent(sent: Map<number, Buffer>, jpeg: Buffer): boolean {
  for (const s of sent.values()) if (s.equals(jpeg)) return true;
  return false;
}

describe.skipIf(!available)('NATS frame bus: origin and edges', () => {
  it("an edge serves the origin's streams; its viewers start the origin's source and get its JPEGs unchanged", async () => {
    rig.nats = await startNats();
    rig.origin = await serve({
      port: 0,
      streams: [
        { name: 'cam', source: 'test', width: 320 },
        { name: 'other', source: 'test', width: 160 },
      ],
      bus: { url: rig.nats.url },
    });
    const sent = new Map<number, Buffer>();
    rig.origin.on('frame', (f, stream) => stream === 'cam' && sent.set(f.seq, f.jpeg));
    const e = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: null });
    rig.edges.push(e);
    expect(
      e.server.streams
        .list()
        .map((s) => s.name)
        .sort(),
    ).toEqual(['cam', 'other']);
    // Nothing runs on the origin until someone watches somewhere.
    expect(rig.origin.streams.get('cam')?.hub.transmitting).toBe(false);
    const v = viewer(e.server.address().port, 'cam');
    await until(() => sized(v, 320).length >= 20);
    // The same bytes the origin encoded (no decode, no re-encode on the edge; the edge numbers its own seq).
    expect(sized(v, 320).every((f) => sameAsSent(sent, f.jpeg))).toBe(true);
    expect(rig.origin.streams.get('other')?.hub.transmitting).toBe(false);
    // Seed clients on the edge's main port get the default stream too.
    let seedBytes = 0;
    const seed = net.connect({ host: '127.0.0.1', port: e.server.address().port });
    seed.on('data', (d: Buffer) => (seedBytes += d.length));
    seed.on('error', () => {});
    await until(() => seedBytes > 20_000);
    seed.destroy();
    // The last edge viewer leaves: the origin stops the source a few seconds later.
    v.close();
    await until(() => rig.origin?.streams.get('cam')?.hub.transmitting === false, 8000);
  }, 40_000);

  it('nats-server restarted: edge viewers stay connected, see no-signal, then frames again', async () => {
    rig.nats = await startNats();
    rig.origin = await serve({
      port: 0,
      streams: [{ name: 'cam', source: 'test', width: 320 }],
      bus: { url: rig.nats.url },
    });
    const e = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: null, streams: ['cam'] });
    rig.edges.push(e);
    const v = viewer(e.server.address().port, 'cam');
    await until(() => sized(v, 320).length >= 5);
    const seen = v.statuses.length;
    // Down longer than the edge's 3 s of tolerated silence.
    const restarted = rig.nats.restart(4500);
    await until(() => v.statuses.slice(seen).includes(2), 10_000); // no signal while the bus is down
    await restarted;
    const before = sized(v, 320).length;
    await until(() => sized(v, 320).length >= before + 10, 20_000);
    expect(v.ended).toBeNull();
    v.close();
  }, 60_000);

  it("the origin's status: an edge's viewers see no-signal as soon as the origin says so (ended, or a peer's no-signal), then frames again", async () => {
    rig.nats = await startNats();
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: 'test', width: 320 }],
      bus: { url: rig.nats.url },
    });
    const e = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: null, streams: ['cam'] });
    rig.edges.push(e);
    const v = viewer(e.server.address().port, 'cam');
    await until(() => sized(v, 320).length >= 5);
    // The origin's transmission stopped ('q'): it says 'ended' and starts again for the edge within
    // 0.5 s, shorter than the 1.5 s of silence that would otherwise show no-signal.
    let seen = v.statuses.length;
    rig.origin.stopTransmission('cam');
    await until(() => v.statuses.slice(seen).includes(2), 5000);
    let before = sized(v, 320).length;
    await until(() => sized(v, 320).length >= before + 10, 10_000);
    // A status message alone, while frames flow: no-signal at once, the next frame brings them back.
    seen = v.statuses.length;
    const nc = await connect({ servers: rig.nats.url });
    nc.publish(new Subjects().status('cam'), JSON.stringify({ state: 'no-signal' }));
    await nc.flush();
    await until(() => v.statuses.slice(seen).includes(2), 5000);
    await nc.close();
    before = sized(v, 320).length;
    await until(() => sized(v, 320).length >= before + 10, 10_000);
    expect(v.ended).toBeNull();
    v.close();
  }, 60_000);

  it("a camera lost at the origin: the edge's viewers see no-signal, then its frames again", async () => {
    camera = await httpCamera();
    rig.nats = await startNats();
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: camera.url, width: 320, retryDelayMs: 200 }],
      bus: { url: rig.nats.url },
    });
    const e = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: null, streams: ['cam'] });
    rig.edges.push(e);
    const v = viewer(e.server.address().port, 'cam');
    await until(() => sized(v, 320).length >= 10, 15_000);
    const seen = v.statuses.length;
    await camera.unplug();
    // The origin keeps sending its NO SIGNAL picture (every second, under the edge's 1.5 s of tolerated
    // silence): only the origin's status message can put the edge's viewers in no-signal.
    await until(() => v.statuses.slice(seen).includes(2), 10_000);
    expect(rig.origin.streams.get('cam')?.hub.transmitting).toBe(true);
    // The NO SIGNAL picture reaches the edge's viewer too.
    const noSignal = await noSignalJpeg(320, 240, 80);
    await until(() => v.frames.some((f) => f.jpeg.equals(noSignal)), 5000);
    await camera.plugIn();
    const pictures = (): number => v.frames.filter((f) => !f.jpeg.equals(noSignal)).length;
    const before = pictures();
    await until(() => pictures() >= before + 10, 20_000);
    expect(v.ended).toBeNull();
    v.close();
  }, 60_000);

  it('an origin killed with SIGKILL: edge viewers see no-signal within 2 s; restarted, frames resume on the same connections', async () => {
    rig.nats = await startNats();
    const bus = rig.nats.url;
    const args = ['cam=test', '--width', '320', '--http-port', 'off', '--bus', bus];
    let o = await startServe(args);
    const e = await edge({ bus: { url: bus }, port: 0, httpPort: null, streams: ['cam'] });
    rig.edges.push(e);
    const v = viewer(e.server.address().port, 'cam');
    await until(() => sized(v, 320).length >= 10);
    const seen = v.statuses.length;
    o.child.kill('SIGKILL');
    const killedAt = Date.now();
    await until(() => v.statuses.slice(seen).includes(2), 5000);
    // The edge gives up on a silent origin after 1.5 s of silence: NO SIGNAL within 2 s of the kill,
    // as the README says (measured when the STATUS arrived, not when the poll saw it).
    const noSignalAt = v.statusAt[seen + v.statuses.slice(seen).indexOf(2)] as number;
    expect(noSignalAt - killedAt).toBeLessThan(2000);
    const before = sized(v, 320).length;
    o = await startServe(args);
    // The edge's demand starts the new origin's source: frames resume, nobody reconnected.
    await until(() => sized(v, 320).length >= before + 10, 15_000);
    expect(v.ended).toBeNull();
    v.close();
    await o.stop();
  }, 40_000);

  it('an edge that shuts down (its viewers get END shutdown): play --reconnect edge1,edge2 moves to the next edge and goes on', async () => {
    rig.nats = await startNats();
    rig.origin = await serve({
      port: 0,
      streams: [{ name: 'cam', source: 'test', width: 320 }],
      bus: { url: rig.nats.url },
    });
    const e1 = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: null, streams: ['cam'] });
    const e2 = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: null, streams: ['cam'] });
    rig.edges.push(e2);
    const both = `127.0.0.1:${e1.server.address().port}/cam,127.0.0.1:${e2.server.address().port}/cam`;
    const play = runCli(['play', both, '--reconnect', '--view', 'none', '--frames', '90', '--json']);
    await sleep(1500);
    await e1.close(); // its viewers get END shutdown
    const r = await play;
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as {
      frames: number;
      reconnects: number;
    };
    expect(summary.frames).toBe(90);
    expect(summary.reconnects).toBeGreaterThanOrEqual(1);
    // The frames after the switch came through the second edge.
    expect(e2.server.streams.get('cam')?.hub.totals.clientsServed).toBeGreaterThanOrEqual(1);
  }, 40_000);

  it('an edge killed with SIGKILL: play --reconnect edge1,edge2 moves to the next edge at once and goes on', async () => {
    rig.nats = await startNats();
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: 'test', width: 320 }],
      bus: { url: rig.nats.url },
    });
    const killed = spawnCli([
      ...['edge', '--bus', rig.nats.url, '--streams', 'cam', '--port', '0', '--http-port', 'off', '--json'],
    ]);
    let out = '';
    killed.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => /"event":"listening"/.test(out), 15_000);
    const port1 = Number(/"port":(\d+)/.exec(out)?.[1]);
    const e2 = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: null, streams: ['cam'] });
    rig.edges.push(e2);
    const both = `127.0.0.1:${port1}/cam,127.0.0.1:${e2.server.address().port}/cam`;
    const play = runCli(['play', both, '--reconnect', '--view', 'none', '--frames', '90', '--json']);
    // The first edge serves the player (its log says so), then dies without a word (no END).
    await until(() => /"event":"client"/.test(out), 15_000);
    await sleep(500);
    killed.kill('SIGKILL');
    expect((await waitExit(killed, 5000)).signal).toBe('SIGKILL');
    const r = await play;
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as {
      frames: number;
      reconnects: number;
      gapMs: number;
    };
    expect(summary.frames).toBe(90);
    expect(summary.reconnects).toBe(1);
    // The next edge is tried at once: well under a second without a connection.
    expect(summary.gapMs).toBeLessThan(1000);
    expect(e2.server.streams.get('cam')?.hub.totals.clientsServed).toBe(1);
  }, 60_000);

  it('frames larger than max_payload travel in parts and arrive whole', async () => {
    rig.nats = await startNats({ maxPayload: 8192 });
    rig.origin = await serve({
      port: 0,
      streams: [{ name: 'cam', source: 'test', width: 640, quality: 95 }],
      bus: { url: rig.nats.url },
    });
    const sent = new Map<number, Buffer>();
    rig.origin.on('frame', (f) => sent.set(f.seq, f.jpeg));
    const e = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: null, streams: ['cam'] });
    rig.edges.push(e);
    const v = viewer(e.server.address().port, 'cam');
    await until(() => sized(v, 640).length >= 10);
    const real = sized(v, 640);
    expect(real[0]?.jpeg.length).toBeGreaterThan(8192 * 3);
    expect(real.every((f) => sameAsSent(sent, f.jpeg))).toBe(true);
    v.close();
  }, 40_000);
});
