import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { edge, type Edge } from '../../src/app/edge.js';
import { noSignalCacheSize, noSignalJpeg } from '../../src/encode/no-signal.js';
import {
  StreamClient,
  connect as play,
  parseServerAddress,
  serve,
  type FramecastServer,
} from '../../src/index.js';
import { NativeParser, type NativeMessage } from '../../src/protocol/native-parser.js';
import {
  ErrorCode,
  HelloFlag,
  encodeEnd,
  encodeHello,
  encodeNativeFrame,
} from '../../src/protocol/native.js';
import { resolveStreamConfig, StreamConfigError } from '../../src/streams/stream-options.js';
import { jpegInfo } from '../../src/util/jpeg.js';
import { startServe } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { startNats, type NatsServer } from '../helpers/nats.js';
import { makeJpeg } from '../helpers/native.js';
import { killTracked, sleep } from '../helpers/processes.js';
import { natsOrFail } from '../bus/support.js';

// Image-size bombs: a few KB of JPEG whose SOF claims 65535x65535 make a decoder allocate gigabytes.
// The server must refuse them from publishers and the bus, and never draw its own NO SIGNAL picture
// at a size a peer claimed (see docs/CONFIG.md, maxImagePixels).

const TOKEN = 'pub-secret-image-1';
const nats = natsOrFail();

let server: FramecastServer | null = null;
let natsServer: NatsServer | null = null;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  await server?.close();
  server = null;
  await natsServer?.stop();
  natsServer = null;
});
afterAll(killTracked);

/** Offset of the SOF0 segment's marker in a baseline JPEG (marker walk from SOI). */
function sofOffset(jpeg: Buffer): number {
  let i = 2;
  while (i + 4 <= jpeg.length) {
    const marker = jpeg[i + 1] as number;
    if (marker === 0xc0) return i;
    i += 2 + jpeg.readUInt16BE(i + 2);
  }
  throw new Error('no SOF0 in the test JPEG');
}

/** A small valid JPEG whose SOF0 was patched to claim width x height. */
async function bomb(width = 65535, height = 65535): Promise<Buffer> {
  const jpeg = Buffer.from(await makeJpeg(16, 16, 7));
  const at = sofOffset(jpeg);
  jpeg.writeUInt16BE(height, at + 5);
  jpeg.writeUInt16BE(width, at + 7);
  return jpeg;
}

/** The SOF sizes (WxH) of the frames whose JPEG or header claims more than the default bound (4096x4096 pixels). */
const oversized = (frames: readonly { jpeg: Buffer; width: number }[]): string[] =>
  frames.flatMap((f) => {
    const info = jpegInfo(f.jpeg);
    if (info && info.width * info.height <= 4096 * 4096 && f.width <= 4096) return [];
    return [info ? `${info.width}x${info.height}` : 'no SOF'];
  });

async function until(cond: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(20);
  expect(cond()).toBe(true);
}

/** A publisher speaking the protocol byte by byte; it records what the server says. */
interface RawPublisher {
  messages: NativeMessage[];
  closed: boolean;
  socket: net.Socket;
  send: (jpeg: Buffer, seq: number) => void;
}

async function rawPublisher(port: number, stream: string): Promise<RawPublisher> {
  const parser = new NativeParser(1 << 24);
  const p: RawPublisher = {
    messages: [],
    closed: false,
    socket: net.connect({ host: '127.0.0.1', port }),
    send: (jpeg, seq) =>
      p.socket.write(
        encodeNativeFrame(
          { seq, width: 0, height: 0, capturedAt: Date.now(), encodedAt: Date.now(), jpeg },
          Date.now(),
        ),
      ),
  };
  p.socket.on('data', (c: Buffer) => parser.push(c, (m) => p.messages.push(m)));
  p.socket.on('error', () => {});
  p.socket.on('close', () => (p.closed = true));
  p.socket.write(encodeHello(TOKEN, Date.now(), 2, HelloFlag.Publish, stream));
  cleanups.push(() => p.socket.destroy());
  await until(() => p.messages.some((m) => m.type === 'welcome'));
  return p;
}

