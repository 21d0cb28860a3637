/**
 * A native hello that arrives after the server's hello grace (a loaded machine delayed the client):
 * the server has begun the seed framing, then answers the hello between two seed frames, and the
 * connection goes on natively. Real serve() on 127.0.0.1:0, a raw socket read by the client's own
 * WireReader, and the client itself.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { serve } from '../../src/app/serve.js';
import { StreamClient } from '../../src/client/stream-client.js';
import { WireReader, type WireHandlers } from '../../src/client/wire-reader.js';
import { parseServerAddress } from '../../src/client/address.js';
import { createPublisher } from '../../src/hub/publisher.js';
import { encodeHello } from '../../src/protocol/native.js';
import type { NativeMessage } from '../../src/protocol/native-parser.js';
import { makeJpeg, publishingServer } from '../helpers/native.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A raw connection to `port` read by the client's own WireReader (`seed` and `upgraded` default to
 * nothing); `hello()` sends a native hello then, as a client whose hello came late.
 */
function rawClient(port: number, handlers: Omit<WireHandlers, 'seed' | 'upgraded'> & Partial<WireHandlers>) {
  const reader = new WireReader(1 << 24, false, 'test', { seed: () => {}, upgraded: () => {}, ...handlers });
  const socket = net.connect({ host: '127.0.0.1', port });
  closers.push(() => void socket.destroy());
  socket.on('data', (chunk: Buffer) => reader.push(chunk, Date.now()));
  const hello = (): void => {
    reader.helloSent();
    socket.write(encodeHello('', Date.now()));
  };
  return { reader, socket, hello };
}

