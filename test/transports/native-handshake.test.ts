import net from 'node:net';
import { Access } from '../../src/access/access.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, StatusCode, encodeHello } from '../../src/protocol/native.js';
import { createNativeHandshake } from '../../src/transports/tcp/native-handshake.js';
import { Hub } from '../../src/hub/hub.js';
import { FakeProducer } from '../hub/fakes.js';
import type { NativeMessage } from '../../src/protocol/native-parser.js';
import {
  publishingServer,
  rawNative,
  timeToFirstLegacyFrame,
  type PublishingServer,
} from '../helpers/native.js';

let srv: PublishingServer | null = null;
afterEach(async () => {
  await srv?.close();
  srv = null;
});

const frames = (msgs: NativeMessage[]): Extract<NativeMessage, { type: 'frame' }>[] =>
  msgs.filter((m): m is Extract<NativeMessage, { type: 'frame' }> => m.type === 'frame');
const errorOf = (msgs: NativeMessage[]): Extract<NativeMessage, { type: 'error' }> | undefined =>
  msgs.find((m): m is Extract<NativeMessage, { type: 'error' }> => m.type === 'error');
const refusals = (s: PublishingServer): string[] => {
  const got: string[] = [];
  s.server.on('refused', (_a, reason) => got.push(reason));
  return got;
};

