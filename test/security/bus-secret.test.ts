import { headers } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { edge, type EdgeNotice } from '../../src/app/edge.js';
import { serve } from '../../src/index.js';
import { encodeNativeFrame, ErrorCode } from '../../src/protocol/native.js';
import { makeJpeg } from '../helpers/native.js';
import { startNats } from '../helpers/nats.js';
import { spawnCli } from '../helpers/cli.js';
import { sleep, waitExit } from '../helpers/processes.js';
import { busRig, natsOrFail, sized, until, viewer } from '../bus/support.js';
import { answer, answersDuringFlood, rawPeer, TOKEN } from './bus-support.js';

// Origins and edges sharing a bus secret: a plain NATS client without it can neither announce,
// remove, nor feed frames, and cannot replay what an origin signed to roll a stream back.

const available = natsOrFail();
const rig = busRig();

const SECRET = 'bus-secret-5f2a9c0e7d41b836';

const kinds = (notices: EdgeNotice[]): string[] => notices.map((n) => n.kind).sort();

describe.skipIf(!available)('bus security: a bus secret', () => {
  it('unsigned and forged announcements open nothing and remove nothing; legitimate viewers keep watching', async () => {
    rig.nats = await startNats();
    const url = rig.nats.url;
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'locked', source: 'test', width: 160, readToken: TOKEN }],
      bus: { url, secret: SECRET },
    });
    const notices: EdgeNotice[] = [];
    const e = await edge({
      bus: { url, secret: SECRET },
      port: 0,
      httpPort: null,
      onNotice: (n) => notices.push(n),
    });
    rig.edges.push(e);
    const port = e.server.address().port;
    const legit = viewer(port, 'locked', TOKEN);
    await until(() => sized(legit, 160).length >= 3);

    const peer = await rawPeer(url);
    try {
      const heard = await peer.next('framecast.streams');
      expect(heard.headers?.get('Framecast-Sig')).toMatch(/^[0-9a-f]{64}$/);
      const a = JSON.parse(new TextDecoder().decode(heard.data)) as { streams: Record<string, unknown>[] };
      const open = JSON.stringify({ ...a, streams: a.streams.map(({ readTokenDigest: _d, ...s }) => s) });
      const none = JSON.stringify({ ...a, streams: [] });
      // The origin's own headers on another body: the signature does not match.
      const forged = headers();
      for (const [k, v] of heard.headers ?? []) forged.set(k, v[0] ?? '');
      forged.set('Framecast-Count', '999999999');
      let i = 0;
      const answers = await answersDuringFlood(port, 'locked', 4, () => {
        const body = i++ % 2 ? open : none;
        peer.nc.publish('framecast.streams', body);
        peer.nc.publish('framecast.streams', body, { headers: forged });
      });
      expect(answers).toEqual([1, 2, 3, 4].map(() => ErrorCode.TokenRequired));
    } finally {
      await peer.nc.close();
    }
    expect(legit.ended).toBeNull();
    const before = sized(legit, 160).length;
    await until(() => sized(legit, 160).length >= before + 3);
    expect(legit.ended).toBeNull();
    legit.close();
    // Counted (how many depends on how long the flood ran on a loaded machine: 19-40 seen).
    expect(e.dropped().unsigned).toBeGreaterThan(5);
    expect(e.dropped().forged).toBeGreaterThan(5);
    // One notice per kind, not per message; the secret is never in one.
    expect(kinds(notices)).toEqual(['forged', 'unsigned']);
    expect(JSON.stringify(notices)).not.toContain(SECRET);
  }, 60_000);

  it("a peer's frames and status messages, unsigned or forged, never reach viewers", async () => {
    rig.nats = await startNats();
    const url = rig.nats.url;
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: 'test', width: 160 }],
      bus: { url, secret: SECRET },
    });
    const e = await edge({ bus: { url, secret: SECRET }, port: 0, httpPort: null, onNotice: () => {} });
    rig.edges.push(e);
    const v = viewer(e.server.address().port, 'cam');
    await until(() => sized(v, 160).length >= 3);
    const peer = await rawPeer(url);
    try {
      const real = await peer.next('framecast.s.cam.frame');
      const jpeg = await makeJpeg(64, 48);
      const frame = (): Buffer =>
        encodeNativeFrame(
          { seq: 1, width: 64, height: 48, capturedAt: Date.now(), encodedAt: Date.now(), jpeg },
          Date.now(),
        );
      const forged = headers();
      for (const [k, val] of real.headers ?? []) forged.set(k, val[0] ?? '');
      forged.set('Framecast-Count', '999999999');
      for (let n = 0; n < 40; n++) {
        peer.nc.publish('framecast.s.cam.frame', frame());
        peer.nc.publish('framecast.s.cam.frame', frame(), { headers: forged });
        peer.nc.publish('framecast.s.cam.status', JSON.stringify({ state: 'no-signal' }));
        await sleep(20);
      }
      await peer.nc.flush();
    } finally {
      await peer.nc.close();
    }
    await sleep(300);
    expect(sized(v, 64)).toHaveLength(0);
    const before = sized(v, 160).length;
    await until(() => sized(v, 160).length >= before + 3);
    expect(v.ended).toBeNull();
    v.close();
    expect(e.dropped().unsigned).toBeGreaterThanOrEqual(80);
    expect(e.dropped().forged).toBeGreaterThanOrEqual(40);
  }, 60_000);

  it("an origin's old signed announcement, replayed, cannot roll a stream back to open", async () => {
    rig.nats = await startNats();
    const url = rig.nats.url;
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: 'test', width: 160 }],
      bus: { url, secret: SECRET },
    });
    const o = rig.origin;
    const e = await edge({ bus: { url, secret: SECRET }, port: 0, httpPort: null, onNotice: () => {} });
    rig.edges.push(e);
    const port = e.server.address().port;
    expect(await answer(port, 'cam', '')).toBe('frames');
    const peer = await rawPeer(url);
    try {
      // Captured while cam was open, signed by the origin itself.
      const old = await peer.next('framecast.streams');
      const cam = o.streams.get('cam')?.config;
      if (!cam) throw new Error('cam missing');
      await o.applyStreams([{ ...cam, readToken: TOKEN }]);
      await until(() => e.server.streams.get('cam')?.config.readTokenDigest != null, 5000);
      const legit = viewer(port, 'cam', TOKEN);
      await until(() => sized(legit, 160).length >= 3);
      const answers = await answersDuringFlood(port, 'cam', 4, () =>
        peer.nc.publish('framecast.streams', old.data, { headers: old.headers }),
      );
      expect(answers).toEqual([1, 2, 3, 4].map(() => ErrorCode.TokenRequired));
      expect(legit.ended).toBeNull();
      legit.close();
      // Counted (how many depends on how long the flood ran on a loaded machine).
      expect(e.dropped().replayed).toBeGreaterThan(5);
    } finally {
      await peer.nc.close();
    }
    // With the secret, the origin's own token change applies on the edge (no pinning).
    expect(await answer(port, 'cam', TOKEN)).toBe('frames');
  }, 60_000);

  it('an edge with a secret ignores an origin without it (or with another)', async () => {
    rig.nats = await startNats();
    const url = rig.nats.url;
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: 'test', width: 160 }],
      bus: { url, secret: 'another-secret-0123456789' },
    });
    const notices: EdgeNotice[] = [];
    await expect(
      edge({
        bus: { url, secret: SECRET },
        port: 0,
        httpPort: null,
        discoverTimeoutMs: 2500,
        onNotice: (n) => notices.push(n),
      }),
    ).rejects.toThrow(/no origin announced any stream/);
    expect(kinds(notices)).toEqual(['forged']);
    await rig.origin.close();
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: 'test', width: 160 }],
      bus: { url },
    });
    notices.length = 0;
    await expect(
      edge({
        bus: { url, secret: SECRET },
        port: 0,
        httpPort: null,
        discoverTimeoutMs: 2500,
        onNotice: (n) => notices.push(n),
      }),
    ).rejects.toThrow(/no origin announced any stream/);
    expect(kinds(notices)).toEqual(['unsigned']);
  }, 60_000);

  it('signed frames in parts (max_payload 32 KiB) arrive whole; nothing is dropped between origin and edge', async () => {
    rig.nats = await startNats({ maxPayload: 32 * 1024 });
    const url = rig.nats.url;
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'big', source: 'test', width: 1280, quality: 95 }],
      bus: { url, secret: SECRET },
    });
    const sent: Buffer[] = [];
    rig.origin.on('frame', (f) => sent.push(f.jpeg));
    const e = await edge({ bus: { url, secret: SECRET }, port: 0, httpPort: null });
    rig.edges.push(e);
    const v = viewer(e.server.address().port, 'big');
    await until(() => sized(v, 1280).length >= 5, 20_000);
    v.close();
    for (const f of sized(v, 1280)) {
      expect(f.jpeg.length).toBeGreaterThan(32 * 1024);
      expect(sent.some((b) => b.equals(f.jpeg))).toBe(true);
    }
    expect(e.dropped()).toEqual({ unsigned: 0, forged: 0, replayed: 0, stale: 0 });
  }, 60_000);

  it('framecast serve and edge take the secret from $FRAMECAST_BUS_SECRET and --bus-secret, and never print it', async () => {
    rig.nats = await startNats();
    const url = rig.nats.url;
    const origin = spawnCli(['serve', '--bus', url, '--port', '0', '--http-port', 'off', 'test'], {
      env: { FRAMECAST_BUS_SECRET: SECRET },
    });
    const edgeCli = spawnCli([
      'edge',
      '--bus',
      url,
      '--bus-secret',
      SECRET,
      '--port',
      '0',
      '--http-port',
      'off',
    ]);
    const out = { origin: '', edge: '' };
    origin.stdout?.on('data', (d: Buffer) => (out.origin += d.toString()));
    origin.stderr?.on('data', (d: Buffer) => (out.origin += d.toString()));
    edgeCli.stdout?.on('data', (d: Buffer) => (out.edge += d.toString()));
    edgeCli.stderr?.on('data', (d: Buffer) => (out.edge += d.toString()));
    try {
      await until(() => /tcp:\/\/127\.0\.0\.1:(\d+)/.test(out.edge), 20_000);
      const port = Number(/tcp:\/\/127\.0\.0\.1:(\d+)/.exec(out.edge)?.[1]);
      expect(await answer(port, 'default', '', 640)).toBe('frames');
      expect(out.edge).not.toMatch(/bus-notice|dropped/);
    } finally {
      origin.kill('SIGTERM');
      edgeCli.kill('SIGTERM');
      await waitExit(origin, 5000);
      await waitExit(edgeCli, 5000);
    }
    expect(out.origin + out.edge).not.toContain(SECRET);
  }, 60_000);
});
