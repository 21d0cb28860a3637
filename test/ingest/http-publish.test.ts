import net from 'node:net';
import { spawn } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { StreamClient, parseServerAddress, serve, type FramecastServer } from '../../src/index.js';
import { jpegInfo } from '../../src/util/jpeg.js';
import { FFMPEG } from '../helpers/fixtures.js';
import { openMjpeg } from '../helpers/mjpeg.js';
import { makeJpeg } from '../helpers/native.js';
import { killTracked, sleep, spawnTracked, waitExit } from '../helpers/processes.js';

let server: FramecastServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});
afterAll(killTracked);

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(25);
  expect(cond()).toBe(true);
}

async function publisherServer(): Promise<{ port: number; http: string }> {
  server = await serve({
    port: 0,
    httpPort: 0,
    httpRequestTimeoutMs: 1000,
    streams: [{ name: 'cam', source: 'publisher', publishToken: 'pub-secret-1' }],
  });
  return { port: server.address().port, http: `http://127.0.0.1:${server.httpAddress()?.port}` };
}

describe('publishing over HTTP', () => {
  it("ffmpeg's own -f mpjpeg -method POST feeds native, seed, MJPEG and WebSocket viewers", async () => {
    const { port, http } = await publisherServer();
    // Viewers first: they see no-signal until ffmpeg publishes.
    const native: { w: number; h: number }[] = [];
    const client = new StreamClient(parseServerAddress(`127.0.0.1:${port}/cam`), { protocol: 'native' });
    client.on('frame', (f) => native.push({ w: f.width, h: f.height }));
    client.on('error', () => {});
    client.connect();
    let seedBytes = 0;
    const seed = net.connect({ host: '127.0.0.1', port });
    seed.on('data', (c: Buffer) => (seedBytes += c.length));
    seed.on('error', () => {});
    const mjpeg = openMjpeg(`${http}/streams/cam/stream.mjpg`, { keep: true });
    let wsFrames = 0;
    const ws = new WebSocket(`${http.replace('http', 'ws')}/streams/cam/ws`);
    ws.on('message', (d: Buffer) => jpegInfo(d.subarray(40))?.width === 320 && wsFrames++);
    ws.on('error', () => {});
    await sleep(300);
    // 3 s of publishing: longer than the server's 1 s whole-request deadline, which a publisher is exempt from.
    const ff = spawnTracked(FFMPEG, [
      ...[
        '-hide_banner',
        '-v',
        'error',
        '-nostdin',
        '-re',
        '-f',
        'lavfi',
        '-i',
        'testsrc2=size=320x240:rate=15',
      ],
      ...['-t', '3', '-f', 'mpjpeg', '-method', 'POST', `${http}/streams/cam/publish?token=pub-secret-1`],
    ]);
    let ffErr = '';
    ff.stderr?.on('data', (d: Buffer) => (ffErr += d.toString()));
    const exit = await waitExit(ff, 20_000);
    expect([exit.code, ffErr.trim()]).toEqual([0, '']);
    await until(() => native.filter((f) => f.w === 320 && f.h === 240).length >= 25);
    await until(() => mjpeg.parts.filter((p) => jpegInfo(p.body)?.width === 320).length >= 10);
    await until(() => wsFrames >= 10);
    // The seed framing got bytes for real frames beyond the first NO SIGNAL pictures.
    expect(seedBytes).toBeGreaterThan(100_000);
    client.close();
    seed.destroy();
    mjpeg.close();
    ws.close();
  }, 40_000);

  it('curl with JPEGs simply concatenated: every image arrives byte for byte; the answer counts them', async () => {
    const { port, http } = await publisherServer();
    const a = await makeJpeg(96, 64, 1);
    const b = await makeJpeg(96, 64, 2);
    const got: Buffer[] = [];
    const client = new StreamClient(parseServerAddress(`127.0.0.1:${port}/cam`), { protocol: 'native' });
    client.on('frame', (f) => got.push(f.jpeg));
    client.on('error', () => {});
    client.connect();
    await sleep(300);
    const curl = spawn('curl', [
      '-sS',
      '--data-binary',
      '@-',
      '-H',
      'Authorization: Bearer pub-secret-1',
      `${http}/publish`,
    ]);
    let out = '';
    curl.stdout.on('data', (d: Buffer) => (out += d.toString()));
    curl.stdin.end(Buffer.concat([a, b]));
    expect((await waitExit(curl, 10_000)).code).toBe(0);
    expect(out.trim()).toBe('2 frames received');
    await until(() => got.some((j) => j.equals(b)));
    expect(got.filter((j) => j.equals(a) || j.equals(b)).length).toBeGreaterThanOrEqual(1);
    client.close();
  }, 20_000);

  it('refuses a wrong token, a second publisher, a stream that takes none, and a body that is not JPEG', async () => {
    const { http } = await publisherServer();
    const post = (path: string, body: Buffer | string, token?: string): Promise<Response> =>
      fetch(`${http}${path}${token ? `?token=${token}` : ''}`, { method: 'POST', body });
    const jpeg = await makeJpeg(32, 32, 3);
    expect((await post('/streams/cam/publish', jpeg)).status).toBe(401);
    expect((await post('/streams/cam/publish', jpeg, 'wrong-token-1')).status).toBe(401);
    const garbage = await post('/streams/cam/publish', Buffer.alloc(20_000, 0x41), 'pub-secret-1');
    expect(garbage.status).toBe(400);
    expect(await garbage.text()).toMatch(/more than 16384 bytes between two JPEG images/);
    // A publisher that holds the stream (a slow, endless body), then a second one.
    const holder = net.connect({ host: '127.0.0.1', port: Number(new URL(http).port) });
    holder.on('error', () => {});
    holder.write(
      'POST /streams/cam/publish?token=pub-secret-1 HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n' +
        `${jpeg.length.toString(16)}\r\n`,
    );
    holder.write(Buffer.concat([jpeg, Buffer.from('\r\n')]));
    await until(() => server?.streams.get('cam')?.ingest?.current !== null);
    const second = await post('/streams/cam/publish', jpeg, 'pub-secret-1');
    expect(second.status).toBe(409);
    expect(await second.text()).toMatch(/already has a publisher/);
    holder.destroy();
    await until(() => server?.streams.get('cam')?.ingest?.current === null);
  }, 20_000);

  it('other requests still have a whole-request deadline (a slow body gets 408)', async () => {
    server = await serve({ port: 0, httpPort: 0, httpRequestTimeoutMs: 1000, adminToken: 'admin-secret-1' });
    const s = net.connect({ host: '127.0.0.1', port: server.httpAddress()?.port as number });
    let answer = '';
    s.on('data', (d: Buffer) => (answer += d.toString()));
    s.on('error', () => {});
    s.write(
      'PUT /api/streams/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer admin-secret-1\r\n' +
        'Content-Length: 100\r\n\r\n{"sou',
    );
    await until(() => answer.length > 0, 5000);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    s.destroy();
  });
});
