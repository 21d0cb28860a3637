import net from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connect, serve, type FramecastServer } from '../../src/index.js';
import { jpegInfo } from '../../src/util/jpeg.js';
import { runCli } from '../helpers/cli.js';
import { openMjpeg } from '../helpers/mjpeg.js';
import { killTracked, sleep } from '../helpers/processes.js';

let server: FramecastServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});
afterAll(killTracked);

/** The first frame's size through the native protocol, or the error code. */
async function nativeSize(address: string, token?: string): Promise<string> {
  try {
    for await (const f of connect(address, token === undefined ? {} : { token }))
      return `${f.width}x${f.height}`;
    return 'ended';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

/** The first MJPEG part's size, or the HTTP status. */
async function mjpegSize(url: string): Promise<string> {
  const status = await fetch(url, { method: 'HEAD' }).then((r) => r.status);
  if (status !== 200) return String(status);
  const v = openMjpeg(url, { keep: true });
  for (let i = 0; i < 100 && v.parts.length === 0; i++) await sleep(50);
  v.close();
  const info = v.parts[0] ? jpegInfo(v.parts[0].body) : null;
  return info ? `${info.width}x${info.height}` : 'none';
}

/** The first WebSocket frame's size (from its JPEG), or the refusal's status. */
function wsSize(url: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => {
      resolve(String(res.statusCode));
      ws.terminate();
    });
    ws.on('error', () => resolve('error'));
    ws.on('message', (data: Buffer) => {
      // The native FRAME message: 40 bytes of envelope and header, then the JPEG.
      const info = jpegInfo(data.subarray(40));
      resolve(info ? `${info.width}x${info.height}` : 'bad');
      ws.close();
    });
  });
}

/** A seed client's first frame's size (length + base64 JPEG). */
function seedSize(port: number): Promise<string> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const jpeg = Buffer.from(buf.subarray(4, 4 + buf.readUInt32BE(0)).toString('latin1'), 'base64');
        const info = jpegInfo(jpeg);
        resolve(info ? `${info.width}x${info.height}` : 'bad');
        s.destroy();
      }
    });
    s.on('error', () => resolve('error'));
    s.on('close', () => resolve('closed'));
  });
}

