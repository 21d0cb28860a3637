import net from 'node:net';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { edge, type Edge, type EdgeNotice } from '../../src/app/edge.js';
import { firstStreamConfigs } from '../../src/app/edge-streams.js';
import { serve } from '../../src/index.js';
import { announcedDigest, AnnouncedStreams, type AnnouncedStream } from '../../src/bus/announcement.js';
import { encodeHello, encodeNativeFrame, ErrorCode } from '../../src/protocol/native.js';
import { makeJpeg, rawNative } from '../helpers/native.js';
import { startNats, type NatsServer } from '../helpers/nats.js';
import { spawnCli } from '../helpers/cli.js';
import { killTracked, sleep, waitExit } from '../helpers/processes.js';
import { natsOrFail, sized, until, viewer } from './support.js';

// An edge against peers that announce what they like (no origin, no ffmpeg): read tokens fail
// closed, the first listener already has them, caps hold, a failed change does not stop the edge,
// and closing the server alone closes the bus connection.

const available = natsOrFail();

let nats: NatsServer | null = null;
const peers: NatsConnection[] = [];
const edges: Edge[] = [];
afterEach(async () => {
  for (const e of edges.splice(0)) await e.close();
  for (const p of peers.splice(0)) await p.close();
  await nats?.stop();
  nats = null;
});
afterAll(killTracked);

const ONE = 'token-one-7f3a9c';
const TWO = 'token-two-b81e44';

/** A bus peer announcing as origin `origin`, instance `instance` (it also answers an edge's ask). */
async function peer(
  url: string,
  origin: string,
  instance: string,
): Promise<{ say: (streams: AnnouncedStream[]) => void }> {
  const nc = await connect({ servers: url });
  peers.push(nc);
  let last: AnnouncedStream[] = [];
  const say = (streams: AnnouncedStream[]): void => {
    last = streams;
    nc.publish('framecast.streams', JSON.stringify({ origin, instance, streams }));
  };
  nc.subscribe('framecast.streams.ask', { callback: () => say(last) });
  await nc.flush();
  return { say };
}

const s = (name: string, token?: string): AnnouncedStream => ({
  name,
  width: 160,
  height: 120,
  ...(token ? { readTokenDigest: announcedDigest(name, token) } : {}),
});

