/**
 * `serve --encoder ffmpeg`: ffmpeg encodes the JPEGs itself and the server cuts its MJPEG stream into
 * frames. Every frame must reach legacy, native and seed clients whole, 800 px wide and decodable.
 */
import net from 'node:net';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collectOutput, REPO_ROOT, runCli, runPlay, startServe } from '../helpers/cli.js';
import { makeClip, scaledSize, type Clip } from '../helpers/fixtures.js';
import { splitLegacyStream } from '../helpers/net.js';
import { killTracked, sleep, spawnTracked, waitExit } from '../helpers/processes.js';
import { cv2Available, PYTHON } from '../helpers/python.js';

let clip: Clip;
beforeAll(() => {
  clip = makeClip({ seconds: 2 });
});
afterEach(killTracked);
afterAll(killTracked);

/** Connects as a seed client (never says hello) and reads until the server closes. */
async function legacyPayloads(port: number, stallMs = 0): Promise<Buffer[]> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.pause();
  await sleep(stallMs);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await new Promise<void>((r) => {
    socket.once('close', () => r());
    socket.resume();
  });
  return splitLegacyStream(Buffer.concat(chunks)).map((p) => Buffer.from(p.toString('latin1'), 'base64'));
}

describe('serve --encoder ffmpeg', () => {
  it('--no-pace: a legacy client gets every frame, each a decodable 800x450 JPEG', async () => {
    const srv = await startServe([clip.path, '--no-pace', '--encoder', 'ffmpeg']);
    const jpegs = await legacyPayloads(srv.port);
    expect(jpegs).toHaveLength(clip.frames);
    const { width, height } = scaledSize(clip);
    for (const jpeg of jpegs) {
      const { info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height]).toEqual([width, height]);
    }
    expect(srv.events.find((e) => e.event === 'listening')).toMatchObject({
      options: { encoder: 'ffmpeg' },
    });
    expect(await srv.waitForEvent('left')).toMatchObject({ framesSent: clip.frames, drops: 0 });
    await srv.stop();
  });

  it('--no-pace: a native client gets every frame with capture timestamps', async () => {
    const srv = await startServe([clip.path, '--no-pace', '--encoder', 'ffmpeg']);
    const r = await runPlay(srv.port);
    expect(r.code, r.stderr).toBe(0);
    expect(r.summary).toMatchObject({
      frames: clip.frames,
      badFrames: 0,
      protocol: 'native',
      ...scaledSize(clip),
    });
    expect(r.summary!.latencyMs!.p50).toBeGreaterThanOrEqual(0);
    await srv.stop();
  });

  it('--no-pace never drops: a stalled reader holds ffmpeg back, then gets every frame', async () => {
    const long = makeClip({ seconds: 3 });
    const srv = await startServe([long.path, '--no-pace', '--encoder', 'ffmpeg', '--quality', '100']);
    const jpegs = await legacyPayloads(srv.port, 1000);
    expect(jpegs).toHaveLength(long.frames);
    expect(jpegs.reduce((n, j) => n + j.length, 0)).toBeGreaterThan(3_000_000);
    expect(await srv.waitForEvent('left')).toMatchObject({ framesSent: long.frames, drops: 0 });
    await srv.stop();
  });

  it('paced: frames arrive at the source rate', async () => {
    const srv = await startServe([clip.path, '--encoder', 'ffmpeg']);
    const r = await runPlay(srv.port);
    expect(r.summary).toMatchObject({ frames: clip.frames, badFrames: 0 });
    expect(r.summary!.seconds).toBeGreaterThan(1.5);
    await srv.stop();
  });

  it('rejects an unknown encoder with a usage error', async () => {
    const r = await runCli(['serve', clip.path, '--encoder', 'x264', '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--encoder must be one of libjpeg, ffmpeg, got 'x264'/);
  });

  const cv2 = cv2Available();
  it.skipIf(!cv2.ok)('the seed cliente.py receives every frame, 800 px wide, none bad', async () => {
    const srv = await startServe([clip.path, '--no-pace', '--encoder', 'ffmpeg']);
    const child = spawnTracked(
      PYTHON,
      [join(REPO_ROOT, 'test', 'interop', 'seed', 'cliente.py'), '127.0.0.1', String(srv.port)],
      {
        env: { ...process.env, SEED_HEADLESS: '1', PYTHONUNBUFFERED: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const out = collectOutput(child);
    const exit = await waitExit(child, 30_000);
    await sleep(50);
    expect(exit.code, out.text()).toBe(0);
    const line = out.lines.find((l) => l.startsWith('{'));
    const { width, height } = scaledSize(clip);
    expect(JSON.parse(line ?? 'null')).toMatchObject({
      frames: clip.frames,
      badFrames: 0,
      sizes: [`${width}x${height}`],
    });
    await srv.stop();
  });
});

describe('resolveServeOptions encoder', () => {
  it('defaults to libjpeg and range-checks the API option', async () => {
    const { resolveServeOptions } = await import('../../src/app/serve.js');
    expect(resolveServeOptions({}).encoder).toBe('libjpeg');
    expect(resolveServeOptions({ encoder: 'ffmpeg' }).encoder).toBe('ffmpeg');
    expect(() => resolveServeOptions({ encoder: 'x264' as 'ffmpeg' })).toThrow(RangeError);
  });
});
