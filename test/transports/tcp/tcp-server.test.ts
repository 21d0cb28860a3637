/**
 * The TCP transport (tcp-server.ts) built directly from src/ on 127.0.0.1 port 0, over a hand-driven
 * hub: how it tells seed clients from native ones, what it refuses and why, when it warms the source.
 */
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Frame } from '../../../src/hub/frame.js';
import type { Subscriber } from '../../../src/hub/subscriber.js';
import { IpLimiter } from '../../../src/transports/ip-limiter.js';
import { encodeLegacyFrame } from '../../../src/transports/tcp/legacy-framing.js';
import {
  NATIVE_MAGIC,
  TcpServer,
  type NativeHandshake,
  type TcpServerOptions,
} from '../../../src/transports/tcp/tcp-server.js';
import { FakeSub, setup } from '../../hub/fakes.js';

// A test that waits for what a mutant broke fails within 5 s (mutation runs retry a failure twice).
vi.setConfig({ testTimeout: 5000 });

type Fx = ReturnType<typeof setup>;

interface Made {
  server: TcpServer;
  port: number;
  fx: Fx;
  refused: string[];
  clients: Subscriber[];
}

const servers: TcpServer[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await s.close();
});

async function make(
  opts: Partial<TcpServerOptions> & { room?: number; noTarget?: boolean } = {},
): Promise<Made> {
  const fx = setup();
  const { room, noTarget, ...rest } = opts;
  const server = new TcpServer({
    host: '127.0.0.1',
    port: 0,
    helloGraceMs: 100,
    target: () => (noTarget ? null : { name: 'cam', hub: fx.hub, lossless: false, room: () => room ?? 100 }),
    ...rest,
  });
  servers.push(server);
  const refused: string[] = [];
  const clients: Subscriber[] = [];
  server.on('refused', (_a, r) => refused.push(r));
  server.on('client', (s) => clients.push(s));
  const { port } = await server.listen();
  return { server, port, fx, refused, clients };
}

/** A raw connection that records what it receives and when it closes. */
function connect(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  const chunks: Buffer[] = [];
  socket.on('data', (d) => chunks.push(d));
  socket.on('error', () => {});
  const opened = new Promise<void>((r) => socket.once('connect', () => r()));
  const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now())));
  return { socket, opened, closed, body: () => Buffer.concat(chunks) };
}