describe('a native hello after the hello grace', () => {
  it('is answered between two seed frames: whole seed frames, then the welcome and native frames', async () => {
    const srv = await publishingServer({ helloGraceMs: 10 });
    closers.push(() => srv.close());
    const jpeg = await makeJpeg();
    const seed: Buffer[] = [];
    const native: NativeMessage[] = [];
    let upgrades = 0;
    const joined: string[] = [];
    const left: string[] = [];
    srv.server.on('client', (s) => joined.push(s.protocol));
    srv.server.on('left', (st) => left.push(st.protocol));
    const { reader, hello } = rawClient(srv.port, {
      payload: (p) => seed.push(Buffer.from(p)),
      message: (m) => native.push(m),
      upgraded: () => upgrades++,
    });
    // A seed client as far as the server can tell: silent until frames come.
    await until(() => seed.length >= 3, 5000, 'three seed frames');
    expect(reader.mode).toBe('legacy');
    hello();
    await until(() => native.filter((m) => m.type === 'frame').length >= 3, 5000, 'three native frames');
    expect(upgrades).toBe(1);
    expect(reader.mode).toBe('native');
    // Every seed frame came whole (the seed framing's base64 of the published JPEG).
    for (const p of seed) expect(Buffer.from(p.toString('latin1'), 'base64').equals(jpeg)).toBe(true);
    expect(native[0]).toMatchObject({ type: 'welcome', server: expect.stringMatching(/^framecast\//) });
    const frames = native.filter((m): m is Extract<NativeMessage, { type: 'frame' }> => m.type === 'frame');
    for (const f of frames) expect(f.jpeg.equals(jpeg)).toBe(true);
    // One client now, the native one: the seed one left the hub.
    expect(joined).toEqual(['legacy', 'native']);
    expect(left).toEqual(['legacy']);
  });

  it('keeps its place when the server is full: the upgrade is no new client (max clients 1, no waiting line)', async () => {
    const srv = await publishingServer({ helloGraceMs: 10, maxClients: 1, maxWaiting: 0 });
    closers.push(() => srv.close());
    const seed: Buffer[] = [];
    const native: NativeMessage[] = [];
    const { hello } = rawClient(srv.port, {
      payload: (p) => seed.push(Buffer.from(p)),
      message: (m) => native.push(m),
    });
    await until(() => seed.length >= 2, 5000, 'two seed frames');
    hello();
    await until(
      () => native.some((m) => m.type === 'error') || native.filter((m) => m.type === 'frame').length >= 3,
      5000,
      'native frames or an error',
    );
    expect(native.filter((m) => m.type === 'error')).toEqual([]);
    expect(native[0]).toMatchObject({ type: 'welcome' });
  });

  it('no frame comes twice across the switch: the native side skips what the seed side sent', async () => {
    // Every frame is a different JPEG, so the order the client got them in is readable from the bytes.
    const jpegs = await Promise.all(Array.from({ length: 40 }, (_, i) => makeJpeg(64, 48, i)));
    const index = new Map(jpegs.map((j, i) => [j.toString('base64'), i]));
    const publisher = createPublisher({ name: 'numbered' });
    let n = 0;
    let timer: NodeJS.Timeout | null = null;
    publisher.on('start', () => {
      timer = setInterval(() => publisher.publish(jpegs[n++ % jpegs.length] as Buffer), 15);
    });
    publisher.on('stop', () => timer && clearInterval(timer));
    const server = await serve({ port: 0, helloGraceMs: 10, publisher });
    closers.push(async () => {
      if (timer) clearInterval(timer);
      await server.close();
    });
    const got: number[] = [];
    const { reader, hello } = rawClient(server.address().port, {
      payload: (p) => got.push(index.get(p.toString('latin1')) ?? -1),
      message: (m) => m.type === 'frame' && got.push(index.get(m.jpeg.toString('base64')) ?? -1),
    });
    await until(() => got.length >= 2, 5000, 'two seed frames');
    hello();
    await until(() => reader.mode === 'native' && got.length >= 12, 5000, 'frames after the switch');
    expect(got).not.toContain(-1);
    // In order, never the same frame twice (a frame may be skipped: the latest frame wins).
    for (let i = 1; i < got.length; i++) expect(got[i]).toBeGreaterThan(got[i - 1] as number);
  });

  it('bytes a seed client writes that do not spell the magic are ignored; the seed framing goes on', async () => {
    const srv = await publishingServer({ helloGraceMs: 10 });
    closers.push(() => srv.close());
    const seed: Buffer[] = [];
    let upgrades = 0;
    const { reader, socket } = rawClient(srv.port, {
      payload: (p) => seed.push(Buffer.from(p)),
      message: () => {},
      upgraded: () => upgrades++,
    });
    reader.helloSent();
    await until(() => seed.length >= 1, 5000, 'a seed frame');
    // "FCSX" shares three bytes with the magic; then the magic itself, which no longer counts.
    socket.write('FCSX');
    socket.write(encodeHello('', Date.now()));
    const before = seed.length;
    await until(() => seed.length >= before + 5, 5000, 'five more seed frames');
    expect(upgrades).toBe(0);
    expect(reader.mode).toBe('legacy');
  });

  it("the client's hello reaches a server that already chose the seed framing: play settles native", async () => {
    // The publisher's first frame comes 150 ms after the start: the server takes the client for a
    // seed client at 10 ms, the client's hello (sent ~40 ms after connecting) comes before any frame.
    const jpeg = await makeJpeg();
    const publisher = createPublisher({ name: 'late frames' });
    let timer: NodeJS.Timeout | null = null;
    publisher.on('start', () => {
      timer = setTimeout(function tick() {
        publisher.publish(jpeg);
        timer = setTimeout(tick, 20);
      }, 150);
    });
    publisher.on('stop', () => timer && clearTimeout(timer));
    const server = await serve({ port: 0, helloGraceMs: 10, publisher });
    closers.push(async () => {
      if (timer) clearTimeout(timer);
      await server.close();
    });
    const upgraded: string[] = [];
    server.on('upgraded', (a) => upgraded.push(a));
    const client = new StreamClient(parseServerAddress(`127.0.0.1:${server.address().port}`));
    closers.push(() => client.close());
    const protocols: string[] = [];
    const seqs: number[] = [];
    client.on('handshake', (h) => protocols.push(h.protocol));
    client.on('frame', (f) => seqs.push(f.seq));
    client.on('error', () => {});
    client.connect();
    await until(() => seqs.length >= 5, 5000, 'five frames');
    expect(protocols).toEqual(['native']);
    expect(client.protocol).toBe('native');
    expect(upgraded).toHaveLength(1);
  });
});
