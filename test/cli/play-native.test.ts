/**
 * `framecast play` with the native protocol, through the real CLI: latency, token, --record,
 * --save-dir, --reconnect across a server restart, and a lost server without it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collectOutput, runCli, runPlay, spawnCli, spawnCliInPty, startServe } from '../helpers/cli.js';
import { countFrames, makeTempDir } from '../helpers/fixtures.js';
import { killTracked, sleep, waitExit } from '../helpers/processes.js';

// The tests set the token explicitly; one inherited from the environment would change every outcome.
const env = { FRAMECAST_TOKEN: '' };
let tmp: ReturnType<typeof makeTempDir>;
beforeAll(() => {
  tmp = makeTempDir('framecast-play-native-');
});
afterEach(killTracked);
afterAll(async () => {
  await killTracked();
  tmp.cleanup();
});

interface NativeSummary {
  frames: number;
  protocol: string;
  latencyMs: { p50: number; p95: number; p99: number; samples: number } | null;
  clock: { sync: string; offsetMs: number; rttMs: number } | null;
  reconnects: number;
  gapMs: number;
  record?: { file: string; frames: number; dropped: number };
  saved?: { dir: string; saved: number; dropped: number };
  error?: { code: string; message: string };
}

describe('play (native protocol)', () => {
  it('reports latency percentiles and how they were measured', async () => {
    const srv = await startServe(['test', '--http-port', 'off'], { env });
    const r = await runPlay(srv.port, ['--frames', '20'], { env });
    const s = r.summary as unknown as NativeSummary;
    expect(r.code).toBe(0);
    expect(s).toMatchObject({ frames: 20, protocol: 'native', reconnects: 0, clock: { sync: 'same-host' } });
    expect(s.latencyMs?.samples).toBe(20);
    for (const k of ['p50', 'p95', 'p99'] as const) {
      expect(s.latencyMs?.[k]).toBeGreaterThanOrEqual(0);
      expect(s.latencyMs?.[k]).toBeLessThan(2000);
    }
    expect(s.latencyMs!.p50).toBeLessThanOrEqual(s.latencyMs!.p99);
    await srv.stop();
  });

  it('shows latency p50/p95/p99 in the terminal status line and says the clock is exact', async () => {
    const srv = await startServe(['test', '--http-port', 'off'], { env });
    const play = spawnCliInPty(['play', `127.0.0.1:${srv.port}`, '--duration', '1.5'], { env });
    const out = collectOutput(play);
    const exit = await waitExit(play, 15_000);
    expect(exit.code).toBe(0);
    expect(out.text()).toMatch(/FPS: \d+ \| .*latency p50 \d+\.\d ms p95 \d+\.\d ms p99 \d+\.\d ms/);
    expect(out.text()).toMatch(/\[native\]\s+latency exact \(same-host clock\)/);
    await srv.stop();
  });

  it('uses the token from the environment, and is told why without it; the server never prints it', async () => {
    const token = 'tok-8f3a1c';
    const srv = await startServe(['test', '--http-port', 'off'], { env: { FRAMECAST_TOKEN: token } });
    const ok = await runPlay(srv.port, ['--frames', '5'], { env: { FRAMECAST_TOKEN: token } });
    expect(ok.code).toBe(0);
    expect(ok.summary?.frames).toBe(5);

    const no = await runPlay(srv.port, ['--frames', '5'], { env });
    expect(no.code).toBe(1);
    expect((no.summary as unknown as NativeSummary).error?.code).toBe('ERR_AUTH');
    expect(no.stderr).toMatch(/requires a token .*--token or FRAMECAST_TOKEN/);

    const legacy = await runPlay(srv.port, ['--protocol', 'legacy', '--frames', '5'], { env });
    expect(legacy.code).toBe(1);
    expect(legacy.stderr).toMatch(/closed the connection before sending any frame/);

    await srv.waitForEvents('refused', 2);
    const reasons = srv.events.filter((e) => e.event === 'refused').map((e) => e.reason);
    expect(reasons).toEqual(['this server requires a token', 'legacy client refused: a token is required']);
    await srv.stop();
    expect(srv.lines.join('\n') + srv.stderr()).not.toContain(token);
  });

  it('--record writes an .mp4 and an .mjpeg that ffprobe reads back with the frame count', async () => {
    const srv = await startServe(['test', '--http-port', 'off'], { env });
    const mp4 = join(tmp.dir, 'out.mp4');
    const mjpeg = join(tmp.dir, 'out.mjpeg');
    const a = await runPlay(srv.port, ['--frames', '30', '--record', mp4], { env, timeoutMs: 40_000 });
    expect(a.code).toBe(0);
    expect((a.summary as unknown as NativeSummary).record).toMatchObject({
      file: mp4,
      frames: 30,
      dropped: 0,
    });
    expect(countFrames(mp4)).toBe(30);

    const b = await runPlay(srv.port, ['--frames', '12', '--record', mjpeg], { env });
    expect(b.code).toBe(0);
    const bytes = readFileSync(mjpeg);
    let soi = 0;
    for (let i = 0; i + 2 < bytes.length; i++)
      if (bytes[i] === 0xff && bytes[i + 1] === 0xd8 && bytes[i + 2] === 0xff) soi++;
    expect(soi).toBe(12);
    expect(countFrames(mjpeg)).toBe(12);
    await srv.stop();
  });

  it('--save-dir writes one decodable JPEG per frame', async () => {
    const srv = await startServe(['test', '--http-port', 'off'], { env });
    const dir = join(tmp.dir, 'frames');
    const r = await runPlay(srv.port, ['--frames', '8', '--save-dir', dir], { env });
    expect(r.code).toBe(0);
    expect((r.summary as unknown as NativeSummary).saved).toMatchObject({ saved: 8, dropped: 0 });
    const files = readdirSync(dir).sort();
    expect(files).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => `frame-00000${n}.jpg`));
    for (const f of files) {
      const img = sharp(join(dir, f));
      expect(await img.metadata()).toMatchObject({ format: 'jpeg', width: 800, height: 450 });
      const { info } = await img.raw().toBuffer({ resolveWithObject: true }); // a full decode
      expect(info.size).toBe(800 * 450 * 3);
    }
    await srv.stop();
  });

  it('--reconnect survives a server restart and counts the gap', async () => {
    let srv = await startServe(['test', '--http-port', 'off'], { env });
    const port = srv.port;
    const play = spawnCli(['play', `127.0.0.1:${port}`, '--json', '--frames', '60', '--reconnect'], { env });
    let stdout = '';
    let stderr = '';
    play.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    play.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await srv.waitForEvent('client');
    await sleep(500);
    await srv.stop();
    await sleep(700);
    srv = await startServe(['test', '--http-port', 'off', '--port', String(port)], { env });
    const exit = await waitExit(play, 20_000);
    expect(exit.code).toBe(0);
    const s = JSON.parse(stdout.trim().split('\n').pop() as string) as NativeSummary;
    expect(s.frames).toBe(60);
    expect(s.reconnects).toBe(1);
    expect(s.gapMs).toBeGreaterThanOrEqual(600);
    expect(stderr).toMatch(/reconnecting in/);
    await srv.stop();
  });

  it('without --reconnect, a server that dies ends play with exit code 1 and a clear message', async () => {
    const srv = await startServe(['test', '--http-port', 'off'], { env });
    const play = spawnCli(['play', `127.0.0.1:${srv.port}`], { env });
    let stderr = '';
    play.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await srv.waitForEvent('client');
    await sleep(300);
    await srv.stop('SIGKILL');
    const exit = await waitExit(play, 10_000);
    expect(exit.code).toBe(1);
    expect(stderr).toMatch(/framecast: connection to 127\.0\.0\.1:\d+ lost/);
  });

  it('checks its new options at start-up', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--protocol', 'udp'], /--protocol must be one of auto, native, legacy/],
      [['--record', join(tmp.dir, 'x.txt')], /--record: .* must end in \.mp4/],
      [['--record', join(tmp.dir, 'missing', 'x.mp4')], /--record: directory .* does not exist/],
      [['--reconnect-timeout', '5'], /only applies with --reconnect/],
      [['--protocol', 'legacy', '--token', 'x'], /--token needs the native protocol/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['play', '127.0.0.1:1', ...args], { env });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});