async function until(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('TcpServer', () => {
  it('a silent client gets the seed framing after the hello grace', async () => {
    const { port, fx, clients } = await make({ helloGraceMs: 150, warmOnAccept: false });
    const c = connect(port);
    await c.opened;
    const t0 = Date.now();
    await until(() => fx.hub.clients.length === 1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(120);
    expect(clients.map((s) => [s.protocol, s.address.startsWith('127.0.0.1:')])).toEqual([['legacy', true]]);
    const f = new Frame({
      seq: 1,
      width: 2,
      height: 2,
      capturedAt: 0,
      encodedAt: 0,
      jpeg: Buffer.from('hello jpeg'),
    });
    fx.current().emit('frame', f);
    const want = encodeLegacyFrame(f.jpeg);
    await until(() => c.body().length >= want.length);
    expect(c.body().equals(want)).toBe(true);
    // What a seed client sends later is ignored.
    c.socket.write('ignored');
    await sleep(20);
    expect(fx.hub.clients).toHaveLength(1);
    c.socket.destroy();
    await until(() => fx.hub.clients.length === 0);
  });

  it('a client that opens with anything but the native magic is refused (unknown protocol)', async () => {
    const { port, refused, fx } = await make({ warmOnAccept: false });
    const c = connect(port);
    await c.opened;
    c.socket.write('GET / HTTP/1.1\r\n\r\n');
    await c.closed;
    expect(refused).toEqual(['unknown protocol']);
    expect(fx.hub.clients).toHaveLength(0);
    expect(c.body().length).toBe(0);
  });

  it('the magic, even a prefix of it, goes to the native handshake', async () => {
    const firsts: Buffer[] = [];
    const native: NativeHandshake = (socket, first) => {
      firsts.push(first);
      socket.destroy();
      return Promise.resolve(null);
    };
    const { port } = await make({ native, warmOnAccept: false });
    for (const bytes of [
      NATIVE_MAGIC,
      NATIVE_MAGIC.subarray(0, 1),
      Buffer.concat([NATIVE_MAGIC, Buffer.from('xyz')]),
    ]) {
      const c = connect(port);
      await c.opened;
      c.socket.write(bytes);
      await c.closed;
    }
    expect(firsts.map((b) => b.toString('hex'))).toEqual([
      NATIVE_MAGIC.toString('hex'),
      NATIVE_MAGIC.subarray(0, 1).toString('hex'),
      Buffer.concat([NATIVE_MAGIC, Buffer.from('xyz')]).toString('hex'),
    ]);
  });

  it('a native client the handshake accepts joins the hub it names', async () => {
    const other = setup();
    const sub = new FakeSub('native');
    const native: NativeHandshake = () => Promise.resolve({ sub, hub: other.hub });
    const { port, clients, fx } = await make({ native, warmOnAccept: false });
    const c = connect(port);
    await c.opened;
    c.socket.write(NATIVE_MAGIC);
    await until(() => other.hub.clients.length === 1);
    expect(clients).toEqual([sub]);
    expect(fx.hub.clients).toHaveLength(0);
    c.socket.destroy();
    await until(() => other.hub.clients.length === 0);
  });

  it('without a native handshake, or when it fails, the client is refused with the reason', async () => {
    const a = await make({ warmOnAccept: false });
    const c = connect(a.port);
    await c.opened;
    c.socket.write(NATIVE_MAGIC);
    await c.closed;
    expect(a.refused).toEqual(['native protocol not enabled']);
    const b = await make({ native: () => Promise.reject(new Error('bad hello')), warmOnAccept: false });
    const d = connect(b.port);
    await d.opened;
    d.socket.write(NATIVE_MAGIC);
    await d.closed;
    expect(b.refused).toEqual(['bad hello']);
    const e = await make({ native: () => Promise.reject('plain'), warmOnAccept: false });
    const g = connect(e.port);
    await g.opened;
    g.socket.write(NATIVE_MAGIC);
    await g.closed;
    expect(e.refused).toEqual(['plain']);
  });

  it('a client gone before the handshake answered is not admitted', async () => {
    let resolveIt: (v: { sub: Subscriber; hub: Fx['hub'] }) => void = () => {};
    const fx2 = setup();
    const native: NativeHandshake = () => new Promise((r) => (resolveIt = r));
    const { port, clients } = await make({ native, warmOnAccept: false });
    const c = connect(port);
    await c.opened;
    c.socket.write(NATIVE_MAGIC);
    await sleep(30);
    c.socket.destroy();
    await sleep(30);
    resolveIt({ sub: new FakeSub('late'), hub: fx2.hub });
    await sleep(30);
    expect(clients).toEqual([]);
    expect(fx2.hub.clients).toHaveLength(0);
  });

  it('legacyOnly: the seed framing at once, no grace', async () => {
    const { port, fx, server } = await make({ legacyOnly: true, helloGraceMs: 5000 });
    const c = connect(port);
    await c.opened;
    await until(() => fx.hub.clients.length === 1, 1000);
    expect(fx.hub.clients[0]?.protocol).toBe('legacy');
    await expect(
      new TcpServer({
        host: '127.0.0.1',
        port: server.address().port,
        helloGraceMs: 1,
        legacyOnly: true,
        target: () => null,
      }).listen(),
    ).rejects.toThrow(/--legacy-port/);
    await expect(
      new TcpServer({
        host: '127.0.0.1',
        port: server.address().port,
        helloGraceMs: 1,
        target: () => null,
      }).listen(),
    ).rejects.toThrow(/TCP port 127\.0\.0\.1:\d+ is already in use \(choose another with --port\)/);
  });

  it('refuseLegacy: a silent client is refused after 1 s, not at the grace (flag or function)', async () => {
    for (const refuseLegacy of [true, () => true]) {
      const { port, refused, fx } = await make({ refuseLegacy, helloGraceMs: 50 });
      const c = connect(port);
      await c.opened;
      const t0 = Date.now();
      const t1 = await c.closed;
      expect(t1 - t0).toBeGreaterThanOrEqual(900);
      expect(refused).toEqual(['legacy client refused: a token is required']);
      // A server that refuses seed clients does not warm the source for a silent connection.
      expect(fx.producers).toHaveLength(0);
    }
  });

  it('refuseLegacy false (function) serves seed clients', async () => {
    const { port, fx } = await make({ refuseLegacy: () => false, helloGraceMs: 50 });
    const c = connect(port);
    await c.opened;
    await until(() => fx.hub.clients.length === 1, 900);
  });

  it('no stream to serve: a seed client is refused', async () => {
    const { port, refused } = await make({ noTarget: true, helloGraceMs: 30 });
    const c = connect(port);
    await c.opened;
    await c.closed;
    expect(refused).toEqual(['no stream to serve']);
  });

  it('warms the source 50 ms into the hello grace (at most half of it), and stops it if nobody joins', async () => {
    const { port, fx } = await make({ helloGraceMs: 400 });
    const c = connect(port);
    await c.opened;
    const t0 = Date.now();
    await until(() => fx.producers.length === 1);
    const dt = Date.now() - t0;
    expect(dt).toBeGreaterThanOrEqual(35);
    expect(dt).toBeLessThan(300);
    expect(fx.hub.transmitting).toBe(true);
    c.socket.write('x');
    await c.closed;
    await until(() => !fx.hub.transmitting);
    const short = await make({ helloGraceMs: 40 });
    const d = connect(short.port);
    await d.opened;
    const t1 = Date.now();
    await until(() => short.fx.producers.length === 1);
    expect(Date.now() - t1).toBeLessThan(35);
  });

  it('a client that leaves before the warm-up does not start the source', async () => {
    const { port, fx } = await make({ helloGraceMs: 400 });
    const c = connect(port);
    await c.opened;
    c.socket.destroy();
    await sleep(120);
    expect(fx.producers).toHaveLength(0);
  });

  it('warmOnAccept false (or a function saying false) never warms', async () => {
    for (const warmOnAccept of [false, () => false]) {
      const { port, fx } = await make({ warmOnAccept, helloGraceMs: 300 });
      const c = connect(port);
      await c.opened;
      await sleep(120);
      expect(fx.producers).toHaveLength(0);
      c.socket.destroy();
    }
    const { port, fx } = await make({ warmOnAccept: () => true, helloGraceMs: 300 });
    const c = connect(port);
    await c.opened;
    await until(() => fx.producers.length === 1, 250);
  });

  it('connections in their hello phase beyond the room (at least 64) are refused', async () => {
    const { port, refused } = await make({ helloGraceMs: 5000, room: 2, warmOnAccept: false });
    const conns = [];
    for (let i = 0; i < 64; i++) {
      const c = connect(port);
      await c.opened;
      conns.push(c);
    }
    await sleep(50);
    expect(refused).toEqual([]);
    const extra = connect(port);
    await extra.opened;
    await extra.closed;
    expect(refused).toEqual(['server full (connections in handshake fill every place)']);
    // One that leaves frees its place.
    conns[0]?.socket.destroy();
    await sleep(50);
    const again = connect(port);
    await again.opened;
    await sleep(50);
    expect(again.socket.destroyed).toBe(false);
    expect(refused).toHaveLength(1);
  });

  it('the room follows the stream when it is larger than 64', async () => {
    const { port, refused } = await make({ helloGraceMs: 5000, room: 66, warmOnAccept: false });
    for (let i = 0; i < 66; i++) await connect(port).opened;
    await sleep(50);
    expect(refused).toEqual([]);
    const extra = connect(port);
    await extra.closed;
    expect(refused).toHaveLength(1);
  });

  it('--max-clients-per-ip: a connection over the cap is cut and reported', async () => {
    const { port, refused } = await make({
      limiter: new IpLimiter(1),
      helloGraceMs: 5000,
      warmOnAccept: false,
    });
    await connect(port).opened;
    const second = connect(port);
    await second.closed;
    expect(refused).toEqual(['too many connections from this address (--max-clients-per-ip)']);
  });

  it('a full hub refuses the seed client', async () => {
    const fx = setup({ maxClients: 1, maxWaiting: 0 });
    fx.hub.join(new FakeSub('first'));
    const server = new TcpServer({
      host: '127.0.0.1',
      port: 0,
      helloGraceMs: 30,
      warmOnAccept: false,
      target: () => ({ name: 'cam', hub: fx.hub, lossless: false, room: () => 0 }),
    });
    servers.push(server);
    const refused: string[] = [];
    server.on('refused', (_a, r) => refused.push(r));
    const { port } = await server.listen();
    const c = connect(port);
    await c.closed;
    expect(refused).toEqual(['server full']);
  });

  it('close() resolves at once when not listening, and cuts connections left after 1.5 s', async () => {
    const idle = new TcpServer({ host: '127.0.0.1', port: 0, helloGraceMs: 10, target: () => null });
    await idle.close();
    const { server, port } = await make({ helloGraceMs: 10_000, warmOnAccept: false });
    const c = connect(port);
    await c.opened;
    const t0 = Date.now();
    await server.close();
    const t1 = await c.closed;
    expect(t1 - t0).toBeGreaterThanOrEqual(1300);
  });
});