describe('native handshake', () => {
  it('welcomes a hello with the server clock, then sends timestamped frames in order', async () => {
    srv = await publishingServer();
    const t0 = Date.now();
    const s = await rawNative(srv.port, encodeHello('', t0), { until: (m) => frames(m).length >= 5 });
    const [welcome] = s.messages;
    expect(welcome).toMatchObject({ type: 'welcome', server: expect.stringMatching(/^framecast\//) });
    const w = welcome as Extract<NativeMessage, { type: 'welcome' }>;
    expect(w.helloReceivedAt).toBeGreaterThanOrEqual(t0 - 1000);
    expect(w.welcomeSentAt).toBeGreaterThanOrEqual(w.helloReceivedAt);
    const f = frames(s.messages);
    expect(f.length).toBeGreaterThanOrEqual(5);
    for (let i = 0; i < f.length; i++) {
      expect(f[i]).toMatchObject({ width: 64, height: 48 });
      expect(f[i]!.encodedAt).toBeGreaterThanOrEqual(f[i]!.capturedAt);
      expect(f[i]!.sentAt).toBeGreaterThanOrEqual(f[i]!.encodedAt);
      if (i > 0) expect(f[i]!.seq).toBeGreaterThan(f[i - 1]!.seq);
    }
  });

  it('serves a silent client the seed framing on the same port, its first frame within 200 ms', async () => {
    srv = await publishingServer();
    // A transmission is running (a native client watches): the seed client waits only for the grace period.
    const watcher = rawNative(srv.port, encodeHello('', Date.now()), { timeoutMs: 800 });
    await new Promise((r) => setTimeout(r, 200));
    const legacy = await timeToFirstLegacyFrame(srv.port);
    expect(legacy.ms).not.toBeNull();
    expect(legacy.ms as number).toBeLessThan(200);
    expect((await watcher).error).toBeNull();
  });

  it('accepts the right token and refuses a missing or wrong one with a reason', async () => {
    srv = await publishingServer({ token: 'correct horse' });
    const reasons = refusals(srv);
    const ok = await rawNative(srv.port, encodeHello('correct horse', Date.now()), {
      until: (m) => frames(m).length >= 2,
    });
    expect(frames(ok.messages).length).toBeGreaterThanOrEqual(2);

    const none = await rawNative(srv.port, encodeHello('', Date.now()));
    expect(errorOf(none.messages)).toEqual({
      type: 'error',
      code: ErrorCode.TokenRequired,
      message: 'this server requires a token',
    });
    expect(none.closed).toBe(true);

    const wrong = await rawNative(srv.port, encodeHello('battery staple', Date.now()));
    expect(errorOf(wrong.messages)).toMatchObject({ code: ErrorCode.TokenInvalid, message: 'wrong token' });
    expect(frames(wrong.messages)).toHaveLength(0);
    expect(reasons).toEqual(['this server requires a token', 'wrong token']);
    expect(reasons.join(' ')).not.toMatch(/horse|battery/);
  });

  it('refuses seed clients when a token is set, unless legacy is allowed', async () => {
    srv = await publishingServer({ token: 't' });
    const reasons = refusals(srv);
    const refused = await timeToFirstLegacyFrame(srv.port, 2000);
    expect(refused).toEqual({ ms: null, bytes: 0 });
    expect(reasons).toEqual(['legacy client refused: a token is required']);
    await srv.close();

    srv = await publishingServer({ token: 't', allowLegacy: true });
    const allowed = await timeToFirstLegacyFrame(srv.port, 2000);
    expect(allowed.ms).not.toBeNull();
  });

  it('refuses a bad hello and a hello that never completes', async () => {
    srv = await publishingServer({ helloTimeoutMs: 300 });
    const bad = encodeHello('', 0);
    bad.writeUInt16BE(5000, 6);
    const s1 = await rawNative(srv.port, bad);
    expect(errorOf(s1.messages)).toMatchObject({ code: ErrorCode.BadHello });
    expect(s1.closed).toBe(true);

    const t0 = Date.now();
    const s2 = await rawNative(srv.port, Buffer.from('FCST\x01'));
    expect(errorOf(s2.messages)).toMatchObject({ code: ErrorCode.HandshakeTimeout });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });

  it('tells a client it waits for a place, then serves it when the place frees', async () => {
    srv = await publishingServer({ maxClients: 1, maxWaiting: 1 });
    const first = net.connect({ host: '127.0.0.1', port: srv.port });
    first.on('data', () => {});
    first.write(encodeHello('', Date.now()));
    await new Promise((r) => setTimeout(r, 150));
    const second = rawNative(srv.port, encodeHello('', Date.now()), { until: (m) => frames(m).length >= 1 });
    setTimeout(() => first.destroy(), 300);
    const s = await second;
    const status = s.messages.find((m) => m.type === 'status');
    expect(status).toEqual({
      type: 'status',
      code: StatusCode.Waiting,
      value: 1,
      message: 'waiting for a place (#1)',
    });
    expect(frames(s.messages)).toHaveLength(1);

    // Full and no room to wait: refused with a reason.
    const hold = net.connect({ host: '127.0.0.1', port: srv.port });
    hold.on('data', () => {});
    hold.write(encodeHello('', Date.now()));
    await new Promise((r) => setTimeout(r, 100));
    const waiter = net.connect({ host: '127.0.0.1', port: srv.port });
    waiter.on('data', () => {});
    waiter.write(encodeHello('', Date.now()));
    await new Promise((r) => setTimeout(r, 100));
    const full = await rawNative(srv.port, encodeHello('', Date.now()));
    expect(errorOf(full.messages)).toMatchObject({ code: ErrorCode.ServerFull });
    hold.destroy();
    waiter.destroy();
  });

  it('ends the stream with END when the server closes', async () => {
    const s = await publishingServer();
    srv = s;
    const session = rawNative(s.port, encodeHello('', Date.now()));
    await new Promise((r) => setTimeout(r, 150));
    await s.server.close();
    const got = await session;
    expect(got.messages.at(-1)).toEqual({
      type: 'end',
      reason: 'shutdown',
      message: 'the server is shutting down',
    });
    expect(got.closed).toBe(true);
  });

  it('ends with END eof when the publisher ends the transmission', async () => {
    srv = await publishingServer();
    const session = rawNative(srv.port, encodeHello('', Date.now()));
    await new Promise((r) => setTimeout(r, 150));
    srv.publisher.end();
    const got = await session;
    expect(got.messages.at(-1)).toMatchObject({ type: 'end', reason: 'eof' });
  });

  it('holds at most maxPending unfinished hellos; the next is refused at once', async () => {
    const hub = new Hub({
      createProducer: () => new FakeProducer(0),
      maxClients: 10,
      maxWaiting: 10,
      lossless: false,
    });
    const target = { name: 'default', hub, lossless: false, readToken: null, hasRoom: () => true };
    const hook = createNativeHandshake({
      access: new Access({ token: null }),
      resolve: () => target,
      helloTimeoutMs: 3000,
      maxPending: 1,
    });
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', (first: Buffer) => {
        socket.pause();
        hook(socket, first).catch(() => socket.destroy());
      });
    });
    await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r));
    const port = (server.address() as net.AddressInfo).port;
    const slow = net.connect({ host: '127.0.0.1', port });
    slow.on('error', () => {});
    slow.write('FCST');
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const s = await rawNative(port, encodeHello('', Date.now()));
    expect(errorOf(s.messages)).toMatchObject({
      code: ErrorCode.ServerFull,
      message: 'too many connections in handshake',
    });
    expect(Date.now() - t0).toBeLessThan(1500);
    slow.destroy();
    await new Promise((r) => server.close(r));
  });
});