/** The ERROR code a native viewer of `stream` gets with `token`, or 'admitted' (any other message). */
async function answer(port: number, stream: string, token: string): Promise<number | 'admitted' | 'nothing'> {
  const r = await rawNative(port, encodeHello(token, Date.now(), 2, 0, stream), {
    timeoutMs: 5000,
    until: (m) => m.length > 0,
  });
  const first = r.messages[0];
  if (!first) return 'nothing';
  return first.type === 'error' ? first.code : 'admitted';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

describe.skipIf(!available)('edge hardening against what peers announce', () => {
  it('a peer without a digest cannot open a stream; two digests keep it closed, reported once, never restarted', async () => {
    nats = await startNats();
    const a = await peer(nats.url, 'o1', 'i1');
    a.say([s('cam', ONE)]);
    const notices: EdgeNotice[] = [];
    const e = await edge({
      bus: { url: nats.url },
      port: 0,
      httpPort: null,
      token: 'edge-own-token',
      onNotice: (n) => notices.push(n),
    });
    edges.push(e);
    const port = e.server.address().port;
    const cam = e.server.streams.get('cam');
    expect(await answer(port, 'cam', ONE)).toBe('admitted');

    // A second process (another origin, or any peer) announces cam without a read token.
    const b = await peer(nats.url, 'o2', 'j1');
    b.say([s('cam'), s('probe1')]);
    await until(() => e.server.streams.get('probe1') !== null, 5000);
    expect(await answer(port, 'cam', '')).toBe(ErrorCode.TokenRequired);
    expect(e.server.streams.get('cam')).toBe(cam);
    expect(notices.filter((n) => n.kind === 'unprotected')).toHaveLength(1);

    // It announces another token: closed to both tokens, open to the edge's own; asserted after
    // many alternating announcements, which neither restart the stream nor repeat the notice.
    for (let i = 0; i < 6; i++) {
      b.say([s('cam', TWO), s('probe1')]);
      a.say([s('cam', ONE)]);
    }
    b.say([s('cam', TWO), s('probe2')]);
    await until(() => e.server.streams.get('probe2') !== null, 5000);
    expect(await answer(port, 'cam', ONE)).toBe(ErrorCode.TokenInvalid);
    expect(await answer(port, 'cam', TWO)).toBe(ErrorCode.TokenInvalid);
    expect(await answer(port, 'cam', 'edge-own-token')).toBe('admitted');
    const locked = e.server.streams.get('cam');
    for (let i = 0; i < 6; i++) {
      b.say([s('cam', TWO), s('probe2')]);
      a.say([s('cam', ONE)]);
    }
    b.say([s('cam', TWO), s('probe3')]);
    await until(() => e.server.streams.get('probe3') !== null, 5000);
    expect(e.server.streams.get('cam')).toBe(locked);
    const conflicts = notices.filter((n) => n.kind === 'conflict');
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]?.stream).toBe('cam');
    expect(conflicts[0]?.message).toContain('o1, o2');
    expect(JSON.stringify(notices)).not.toContain(ONE);

    // The disagreement ends (the second process no longer lists cam): without a bus secret the edge
    // cannot tell which process was the origin, so cam stays closed (until the edge restarts).
    b.say([s('probe4')]);
    await until(() => e.server.streams.get('probe4') !== null, 5000);
    expect(await answer(port, 'cam', ONE)).toBe(ErrorCode.TokenInvalid);
    expect(await answer(port, 'cam', '')).toBe(ErrorCode.TokenRequired);
    expect(e.server.streams.get('cam')).toBe(locked);
  }, 60_000);

  it('no moment where a read-token stream is open: a viewer hammering the port as the edge starts is refused', async () => {
    nats = await startNats();
    const a = await peer(nats.url, 'o1', 'i1');
    a.say([s('open'), s('locked', ONE)]);
    const port = await freePort();
    const starting = edge({ bus: { url: nats.url }, port, httpPort: null });
    let first: number | 'admitted' | 'nothing' | null = null;
    const end = Date.now() + 15_000;
    while (first === null && Date.now() < end) {
      const r = await rawNative(port, encodeHello('', Date.now(), 2, 0, 'locked'), {
        timeoutMs: 5000,
        until: (m) => m.length > 0,
      });
      const m = r.messages[0];
      if (m) first = m.type === 'error' ? m.code : 'admitted';
      else if (r.error && (r.error as NodeJS.ErrnoException).code === 'ECONNREFUSED') await sleep(1);
      else first = 'nothing';
    }
    edges.push(await starting);
    expect(first).toBe(ErrorCode.TokenRequired);
    expect(await answer(port, 'open', '')).toBe('admitted');
  }, 60_000);

  it("an edge's first streams open with their digests: refused the moment the ports are open", async () => {
    const locked = new AnnouncedStreams().locked;
    const d = announcedDigest('locked', ONE);
    const heard = new Map([
      ['locked', d],
      ['open', null],
    ]);
    const server = await serve({
      port: 0,
      httpPort: null,
      allowAnonymousPublish: true,
      streams: firstStreamConfigs(['locked', 'open', 'unheard'], heard, locked),
    });
    try {
      // Nothing else has run: serve() alone set each stream's read token before listening.
      expect(server.streams.get('locked')?.config.readTokenDigest).toEqual(d);
      expect(server.streams.get('unheard')?.config.readTokenDigest).toEqual(locked);
      const port = server.address().port;
      expect(await answer(port, 'locked', '')).toBe(ErrorCode.TokenRequired);
      expect(await answer(port, 'locked', ONE)).toBe('admitted');
      expect(await answer(port, 'unheard', '')).toBe(ErrorCode.TokenRequired);
      expect(await answer(port, 'open', '')).toBe('admitted');
    } finally {
      await server.close();
    }
  });

  it('caps: a peer listing 1500 streams gets 1000 taken; two peers past 1000 in all get the rest refused, once', async () => {
    nats = await startNats();
    const a = await peer(nats.url, 'o1', 'i1');
    const names = (prefix: string, n: number): AnnouncedStream[] =>
      Array.from({ length: n }, (_, i) => s(`${prefix}${i}`));
    a.say(names('a', 1500));
    const notices: EdgeNotice[] = [];
    const e = await edge({
      bus: { url: nats.url },
      port: 0,
      httpPort: null,
      onNotice: (n) => notices.push(n),
    });
    edges.push(e);
    expect(e.server.streams.list()).toHaveLength(1000);
    expect(notices.map((n) => n.kind)).toEqual(['streams']);
    a.say(names('a', 1500));
    const b = await peer(nats.url, 'o2', 'j1');
    b.say(names('b', 10));
    await until(() => notices.some((n) => n.kind === 'too-many'), 10_000);
    b.say(names('b', 11));
    await sleep(300);
    expect(e.server.streams.list()).toHaveLength(1000);
    expect(e.server.streams.get('b0')).toBeNull();
    expect(notices.map((n) => n.kind)).toEqual(['streams', 'too-many']);
    expect(notices[1]?.message).toContain('10 announced stream(s) refused: an edge serves at most 1000');
  }, 120_000);

  it('a change that throws is reported and the edge goes on following; server.close() alone closes the bus', async () => {
    nats = await startNats();
    const a = await peer(nats.url, 'o1', 'i1');
    a.say([s('cam')]);
    const notices: EdgeNotice[] = [];
    const e = await edge({
      bus: { url: nats.url },
      port: 0,
      httpPort: null,
      onNotice: (n) => notices.push(n),
    });
    const streams = e.server.streams;
    const get = streams.get.bind(streams);
    let boom = true;
    streams.get = (name) => {
      if (boom && name === 'x1') {
        boom = false;
        throw new Error('injected failure');
      }
      return get(name);
    };
    a.say([s('cam'), s('x1')]);
    await until(() => notices.some((n) => n.kind === 'error'), 5000);
    expect(notices.find((n) => n.kind === 'error')?.message).toContain('injected failure');
    a.say([s('cam'), s('x1'), s('x2')]);
    await until(() => get('x2') !== null && get('x1') !== null, 5000);

    expect(e.bus.isClosed()).toBe(false);
    await e.server.close();
    expect(e.bus.isClosed()).toBe(true);
    // Edge.close() after it is harmless.
    await e.close();
  }, 60_000);

  it('framecast edge logs: a stream added, removed, restarted for a changed read token, and a conflict once', async () => {
    nats = await startNats();
    const a = await peer(nats.url, 'o1', 'i1');
    a.say([s('cam'), s('door')]);
    const cli = spawnCli(['edge', '--bus', nats.url, '--port', '0', '--http-port', 'off']);
    try {
      let out = '';
      cli.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      const said = (re: RegExp): boolean => re.test(out);
      await until(() => said(/serving cam, door/), 15_000);
      a.say([s('cam'), s('porch')]);
      await until(() => said(/stream porch announced on the bus/), 10_000);
      a.say([s('cam', ONE), s('porch')]);
      await until(() => said(/stream cam: its read token changed on the bus; restarted/), 10_000);
      const b = await peer(nats.url, 'o2', 'j1');
      for (let i = 0; i < 4; i++) b.say([s('cam', TWO)]);
      b.say([s('cam', TWO), s('probe')]);
      await until(() => said(/stream probe announced/), 10_000);
      const lines = out.split('\n').filter((l) => /^(stream |bus: |stream cam: origins)/.test(l));
      expect(lines).toEqual([
        'stream door no longer announced: removed',
        'stream porch announced on the bus',
        'stream cam: its read token changed on the bus; restarted',
        "stream cam: origins o1, o2 announce different read tokens; closed to viewers without this edge's --token until the edge restarts (no bus secret: it cannot tell which is the origin)",
        // o2's first announcement is taken at once (cam locked: restarted); its latest, with probe,
        // at its next turn (one process is taken at most every 500 ms).
        'stream cam: its read token changed on the bus; restarted',
        'stream probe announced on the bus',
      ]);
      expect(out).not.toContain(ONE);
    } finally {
      cli.kill('SIGTERM');
      await waitExit(cli, 5000);
    }
  }, 60_000);

  it("a peer's frame whose capturedAt is not a finite number is dropped; the next good one is served", async () => {
    nats = await startNats();
    const a = await peer(nats.url, 'o1', 'i1');
    a.say([s('cam')]);
    const e = await edge({ bus: { url: nats.url }, port: 0, httpPort: null });
    edges.push(e);
    const v = viewer(e.server.address().port, 'cam');
    const pub = await connect({ servers: nats.url });
    peers.push(pub);
    const jpeg = await makeJpeg(64, 48);
    const frame = (seq: number, capturedAt: number): Buffer =>
      encodeNativeFrame({ seq, width: 64, height: 48, capturedAt, encodedAt: Date.now(), jpeg }, Date.now());
    await until(() => v.statuses.length > 0 || v.frames.length > 0, 10_000);
    for (const bad of [NaN, Infinity, -Infinity]) pub.publish('framecast.s.cam.frame', frame(1, bad));
    pub.publish('framecast.s.cam.frame', frame(2, Date.now()));
    await until(() => sized(v, 64).length >= 1, 10_000);
    await sleep(200);
    expect(sized(v, 64)).toHaveLength(1);
    v.close();
  }, 60_000);

  it('a named stream whose origin is forgotten keeps its read token as it was: an open one is not restarted locked', async () => {
    nats = await startNats();
    const a = await peer(nats.url, 'o1', 'i1');
    a.say([s('cam'), s('door', ONE)]);
    const e = await edge({
      bus: { url: nats.url },
      port: 0,
      httpPort: null,
      streams: ['cam', 'door'],
      forgetAfterMs: 6500,
    });
    edges.push(e);
    const cam = e.server.streams.get('cam');
    const door = e.server.streams.get('door');
    await peers.splice(0)[0]?.close();
    // Forgotten after 6.5 s of silence, checked every 2 s.
    await sleep(9500);
    expect(e.server.streams.get('cam')).toBe(cam);
    expect(e.server.streams.get('door')).toBe(door);
    const port = e.server.address().port;
    expect(await answer(port, 'cam', '')).toBe('admitted');
    expect(await answer(port, 'door', '')).toBe(ErrorCode.TokenRequired);
  }, 60_000);
});
