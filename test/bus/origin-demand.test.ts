import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { edge, type Edge } from '../../src/app/edge.js';
import { Subjects } from '../../src/bus/bus.js';
import { serve, type FramecastServer } from '../../src/index.js';
import { makeClip } from '../helpers/fixtures.js';
import { startNats, type NatsServer } from '../helpers/nats.js';
import { killTracked, sleep } from '../helpers/processes.js';
import { natsOrFail, sized, until, viewer, type Viewer } from './support.js';

// The origin's side of the bus: which demand it takes, how it serves edges around local limits and
// ends of transmission, and what it publishes while the bus is down.

const available = natsOrFail();
const subjects = new Subjects();

let nats: NatsServer | null = null;
let origin: FramecastServer | null = null;
let raw: NatsConnection | null = null;
const edges: Edge[] = [];
const viewers: Viewer[] = [];
afterEach(async () => {
  for (const v of viewers.splice(0)) v.close();
  for (const e of edges.splice(0)) await e.close();
  await raw?.close();
  raw = null;
  await origin?.close();
  origin = null;
  await nats?.stop();
  nats = null;
});
afterAll(killTracked);

function watch(port: number, stream: string): Viewer {
  const v = viewer(port, stream);
  viewers.push(v);
  return v;
}

async function startEdge(streams: string[]): Promise<Edge> {
  const e = await edge({ bus: { url: (nats as NatsServer).url }, port: 0, httpPort: null, streams });
  edges.push(e);
  return e;
}