const errorOf = (m: NativeMessage[]): { code: number; message: string } | undefined =>
  m.find((x): x is Extract<NativeMessage, { type: 'error' }> => x.type === 'error');

/** A native viewer recording each frame's JPEG and the header's size. */
function viewer(port: number, stream: string): { frames: { jpeg: Buffer; width: number }[] } {
  const v = { frames: [] as { jpeg: Buffer; width: number }[] };
  const c = new StreamClient(parseServerAddress(`127.0.0.1:${port}/${stream}`), { protocol: 'native' });
  c.on('frame', (f) => v.frames.push({ jpeg: f.jpeg, width: f.width }));
  c.on('error', () => {});
  c.connect();
  cleanups.push(() => c.close());
  return v;
}

async function publisherStream(width = 640): Promise<{ port: number; http: string }> {
  server = await serve({
    port: 0,
    httpPort: 0,
    streams: [{ name: 'cam', source: 'publisher', publishToken: TOKEN, width }],
  });
  return { port: server.address().port, http: `http://127.0.0.1:${server.httpAddress()?.port}` };
}

/** A bus peer that announces stream cam (64x48) as origin o1, now and whenever an edge asks. */
async function announcingPeer(url: string): Promise<NatsConnection> {
  const peer = await connect({ servers: url });
  cleanups.push(() => peer.close());
  const say = (): void =>
    peer.publish(
      'framecast.streams',
      JSON.stringify({ origin: 'o1', instance: 'i1', streams: [{ name: 'cam', width: 64, height: 48 }] }),
    );
  peer.subscribe('framecast.streams.ask', { callback: say });
  await peer.flush();
  say();
  return peer;
}

/** Resident memory of a process in MB, from /proc/PID/status. */
function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