describe('named streams', () => {
  it('serves two streams of different sizes at once, each on native, MJPEG, WebSocket and seed TCP', async () => {
    server = await serve({
      port: 0,
      httpPort: 0,
      streams: [
        { name: 'big', source: 'test', width: 640 },
        { name: 'small', source: 'test', width: 320, legacyPort: 0 },
      ],
    });
    const port = server.address().port;
    const http = `127.0.0.1:${server.httpAddress()?.port}`;
    const [nBig, nSmall, mBig, mSmall, wBig, wSmall, seedMain, seedSmall] = await Promise.all([
      nativeSize(`127.0.0.1:${port}/big`),
      nativeSize(`127.0.0.1:${port}/small`),
      mjpegSize(`http://${http}/streams/big/stream.mjpg`),
      mjpegSize(`http://${http}/streams/small/stream.mjpg`),
      wsSize(`ws://${http}/streams/big/ws`),
      wsSize(`ws://${http}/streams/small/ws`),
      seedSize(port),
      seedSize(server.legacyAddress('small')?.port as number),
    ]);
    expect({ nBig, nSmall, mBig, mSmall, wBig, wSmall, seedMain, seedSmall }).toEqual({
      nBig: '640x360',
      nSmall: '320x180',
      mBig: '640x360',
      mSmall: '320x180',
      wBig: '640x360',
      wSmall: '320x180',
      // The first stream is the default: seed clients on the main port and the plain paths get it.
      seedMain: '640x360',
      seedSmall: '320x180',
    });
    expect(await mjpegSize(`http://${http}/stream.mjpg`)).toBe('640x360');
    const snap = await fetch(`http://${http}/streams/small/snapshot.jpg`);
    expect(jpegInfo(Buffer.from(await snap.arrayBuffer()))).toEqual({ width: 320, height: 180 });
    const page = await fetch(`http://${http}/streams/small/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('framecast — small');
    const stats = (await (await fetch(`http://${http}/stats`)).json()) as { streams: { name: string }[] };
    expect(stats.streams.map((s) => s.name)).toEqual(['big', 'small']);
  }, 30_000);

  it('an unknown stream is a clear error on every transport, and exit code 1 for play', async () => {
    server = await serve({ port: 0, httpPort: 0, streams: [{ name: 'cam', source: 'test', width: 160 }] });
    const port = server.address().port;
    const http = `127.0.0.1:${server.httpAddress()?.port}`;
    expect(await nativeSize(`127.0.0.1:${port}/nope`)).toBe('ERR_UNKNOWN_STREAM');
    const r = await fetch(`http://${http}/streams/nope/stream.mjpg`);
    expect(r.status).toBe(404);
    expect(await r.text()).toContain('no stream named nope');
    expect(await wsSize(`ws://${http}/streams/nope/ws`)).toBe('404');
    const play = await runCli(['play', `127.0.0.1:${port}/nope`, '--view', 'none', '--frames', '1']);
    expect(play.code).toBe(1);
    expect(play.stderr.trim().split('\n').at(-1)).toBe(
      `framecast: 127.0.0.1:${port} refused the connection: no stream named nope`,
    );
    // None of them became a client of the stream that exists.
    expect(server.streams.get('cam')?.hub.clientCount).toBe(0);
    expect(await nativeSize(`127.0.0.1:${port}/cam`)).toBe('160x90');
  }, 30_000);

  it("a stream's readToken opens that stream and no other, on every transport; the server token opens all", async () => {
    server = await serve({
      port: 0,
      httpPort: 0,
      token: 'server-secret-1',
      streams: [
        { name: 'a', source: 'test', width: 160, readToken: 'only-a-secret' },
        { name: 'b', source: 'test', width: 192, readToken: 'only-b-secret' },
      ],
    });
    const port = server.address().port;
    const http = `127.0.0.1:${server.httpAddress()?.port}`;
    const q = (t: string): string => `?token=${t}`;
    const results = await Promise.all([
      nativeSize(`127.0.0.1:${port}/a`, 'only-a-secret'),
      nativeSize(`127.0.0.1:${port}/b`, 'only-a-secret'),
      nativeSize(`127.0.0.1:${port}/b`, 'server-secret-1'),
      nativeSize(`127.0.0.1:${port}/b`),
      mjpegSize(`http://${http}/streams/a/stream.mjpg${q('only-a-secret')}`),
      mjpegSize(`http://${http}/streams/b/stream.mjpg${q('only-a-secret')}`),
      fetch(`http://${http}/streams/b/snapshot.jpg${q('only-a-secret')}`).then((r) => r.status),
      fetch(`http://${http}/streams/a/snapshot.jpg${q('only-a-secret')}`).then((r) => r.status),
      wsSize(`ws://${http}/streams/b/ws${q('only-a-secret')}`),
      wsSize(`ws://${http}/streams/b/ws${q('only-b-secret')}`),
      fetch(`http://${http}/streams/b/${q('only-a-secret')}`).then((r) => r.status),
      fetch(`http://${http}/stats${q('only-a-secret')}`).then((r) => r.status),
      fetch(`http://${http}/stats${q('server-secret-1')}`).then((r) => r.status),
      // The default stream's plain paths follow its own token (a is the first stream).
      mjpegSize(`http://${http}/stream.mjpg${q('only-a-secret')}`),
    ]);
    expect(results).toEqual([
      '160x90',
      'ERR_AUTH',
      '192x108',
      'ERR_AUTH',
      '160x90',
      '401',
      401,
      200,
      '401',
      '192x108',
      401,
      401,
      200,
      '160x90',
    ]);
  }, 30_000);

  it('/healthz and /readyz answer without a token and start no source; /metrics labels every stream', async () => {
    server = await serve({
      port: 0,
      httpPort: 0,
      token: 'server-secret-1',
      streams: [
        { name: 'a', source: 'test', width: 160 },
        { name: 'b', source: 'test', width: 160 },
      ],
    });
    const http = `http://127.0.0.1:${server.httpAddress()?.port}`;
    expect((await fetch(`${http}/healthz`)).status).toBe(200);
    const ready = await fetch(`${http}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    expect(server.streams.list().map((s) => s.hub.totals.transmissions)).toEqual([0, 0]);
    expect(await nativeSize(`127.0.0.1:${server.address().port}/b`, 'server-secret-1')).toBe('160x90');
    const metrics = await (await fetch(`${http}/metrics?token=server-secret-1`)).text();
    expect(metrics).toMatch(/framecast_frames_encoded_total\{stream="b"\} [1-9]/);
    expect(metrics).toMatch(/framecast_transmissions_total\{stream="a"\} 0/);
    expect(metrics).toMatch(/framecast_frames_sent_total\{protocol="native",stream="b"\} [1-9]/);
    // Hold the shutdown after its first step (not ready any more) while the port still answers.
    let release = (): void => {};
    server.onClose(() => new Promise<void>((r) => (release = r)));
    const closing = server.close();
    try {
      const notReady = await fetch(`${http}/readyz`);
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toEqual({ status: 'not ready' });
      expect((await fetch(`${http}/healthz`)).status).toBe(200);
    } finally {
      release();
    }
    await closing;
  }, 30_000);

  it('serve NAME=SOURCE ... from the command line; play HOST:PORT/NAME', async () => {
    const { startServe } = await import('../helpers/cli.js');
    const srv = await startServe(['one=test', 'two=test', '--width', '160', '--http-port', 'off']);
    const listening = await srv.waitForEvent('listening');
    expect((listening['streams'] as { name: string }[]).map((s) => s.name)).toEqual(['one', 'two']);
    const play = await runCli([
      'play',
      `127.0.0.1:${srv.port}/two`,
      '--view',
      'none',
      '--frames',
      '5',
      '--json',
    ]);
    expect(play.code).toBe(0);
    expect(JSON.parse(play.stdout.trim().split('\n').at(-1) as string)).toMatchObject({
      frames: 5,
      width: 160,
    });
    const client = await srv.waitForEvent('client');
    expect(client['stream']).toBe('two');
    await srv.stop();
  }, 30_000);
});
