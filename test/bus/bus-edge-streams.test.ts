import { describe, expect, it } from 'vitest';
import { edge, type Edge } from '../../src/app/edge.js';
import { serve } from '../../src/index.js';
import { resolveStreamConfig } from '../../src/streams/stream-options.js';
import { streamDefaults } from '../../src/app/serve-plan.js';
import { startNats } from '../helpers/nats.js';
import { startServe } from '../helpers/cli.js';
import { sleep } from '../helpers/processes.js';
import { busRig, natsOrFail, sized, until, viewer } from './support.js';

const available = natsOrFail();

const rig = busRig();

const names = (e: Edge): string[] =>
  e.server.streams
    .list()
    .map((s) => s.name)
    .sort();

describe.skipIf(!available)('NATS frame bus: streams come and go on edges', () => {
  it('a stream the origin removes is removed from the edge (viewers get END removed); one it adds appears', async () => {
    rig.nats = await startNats();
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      streams: [
        { name: 'cam', source: 'test', width: 160 },
        { name: 'door', source: 'test', width: 160 },
      ],
      bus: { url: rig.nats.url },
    });
    const o = rig.origin;
    const e = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: null });
    rig.edges.push(e);
    expect(names(e)).toEqual(['cam', 'door']);
    const v = viewer(e.server.address().port, 'door');
    await until(() => sized(v, 160).length >= 5);
    const defaults = streamDefaults(o.options);
    const cam = o.streams.get('cam')?.config;
    if (!cam) throw new Error('no cam');
    // As the API or a config reload would: the origin announces at once.
    await o.applyStreams([cam]);
    await until(() => v.ended !== null, 5000);
    expect(v.ended).toBe('removed');
    expect(names(e)).toEqual(['cam']);
    await o.applyStreams([cam, resolveStreamConfig('porch', { source: 'test', width: 160 }, defaults)]);
    await until(() => e.server.streams.get('porch') !== null, 5000);
    const p = viewer(e.server.address().port, 'porch');
    await until(() => sized(p, 160).length >= 5);
    p.close();
  }, 40_000);

  it("a killed origin's stream stays in no-signal, then goes after forgetAfterMs", async () => {
    rig.nats = await startNats();
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: 'test', width: 160 }],
      bus: { url: rig.nats.url },
    });
    const yard = await startServe([
      'yard=test',
      '--width',
      '160',
      '--http-port',
      'off',
      '--bus',
      rig.nats.url,
    ]);
    const e = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: null, forgetAfterMs: 6500 });
    rig.edges.push(e);
    await until(() => names(e).join() === 'cam,yard');
    const v = viewer(e.server.address().port, 'yard');
    await until(() => sized(v, 160).length >= 5);
    const seen = v.statuses.length;
    yard.child.kill('SIGKILL');
    const killedAt = Date.now();
    await until(() => v.statuses.slice(seen).includes(2), 5000); // no signal
    await sleep(Math.max(0, killedAt + 4000 - Date.now()));
    // Silent for 4 s: still served, the viewer still connected (a restart now would resume it).
    expect(v.ended).toBeNull();
    expect(names(e)).toEqual(['cam', 'yard']);
    await until(() => v.ended !== null, 10_000);
    expect(v.ended).toBe('removed');
    expect(names(e)).toEqual(['cam']);
    await yard.stop();
  }, 40_000);

  it('an origin restarted under the same name without a stream: the old list gives way once stale (6.5 s)', async () => {
    rig.nats = await startNats();
    const bus = { url: rig.nats.url, name: 'site-1' };
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      streams: [
        { name: 'cam', source: 'test', width: 160 },
        { name: 'door', source: 'test', width: 160 },
      ],
      bus,
    });
    const e = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: null });
    rig.edges.push(e);
    expect(names(e)).toEqual(['cam', 'door']);
    const door = viewer(e.server.address().port, 'door');
    await until(() => sized(door, 160).length >= 5);
    await rig.origin.close();
    const stoppedAt = Date.now();
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: 'test', width: 160 }],
      bus,
    });
    await sleep(Math.max(0, stoppedAt + 3000 - Date.now()));
    // The old process may still be alive (two servers in one process share a name): not yet.
    expect(names(e)).toEqual(['cam', 'door']);
    expect(door.ended).toBeNull();
    await until(() => door.ended !== null, 10_000);
    expect(door.ended).toBe('removed');
    expect(names(e)).toEqual(['cam']);
  }, 40_000);

  it('a bus outage longer than forgetAfterMs removes nothing: silence counts from the reconnection', async () => {
    rig.nats = await startNats();
    const url = rig.nats.url;
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: 'test', width: 160 }],
      bus: { url },
    });
    // A second apart, so that after the outage one origin's announcement comes a second before the other's.
    await sleep(1000);
    const second = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'door', source: 'test', width: 160 }],
      bus: { url },
    });
    try {
      const e = await edge({ bus: { url }, port: 0, httpPort: null, forgetAfterMs: 6500 });
      rig.edges.push(e);
      await until(() => names(e).join() === 'cam,door');
      const views = [viewer(e.server.address().port, 'cam'), viewer(e.server.address().port, 'door')];
      await until(() => views.every((v) => sized(v, 160).length >= 5));
      await rig.nats.restart(8000);
      const counts = views.map((v) => sized(v, 160).length);
      await until(() => views.every((v, i) => sized(v, 160).length >= (counts[i] as number) + 10), 20_000);
      expect(views.map((v) => v.ended)).toEqual([null, null]);
      expect(names(e)).toEqual(['cam', 'door']);
    } finally {
      await second.close();
    }
  }, 60_000);

  it('forgetAfterMs is range-checked', async () => {
    await expect(edge({ bus: { url: 'nats://127.0.0.1:1' }, forgetAfterMs: 1000 })).rejects.toThrow(
      /forgetAfterMs must be an integer from 6500/,
    );
  });
});