describe.skipIf(!available)('NATS bus, origin side', () => {
  it("a dotted stream name (cam.1) reaches the origin's demand and its frames reach the edge; cam stays off", async () => {
    nats = await startNats();
    raw = await connect({ servers: nats.url });
    const announced: string[][] = [];
    raw.subscribe(subjects.streams, {
      callback: (_e, m) =>
        void announced.push(
          (JSON.parse(new TextDecoder().decode(m.data)) as { streams: { name: string }[] }).streams.map(
            (s) => s.name,
          ),
        ),
    });
    await raw.flush();
    origin = await serve({
      port: 0,
      httpPort: null,
      streams: [
        { name: 'cam.1', source: 'test', width: 320 },
        { name: 'cam', source: 'test', width: 160 },
        // Valid stream names, but not NATS subject tokens: not announced.
        { name: 'odd..name', source: 'test' },
        { name: 'odd.', source: 'test' },
      ],
      bus: { url: nats.url },
    });
    const e = await startEdge(['cam.1']);
    const v = watch(e.server.address().port, 'cam.1');
    await until(() => sized(v, 320).length >= 10);
    expect(origin.streams.get('cam')?.hub.transmitting).toBe(false);
    expect(announced.length).toBeGreaterThan(0);
    for (const names of announced) expect(names.sort()).toEqual(['cam', 'cam.1']);
  }, 30_000);

  it('the bus is served outside maxClients: a full origin stream still feeds the edge, local viewers still wait in line', async () => {
    nats = await startNats();
    origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: 'test', width: 320, maxClients: 1 }],
      bus: { url: nats.url },
    });
    const hub = origin.streams.get('cam')?.hub;
    const local = watch(origin.address().port, 'cam');
    await until(() => sized(local, 320).length >= 3);
    const e = await startEdge(['cam']);
    const v = watch(e.server.address().port, 'cam');
    await until(() => sized(v, 320).length >= 10);
    // The bus took no place: a second local viewer waits, as it would without edges.
    const second = watch(origin.address().port, 'cam');
    await until(() => hub?.waitingCount === 1);
    expect(second.frames.length).toBe(0);
    expect(hub?.clients.map((c) => c.protocol).sort()).toEqual(['bus', 'native']);
    // The local viewer leaves: the waiting one gets its place, the bus goes on.
    local.close();
    await until(() => sized(second, 320).length >= 3);
    const before = sized(v, 320).length;
    await until(() => sized(v, 320).length >= before + 5);
  }, 30_000);

  it('a file without loop plays again from its start for edge viewers after each end of file; the origin says eof on the status subject', async () => {
    const clip = makeClip({ width: 160, height: 120, fps: 10, seconds: 1 });
    nats = await startNats();
    origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'clip', source: clip.path, width: 0, loop: false }],
      bus: { url: nats.url },
    });
    raw = await connect({ servers: nats.url });
    const statuses: string[] = [];
    raw.subscribe(subjects.status('clip'), {
      callback: (_e, m) => void statuses.push(new TextDecoder().decode(m.data)),
    });
    await raw.flush();
    const e = await startEdge(['clip']);
    const v = watch(e.server.address().port, 'clip');
    // Three plays of the 10-frame clip at least.
    await until(() => sized(v, 160).length >= 2.5 * clip.frames, 30_000);
    const hub = origin.streams.get('clip')?.hub;
    expect(hub?.totals.transmissions).toBeGreaterThanOrEqual(3);
    expect(statuses.filter((s) => JSON.parse(s).state === 'ended').map((s) => JSON.parse(s))).toContainEqual({
      state: 'ended',
      reason: 'eof',
    });
    // stopTransmission ends it for local viewers; edges with demand get it again.
    const seen = sized(v, 160).length;
    origin.stopTransmission('clip');
    await until(() => statuses.some((s) => s.includes('"stopped"')));
    await until(() => sized(v, 160).length >= seen + clip.frames);
    expect(v.ended).toBeNull();
  }, 60_000);

  it('while its bus connection is down the origin publishes no frames (none queued for a burst later); frames resume after', async () => {
    nats = await startNats();
    origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: 'test', width: 320 }],
      bus: { url: nats.url },
    });
    let down = false;
    origin.on('bus', (state) => (down = state === 'disconnected'));
    const e = await startEdge(['cam']);
    const v = watch(e.server.address().port, 'cam');
    await until(() => sized(v, 320).length >= 5);
    const hub = origin.streams.get('cam')?.hub;
    const bus = (): { sent: number; skipped: number } => {
      const s = hub?.clients.find((c) => c.protocol === 'bus')?.stats();
      return { sent: s?.framesSent ?? -1, skipped: s?.drops ?? -1 };
    };
    const restarted = nats.restart(2500);
    await until(() => down, 5000);
    const framesIn = hub?.totals.framesIn ?? 0;
    const at = bus();
    // Under the 3 s the edge's last demand holds: the source runs, the bus subscriber stays.
    await sleep(1000);
    expect(hub?.totals.framesIn).toBeGreaterThan(framesIn + 5);
    expect(bus().sent).toBe(at.sent);
    expect(bus().skipped).toBeGreaterThan(at.skipped + 5);
    await restarted;
    const before = sized(v, 320).length;
    await until(() => sized(v, 320).length >= before + 10, 20_000);
  }, 40_000);

  it('an announcement over max_payload is cut to the streams that fit, with one warning, and nothing throws', async () => {
    nats = await startNats({ maxPayload: 4096 });
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }): void => {
      if (w.code === 'FRAMECAST_BUS_ANNOUNCE' && /max_payload/.test(w.message)) warnings.push(w.message);
    };
    process.on('warning', onWarning);
    try {
      const names = Array.from(
        { length: 80 },
        (_, i) => `camera-${String(i).padStart(3, '0')}-${'x'.repeat(50)}`,
      );
      raw = await connect({ servers: nats.url });
      const heard: { bytes: number; streams: number }[] = [];
      raw.subscribe(subjects.streams, {
        callback: (_e, m) =>
          void heard.push({
            bytes: m.data.length,
            streams: (JSON.parse(new TextDecoder().decode(m.data)) as { streams: unknown[] }).streams.length,
          }),
      });
      await raw.flush();
      origin = await serve({
        port: 0,
        httpPort: null,
        streams: names.map((name) => ({ name, source: 'test' })),
        bus: { url: nats.url },
      });
      // The first announcement and the periodic one 2 s later.
      await until(() => heard.length >= 2, 10_000);
      for (const h of heard) {
        expect(h.bytes).toBeLessThanOrEqual(4096);
        expect(h.streams).toBeGreaterThan(10);
        expect(h.streams).toBeLessThan(names.length);
      }
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/list of 80 streams is over the NATS server's max_payload of 4096 bytes/);
    } finally {
      process.off('warning', onWarning);
    }
  }, 30_000);

  it('a flood of asks on PREFIX.streams.ask gets a few announcements, not one each', async () => {
    nats = await startNats();
    origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: 'test' }],
      bus: { url: nats.url },
    });
    raw = await connect({ servers: nats.url });
    let heard = 0;
    raw.subscribe(subjects.streams, { callback: () => void heard++ });
    await raw.flush();
    await sleep(300); // past the origin's first announcement
    heard = 0;
    for (let i = 0; i < 200; i++) raw.publish(`${subjects.streams}.ask`, '');
    await raw.flush();
    await until(() => heard >= 1);
    await sleep(600);
    // One at once, one when 250 ms have passed, maybe one periodic (every 2 s).
    expect(heard).toBeLessThanOrEqual(3);
  }, 20_000);
});