describe('image-size bombs', () => {
  it('native publish of a 65535x65535 JPEG: ERROR 11, viewers never get it, the next normal frame flows', async () => {
    const { port } = await publisherStream();
    const v = viewer(port, 'cam');
    await until(() => v.frames.length >= 1);
    const pub = await rawPublisher(port, 'cam');
    pub.send(await bomb(), 0);
    await until(() => errorOf(pub.messages) !== undefined);
    expect(errorOf(pub.messages)?.code).toBe(ErrorCode.BadFrame);
    expect(errorOf(pub.messages)?.message).toMatch(/image too large: 65535x65535/);
    expect(pub.messages.some((m) => m.type === 'ack')).toBe(false);
    // An ERROR ends the publisher's connection (as any bad frame's does); it connects again.
    await until(() => pub.closed);
    const good = await makeJpeg(320, 240, 3);
    const again = await rawPublisher(port, 'cam');
    again.send(good, 1);
    await until(() => v.frames.some((f) => f.jpeg.equals(good)));
    expect(oversized(v.frames)).toEqual([]);
    expect(server?.streams.get('cam')?.images.refused).toBe(1);
  });

  it('HTTP publish of a 65535x65535 JPEG: 413, nothing delivered', async () => {
    const { port, http } = await publisherStream();
    const v = viewer(port, 'cam');
    await until(() => v.frames.length >= 1);
    const res = await fetch(`${http}/streams/cam/publish`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'image/jpeg' },
      body: await bomb(),
    });
    expect(res.status).toBe(413);
    expect(await res.text()).toMatch(/image too large: 65535x65535/);
    const stats = (await (await fetch(`${http}/streams/cam/stats`)).json()) as {
      totals: { imagesRefused: number };
    };
    expect(stats.totals.imagesRefused).toBe(1);
    await sleep(300);
    expect(oversized(v.frames)).toEqual([]);
    // A normal body is still taken.
    const good = await makeJpeg(320, 240, 4);
    const ok = await fetch(`${http}/streams/cam/publish`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}` },
      body: good,
    });
    expect(ok.status).toBe(200);
    await until(() => v.frames.some((f) => f.jpeg.equals(good)));
  });

  it("after a bomb's publisher leaves, NO SIGNAL has the stream's configured size", async () => {
    const { port } = await publisherStream(640);
    const v = viewer(port, 'cam');
    await until(() => v.frames.length >= 1);
    const pub = await rawPublisher(port, 'cam');
    // Over the bound, yet small enough that the old server drew it quickly (it drew up to 16383x16383).
    pub.send(await bomb(5000, 5000), 0);
    await sleep(200);
    pub.socket.end(encodeEnd('eof'));
    await until(() => pub.closed);
    const after = v.frames.length;
    // NO SIGNAL comes once a second: two of them after the publisher left.
    await until(() => v.frames.length >= after + 2, 10_000);
    for (const f of v.frames.slice(after)) expect(jpegInfo(f.jpeg)).toEqual({ width: 640, height: 360 });
  });

  it('framecast serve --max-image-pixels sets the bound of its streams', async () => {
    const srv = await startServe(['cam=publisher', '--http-port', 'off', '--max-image-pixels', '3000']);
    cleanups.push(() => srv.stop());
    const pub = await rawPublisher(srv.port, 'cam');
    pub.send(await makeJpeg(64, 48, 9), 0);
    await until(() => errorOf(pub.messages) !== undefined);
    expect(errorOf(pub.messages)).toEqual({
      type: 'error',
      code: ErrorCode.BadFrame,
      message: "bad frame 0: image too large: 64x48 is 3072 pixels, over the stream's maxImagePixels 3000",
    });
  });

  it('RSS stays within 50 MB of its baseline while 20 bombs are published and dropped', async () => {
    const srv = await startServe(['cam=publisher', '--http-port', 'off', '--width', '640']);
    cleanups.push(() => srv.stop());
    const v = viewer(srv.port, 'cam');
    await until(() => v.frames.length >= 1);
    // Warm up: one normal publisher, its frame and its departure, so the baseline has what they need.
    const warm = await rawPublisher(srv.port, 'cam');
    const good = await makeJpeg(320, 240, 5);
    warm.send(good, 0);
    await until(() => v.frames.some((f) => f.jpeg.equals(good)));
    warm.socket.end(encodeEnd('eof'));
    await sleep(1500);
    const baseline = rssMb(srv.pid);
    let peak = baseline;
    for (let i = 0; i < 20 && peak - baseline <= 50; i++) {
      const pub = await rawPublisher(srv.port, 'cam');
      pub.send(await bomb(16383 - i, 16383 - 2 * i), i);
      await until(() => pub.closed || pub.messages.some((m) => m.type === 'ack'));
      if (!pub.closed) pub.socket.end(encodeEnd('eof'));
      await sleep(150);
      peak = Math.max(peak, rssMb(srv.pid));
    }
    // NO SIGNAL pictures are drawn after the publishers left: give them time too.
    for (let t = 0; t < 10 && peak - baseline <= 50; t++) {
      await sleep(300);
      peak = Math.max(peak, rssMb(srv.pid));
    }
    expect(peak - baseline).toBeLessThan(50);
    expect(oversized(v.frames)).toEqual([]);
  }, 60_000);

  it.skipIf(!nats)(
    'an edge drops a bus frame whose JPEG or header claims an oversize; the next good one is served',
    async () => {
      natsServer = await startNats();
      const peer = await announcingPeer(natsServer.url);
      const e: Edge = await edge({ bus: { url: natsServer.url }, port: 0, httpPort: null });
      cleanups.push(() => e.close());
      const v = viewer(e.server.address().port, 'cam');
      await until(() => v.frames.length >= 1, 10_000);
      const frame = (seq: number, width: number, height: number, jpeg: Buffer): Buffer =>
        encodeNativeFrame(
          { seq, width, height, capturedAt: Date.now(), encodedAt: Date.now(), jpeg },
          Date.now(),
        );
      const good = await makeJpeg(64, 48, 6);
      // The JPEG's SOF claims 65535x65535 (the header is modest), then the header claims it (the JPEG is fine).
      peer.publish('framecast.s.cam.frame', frame(1, 64, 48, await bomb()));
      peer.publish('framecast.s.cam.frame', frame(2, 65535, 65535, good));
      peer.publish('framecast.s.cam.frame', frame(3, 64, 48, good));
      await until(() => v.frames.some((f) => f.jpeg.equals(good)), 10_000);
      await sleep(300);
      expect(oversized(v.frames)).toEqual([]);
      expect(v.frames.filter((f) => f.jpeg.equals(good))).toHaveLength(1);
      expect(e.server.streams.get('cam')?.images.refused).toBe(2);
    },
    60_000,
  );

  it.skipIf(!nats)(
    "an edge's own maxImagePixels (not the origin's) bounds what it takes from the bus",
    async () => {
      natsServer = await startNats();
      const peer = await announcingPeer(natsServer.url);
      const e: Edge = await edge({
        bus: { url: natsServer.url },
        port: 0,
        httpPort: null,
        maxImagePixels: 64 * 48 - 1,
      });
      cleanups.push(() => e.close());
      const v = viewer(e.server.address().port, 'cam');
      await until(() => v.frames.length >= 1, 10_000);
      const frame = await makeJpeg(64, 48, 8);
      peer.publish(
        'framecast.s.cam.frame',
        encodeNativeFrame(
          { seq: 1, width: 64, height: 48, capturedAt: Date.now(), encodedAt: Date.now(), jpeg: frame },
          Date.now(),
        ),
      );
      await until(() => e.server.streams.get('cam')?.images.refused === 1, 5000);
      expect(v.frames.some((f) => f.jpeg.equals(frame))).toBe(false);
    },
    60_000,
  );

  it('the NO SIGNAL picture cache is bounded: 12 sizes drawn, at most 4 kept', async () => {
    for (let i = 0; i < 12; i++) await noSignalJpeg(64 + 2 * i, 48, 80);
    expect(noSignalCacheSize()).toBeLessThanOrEqual(4);
  });

  it('a passthrough MJPEG source: a JPEG over the bound is dropped, the others are served byte for byte', async () => {
    const tmp = makeTempDir('framecast-bomb-');
    cleanups.push(tmp.cleanup);
    const good = await Promise.all([1, 2, 3].map((i) => makeJpeg(64, 48, i)));
    const path = join(tmp.dir, 'cam.mjpeg');
    writeFileSync(
      path,
      Buffer.concat([good[0] as Buffer, await bomb(), good[1] as Buffer, good[2] as Buffer]),
    );
    server = await serve({ source: path, passthrough: true, pace: false, port: 0, httpPort: null });
    const got: Buffer[] = [];
    for await (const f of play(`127.0.0.1:${server.address().port}`)) got.push(f.jpeg);
    expect(oversized(got.map((jpeg) => ({ jpeg, width: 0 })))).toEqual([]);
    expect(got).toEqual(good);
    expect(server.streams.list()[0]?.images.refused).toBe(1);
  });

  it('maxImagePixels: 4096x4096 by default, 256 to 16384x16384, other values refused with the field named', () => {
    expect(resolveStreamConfig('cam', { source: 'publisher' }).maxImagePixels).toBe(16_777_216);
    expect(
      resolveStreamConfig('cam', { source: 'publisher', maxImagePixels: 640 * 480 }).maxImagePixels,
    ).toBe(307_200);
    for (const bad of [255, 16384 * 16384 + 1, 1.5, '1000']) {
      const err = (() => {
        try {
          resolveStreamConfig('cam', { source: 'publisher', maxImagePixels: bad as number });
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err).toBeInstanceOf(StreamConfigError);
      expect((err as StreamConfigError).field).toBe('maxImagePixels');
    }
  });
});
