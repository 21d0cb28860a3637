import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/connect.js';
import { StreamClient, type StreamEnd, type StreamFrame } from '../../src/client/stream-client.js';
import type { FramecastError } from '../../src/errors.js';
import { encodeNativeFrame, encodePreamble, encodeWelcome } from '../../src/protocol/native.js';
import { fakeServer, type FakeServer } from '../helpers/net.js';
import { makeJpeg, publishingServer, type PublishingServer } from '../helpers/native.js';

let fake: FakeServer | null = null;
let srv: PublishingServer | null = null;
afterEach(async () => {
  await fake?.close();
  await srv?.close();
  fake = null;
  srv = null;
});

function seedFrame(jpeg: Buffer): Buffer {
  const b64 = Buffer.from(jpeg.toString('base64'), 'latin1');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(b64.length);
  return Buffer.concat([head, b64]);
}

/**
 * Behaves like the seed's servidor.py: never reads (pauseOnConnect: nothing is read from the socket),
 * sends `count` frames at once on accept (one every `gapMs`), then closes. Closing with our unread
 * hello in its receive buffer makes the kernel send a reset, exactly as the Python server does.
 */
async function seedLikeServer(count: number, how: 'close' | 'end' = 'close', gapMs = 5): Promise<FakeServer> {
  const frames = await Promise.all(Array.from({ length: count }, (_, i) => makeJpeg(64, 48, i)));
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    let i = 0;
    const next = (): void => {
      if (socket.destroyed) return;
      if (i === count) {
        setTimeout(() => (how === 'close' ? socket.destroy() : socket.end()), 50);
        return;
      }
      socket.write(seedFrame(frames[i++] as Buffer), () => setTimeout(next, gapMs));
    };
    next();
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r));
  return {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function run(
  port: number,
  opts: ConstructorParameters<typeof StreamClient>[1] = {},
): Promise<{
  frames: StreamFrame[];
  end: StreamEnd | null;
  error: FramecastError | null;
  client: StreamClient;
}> {
  return new Promise((resolve) => {
    const client = new StreamClient({ host: '127.0.0.1', port, tls: false }, opts);
    const frames: StreamFrame[] = [];
    client.on('frame', (f) => frames.push(f));
    client.on('end', (end) => resolve({ frames, end, error: null, client }));
    client.on('error', (error) => resolve({ frames, end: null, error, client }));
    client.connect();
  });
}

describe('StreamClient against a seed-like server', () => {
  it('auto: falls back to the seed framing and gets every frame, the reset at the end included', async () => {
    fake = await seedLikeServer(20, 'close');
    const r = await run(fake.port);
    expect(r.error).toBeNull();
    expect(r.frames).toHaveLength(20);
    expect(r.frames.map((f) => f.seq)).toEqual([...Array(20).keys()]);
    expect(r.frames[0]).toMatchObject({ width: 64, height: 48, capturedAt: null, latencyMs: null });
    expect(r.client.protocol).toBe('legacy');
    expect(r.end).toEqual({ reason: 'closed', message: '' });
  });

  it('auto: a clean close works the same', async () => {
    fake = await seedLikeServer(5, 'end');
    const r = await run(fake.port);
    expect(r.frames).toHaveLength(5);
    expect(r.end?.reason).toBe('closed');
  });

  it('native: refuses a server that does not speak the native protocol', async () => {
    fake = await seedLikeServer(3);
    const r = await run(fake.port, { protocol: 'native' });
    expect(r.error?.code).toBe('ERR_PROTOCOL');
    expect(r.error?.message).toMatch(/does not speak the native protocol/);
  });

  it('auto: reports a seed stream cut inside its first length prefix, and a server that says nothing', async () => {
    fake = await fakeServer((socket) => socket.end(Buffer.from([0, 0])));
    const cut = await run(fake.port);
    expect(cut.error).toMatchObject({
      code: 'ERR_TRUNCATED_FRAME',
      message: 'stream ended inside a length prefix: got 2 of 4 bytes',
    });
    await fake.close();
    fake = await fakeServer((socket) => socket.end());
    const silent = await run(fake.port);
    expect(silent.error?.code).toBe('ERR_CONNECTION');
    expect(silent.error?.message).toMatch(/closed the connection without answering the hello/);
  });

  it('legacy: sends nothing and reads the seed framing', async () => {
    fake = await seedLikeServer(4, 'end');
    const r = await run(fake.port, { protocol: 'legacy' });
    expect(r.frames).toHaveLength(4);
  });
});

describe('StreamClient against framecast', () => {
  it('speaks native by default, with clock and latency', async () => {
    srv = await publishingServer();
    const stream = connect(`127.0.0.1:${srv.port}`);
    const got: StreamFrame[] = [];
    for await (const f of stream) {
      got.push(f);
      if (got.length === 5) break;
    }
    expect(stream.protocol).toBe('native');
    expect(stream.handshake).toMatchObject({ protocol: 'native', clock: { sameHost: true } });
    for (const f of got) {
      expect(f.latencyMs).not.toBeNull();
      expect(f.latencyMs as number).toBeGreaterThanOrEqual(0);
      expect(f.latencyMs as number).toBeLessThan(5000);
      expect(f.receivedAt - (f.capturedAt as number)).toBe(f.latencyMs);
    }
  });

  it('legacy: a framecast server serves the seed framing to a client that says nothing', async () => {
    srv = await publishingServer();
    const stream = connect(`127.0.0.1:${srv.port}`, { protocol: 'legacy' });
    for await (const f of stream) {
      expect(f).toMatchObject({ width: 64, height: 48, capturedAt: null });
      break;
    }
    expect(stream.protocol).toBe('legacy');
  });

  it('reports a refusal as ERR_AUTH, thrown by the loop', async () => {
    srv = await publishingServer({ token: 'secret' });
    await expect(async () => {
      for await (const _ of connect(`127.0.0.1:${srv!.port}`, { token: 'nope' })) break;
    }).rejects.toMatchObject({ code: 'ERR_AUTH', message: expect.stringMatching(/wrong token/) });
    const frames: number[] = [];
    for await (const f of connect(`127.0.0.1:${srv.port}`, { token: 'secret' })) {
      frames.push(f.seq);
      if (frames.length === 2) break;
    }
    expect(frames).toHaveLength(2);
  });

  it('says the connection was lost when the server goes without END', async () => {
    const jpeg = await makeJpeg();
    fake = await fakeServer((socket) => {
      socket.on('data', () => {
        socket.write(Buffer.concat([encodePreamble(), encodeWelcome(Date.now(), Date.now(), 'fake')]));
        const frame = { seq: 0, width: 64, height: 48, capturedAt: Date.now(), encodedAt: Date.now(), jpeg };
        socket.write(encodeNativeFrame(frame, Date.now()), () => setTimeout(() => socket.destroy(), 20));
      });
    });
    const r = await run(fake.port);
    expect(r.frames).toHaveLength(1);
    expect(r.error?.code).toBe('ERR_CONNECTION');
    expect(r.error?.message).toMatch(/lost: the server closed without ending the stream/);
  });
});
