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
    streams: [
      { name: 'cam', source: 'publisher', publishToken: 'pub-secret-1' },
      { name: 'plain', source: 'test', width: 160 },
    ],
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
    const c = await makeJpeg(96, 64, 3);
    // Every image the body carried, as the stream took it (a viewer may be skipped past one: latest wins).
    const taken: Buffer[] = [];
    server?.streams.get('cam')?.ingest?.on('frame', (f) => taken.push(f.jpeg));
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
    curl.stdin.end(Buffer.concat([a, b, c]));
    expect((await waitExit(curl, 10_000)).code).toBe(0);
    expect(out.trim()).toBe('3 frames received');
    expect(taken).toEqual([a, b, c]);
    // The viewer got the last one (nothing follows it) byte for byte.
    await until(() => got.some((j) => j.equals(c)));
    client.close();
  }, 20_000);

  it('refuses a wrong token, a second publisher, a stream that takes none, and a body that is not JPEG', async () => {
    const { http } = await publisherServer();
    const post = (path: string, body: Buffer | string, token?: string): Promise<Response> =>
      fetch(`${http}${path}${token ? `?token=${token}` : ''}`, { method: 'POST', body });
    const jpeg = await makeJpeg(32, 32, 3);
    expect((await post('/streams/cam/publish', jpeg)).status).toBe(401);
    expect((await post('/streams/cam/publish', jpeg, 'wrong-token-1')).status).toBe(401);
    const none = await post('/streams/plain/publish', jpeg, 'pub-secret-1');
    expect(none.status).toBe(409);
    expect(await none.text()).toMatch(/stream plain takes no publisher/);
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

  it('a bad image ends its publisher (400 not a JPEG, 413 over 16 MiB) and leaves the viewers connected', async () => {
    const { port, http } = await publisherServer();
    const post = (body: Buffer): Promise<Response> =>
      fetch(`${http}/streams/cam/publish?token=pub-secret-1`, { method: 'POST', body });
    const got: Buffer[] = [];
    let ended: string | null = null;
    const client = new StreamClient(parseServerAddress(`127.0.0.1:${port}/cam`), { protocol: 'native' });
    client.on('frame', (f) => got.push(f.jpeg));
    client.on('end', (e) => (ended = `end:${e.reason}`));
    client.on('error', (e) => (ended = `error:${e.code}`));
    client.connect();
    const first = await makeJpeg(96, 64, 4);
    expect(await (await post(first)).text()).toBe('1 frames received\n');
    await until(() => got.some((j) => j.equals(first)));
    // A real image whose entropy-coded data goes on past the cap (16 MiB) without an end.
    const head = first.subarray(0, first.length - 2);
    const huge = Buffer.concat([head, Buffer.alloc(16 * 1024 * 1024 + 1 - head.length, 0x11)]);
    const tooBig = await post(huge).catch((err: unknown) => err as Error);
    expect(tooBig).toBeInstanceOf(Response);
    expect((tooBig as Response).status).toBe(413);
    expect(await (tooBig as Response).text()).toMatch(/exceeds 16777216 bytes/);
    const bad = await post(Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(100, 0x41)]));
    expect(bad.status).toBe(400);
    // Still connected; the next publisher's image reaches the same viewer.
    const next = await makeJpeg(96, 64, 5);
    expect((await post(next)).status).toBe(200);
    await until(() => got.some((j) => j.equals(next)));
    expect(ended).toBeNull();
    expect(server?.streams.get('cam')?.hub.totals.clientsServed).toBe(1);
    client.close();
  }, 30_000);

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
