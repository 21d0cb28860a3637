/**
 * `framecast serve` + `framecast play` as real processes on loopback: pacing, --no-pace, many clients,
 * --max-clients 1 (the seed's one-at-a-time), --loop, --fps, and the --json log.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runPlay, startServe, type ServeEvent } from '../helpers/cli.js';
import { makeClip, scaledSize, type Clip } from '../helpers/fixtures.js';
import net from 'node:net';
import { splitLegacyStream } from '../helpers/net.js';
import { killTracked, sleep } from '../helpers/processes.js';

let clip3s: Clip;
let clip2s: Clip;
let clip1s: Clip;

beforeAll(() => {
  clip3s = makeClip({ seconds: 3 });
  clip2s = makeClip({ seconds: 2 });
  clip1s = makeClip({ seconds: 1 });
});
afterEach(killTracked);
afterAll(killTracked);

describe('serve + play', () => {
  it('streams a 3 s 30 fps clip in about 3 s by default: 90 frames at 800 px, --json log lines', async () => {
    const srv = await startServe([clip3s.path]);
    const r = await runPlay(srv.port);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // play's default (auto) settles on the native protocol with a framecast server, with latencies.
    expect(r.summary).toMatchObject({ frames: 90, ...scaledSize(clip3s), badFrames: 0, protocol: 'native' });
    expect(r.summary!.latencyMs!.p50).toBeGreaterThanOrEqual(0);
    // Paced at the source's rate: first to last frame spans ~2.97 s (generous bounds for a busy CI box).
    expect(r.summary!.seconds).toBeGreaterThan(2.5);
    expect(r.summary!.seconds).toBeLessThan(4.5);
    expect(r.summary!.fps).toBeGreaterThan(20);
    expect(r.summary!.fps).toBeLessThan(40);

    await srv.waitForEvent('transmission-end');
    // 'left' follows once the server sees the connection close, which may be after play exited. On a
    // loaded machine play's hello may come after the hello grace: the connection starts as a seed
    // client, which leaves when the hello is answered ('upgraded'), and goes on as a native one.
    const nativeLeft = (e: ServeEvent): boolean => e.protocol === 'native';
    await srv.waitForEvent('left', undefined, nativeLeft);
    // Every stdout line of serve --json is one JSON object with a time and an event.
    expect(srv.lines.length).toBeGreaterThan(0);
    for (const line of srv.lines) {
      const o = JSON.parse(line) as ServeEvent & { time: string };
      expect(typeof o.event).toBe('string');
      expect(Number.isNaN(Date.parse(o.time))).toBe(false);
    }
    const names = srv.events.map((e) => e.event);
    expect(names).toEqual(expect.arrayContaining(['listening', 'transmission-start', 'client', 'left']));
    const status = srv.events.filter((e) => e.event === 'status');
    expect(status.length).toBeGreaterThanOrEqual(1);
    for (const s of status) {
      expect(s).toMatchObject({ clients: 1, waiting: 0, drops: 0 });
      expect(typeof s.fps).toBe('number');
      expect(typeof s.kBps).toBe('number');
    }
    expect(srv.events.find((e) => e.event === 'transmission-end')).toMatchObject({
      reason: 'eof',
      error: null,
    });
    // The server's account of the client matches what the client got, the frame in flight at EOF included.
    const sent = srv.events
      .filter((e) => e.event === 'left')
      .reduce((n, e) => n + (e.framesSent as number), 0);
    expect(sent).toBe(90);
    expect(srv.events.filter((e) => e.event === 'left').every((e) => e.drops === 0)).toBe(true);
    expect((await srv.stop()).code).toBe(0);
  });

  it('play --protocol legacy (the seed framing) receives every frame, without timestamps', async () => {
    const srv = await startServe([clip2s.path, '--no-pace']);
    const r = await runPlay(srv.port, ['--protocol', 'legacy']);
    expect(r.code).toBe(0);
    expect(r.summary).toMatchObject({
      frames: clip2s.frames,
      ...scaledSize(clip2s),
      badFrames: 0,
      protocol: 'legacy',
      latencyMs: null,
    });
    expect(srv.events.find((e) => e.event === 'client')?.protocol).toBe('legacy');
    // The server's account matches the client's, the frame in flight at EOF included.
    expect(await srv.waitForEvent('left')).toMatchObject({ framesSent: clip2s.frames, drops: 0 });
    await srv.stop();
  });

  it('--no-pace sends as fast as the pipeline allows, every frame', async () => {
    const srv = await startServe([clip3s.path, '--no-pace']);
    const r = await runPlay(srv.port);
    expect(r.code).toBe(0);
    expect(r.summary).toMatchObject({ frames: 90, badFrames: 0, ...scaledSize(clip3s) });
    // The pipeline does far more than 30 fps on 800x450; 2 s for 90 frames still means "not paced".
    expect(r.summary!.seconds).toBeLessThan(2);
    await srv.stop();
  });

  it('says which encoder runs; with the native one off (FRAMECAST_NATIVE=0) sharp encodes the same stream', async () => {
    const native = await startServe([clip1s.path, '--no-pace']);
    const a = await runPlay(native.port);
    const off = await startServe([clip1s.path, '--no-pace'], { env: { FRAMECAST_NATIVE: '0' } });
    const b = await runPlay(off.port);
    for (const r of [a, b]) {
      expect(r.summary).toMatchObject({ frames: clip1s.frames, badFrames: 0, ...scaledSize(clip1s) });
    }
    const implementation = (srv: typeof native): unknown =>
      srv.events.find((e) => e.event === 'encoder')?.implementation;
    expect(implementation(off)).toBe('libjpeg-turbo via sharp, RGB input');
    if (process.env.CI) expect(implementation(native)).toBe('libjpeg-turbo, native, 4:2:0 input');
    // Same quality scale, both standard tables here: sizes within a few percent of each other.
    expect(a.summary!.bytes / b.summary!.bytes).toBeGreaterThan(0.9);
    expect(a.summary!.bytes / b.summary!.bytes).toBeLessThan(1.1);
    await Promise.all([native.stop(), off.stop()]);
  });

  it('--no-pace never drops: a client that stops reading holds the source back, then gets every frame', async () => {
    // Big frames (~18 MB in all, far more than the socket buffers) and a reader that stalls a while.
    const srv = await startServe([clip3s.path, '--no-pace', '--quality', '100']);
    const socket = net.connect({ host: '127.0.0.1', port: srv.port });
    socket.pause();
    await srv.waitForEvent('client');
    await sleep(1000);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((r) => {
      socket.once('close', () => r());
      socket.resume();
    });
    const payloads = splitLegacyStream(Buffer.concat(chunks));
    expect(payloads).toHaveLength(clip3s.frames);
    expect(payloads.reduce((n, p) => n + p.length, 0)).toBeGreaterThan(8_000_000);
    expect(await srv.waitForEvent('left')).toMatchObject({ framesSent: clip3s.frames, drops: 0 });
    await srv.stop();
  });

  it('serves five clients at once from one transmission (encode once)', async () => {
    const srv = await startServe([clip2s.path]);
    const plays = await Promise.all([1, 2, 3, 4, 5].map(() => runPlay(srv.port)));
    for (const r of plays) {
      expect(r.code).toBe(0);
      // Late joiners see the live stream: they may miss the first frames, but not much more.
      expect(r.summary!.frames).toBeGreaterThanOrEqual(clip2s.frames - 20);
      expect(r.summary!.frames).toBeLessThanOrEqual(clip2s.frames);
      expect(r.summary).toMatchObject({ badFrames: 0, ...scaledSize(clip2s) });
    }
    // Five connections (a late hello makes one connection a seed client, then a native one).
    const connections = new Set(srv.events.filter((e) => e.event === 'client').map((e) => e.address));
    expect(connections.size).toBe(5);
    expect(srv.events.filter((e) => e.event === 'transmission-start')).toHaveLength(1);
    await srv.stop();
  });

  it('--max-clients 1 serves two clients connected at once one after the other, each the whole file', async () => {
    // Both start together; the 2 s file leaves ample time for the second to connect while the first plays.
    const srv = await startServe([clip2s.path, '--max-clients', '1']);
    const both = Promise.all([runPlay(srv.port), runPlay(srv.port)]);
    const waiting = await srv.waitForEvent('waiting');
    expect(waiting.position).toBe(1);
    const [a, b] = await both;
    for (const r of [a, b]) {
      expect(r.code).toBe(0);
      expect(r.summary).toMatchObject({ frames: clip2s.frames, badFrames: 0, ...scaledSize(clip2s) });
    }
    // One after the other: the second stream starts when the first ends, so together they take ~4 s.
    expect(Math.max(a.ms, b.ms)).toBeGreaterThan(3500);
    expect(srv.events.filter((e) => e.event === 'transmission-start')).toHaveLength(2);
    const ends = srv.events.filter((e) => e.event === 'transmission-end').map((e) => e.reason);
    expect(ends).toEqual(['eof', 'eof']);
    await srv.stop();
  });

  it('--loop restarts the file at its end', async () => {
    const srv = await startServe([clip1s.path, '--loop', '--no-pace']);
    const r = await runPlay(srv.port, ['--frames', String(clip1s.frames * 2 + 5)]);
    expect(r.code).toBe(0);
    expect(r.summary).toMatchObject({ frames: clip1s.frames * 2 + 5, badFrames: 0 });
    // The client leaving ends it ('idle'); the file itself never ended it.
    const end = await srv.waitForEvent('transmission-end');
    expect(end.reason).toBe('idle');
    await srv.stop();
  });

  it('--fps caps the rate of a paced stream', async () => {
    const srv = await startServe([clip2s.path, '--fps', '10']);
    const r = await runPlay(srv.port);
    expect(r.code).toBe(0);
    // 2 s at 10 fps: ~20 frames spread over ~2 s.
    expect(r.summary!.frames).toBeGreaterThanOrEqual(16);
    expect(r.summary!.frames).toBeLessThanOrEqual(24);
    expect(r.summary!.seconds).toBeGreaterThan(1.4);
    expect(r.summary!.badFrames).toBe(0);
    await srv.stop();
  });

  it('--no-pace --fps spaces frames without dropping any', async () => {
    const srv = await startServe([clip1s.path, '--no-pace', '--fps', '15']);
    const r = await runPlay(srv.port);
    expect(r.code).toBe(0);
    expect(r.summary).toMatchObject({ frames: clip1s.frames, badFrames: 0 });
    // 30 frames 1/15 s apart: ~1.93 s from first to last.
    expect(r.summary!.seconds).toBeGreaterThan(1.5);
    expect(r.summary!.seconds).toBeLessThan(3.5);
    await srv.stop();
  });

  it('--width and --quality set the output size and weight; --width 0 keeps the source size', async () => {
    const small = await startServe([clip1s.path, '--no-pace', '--width', '320', '--quality', '30']);
    const a = await runPlay(small.port);
    expect(a.summary).toMatchObject({ frames: clip1s.frames, width: 320, height: 180, badFrames: 0 });
    const full = await startServe([clip1s.path, '--no-pace', '--width', '0']);
    const b = await runPlay(full.port);
    expect(b.summary).toMatchObject({ frames: clip1s.frames, width: 640, height: 360, badFrames: 0 });
    expect(a.summary!.bytes).toBeLessThan(b.summary!.bytes / 3);
    await Promise.all([small.stop(), full.stop()]);
  });

  it("scales odd sizes to width 800 with the seed's height (int(h * 800 / w), truncated)", async () => {
    // 563 * 800 / 1001 = 449.95: the seed gives 449 where rounding would give 450.
    for (const [w, h, expected] of [
      [1001, 563, 449],
      [333, 187, 449],
    ] as const) {
      const odd = makeClip({ width: w, height: h, seconds: 0.2, format: 'mkv' });
      expect(scaledSize(odd).height).toBe(expected);
      const srv = await startServe([odd.path, '--no-pace']);
      const r = await runPlay(srv.port);
      expect(r.summary).toMatchObject({ frames: odd.frames, width: 800, height: expected, badFrames: 0 });
      await srv.stop();
    }
  });

  it('prints how to connect in human mode', async () => {
    const srv = await startServe([clip1s.path], { json: false });
    expect(srv.lines.join('\n')).toContain(`connect with: framecast play 127.0.0.1:${srv.port}`);
    const r = await runPlay(srv.port, ['--frames', '3']);
    expect(r.summary!.frames).toBe(3);
    await srv.stop();
  });

  it('play --frames and --duration stop early with exit 0', async () => {
    const srv = await startServe(['test']);
    const byFrames = await runPlay(srv.port, ['--frames', '7']);
    expect(byFrames.code).toBe(0);
    expect(byFrames.summary).toMatchObject({ frames: 7, width: 800, height: 450 });
    // The test pattern never ends, so stopping at all proves --duration; 1.5 s leaves room for the
    // source to restart (the first client's exit stopped it) on a loaded machine.
    const byTime = await runPlay(srv.port, ['--duration', '1.5']);
    expect(byTime.code).toBe(0);
    expect(byTime.summary!.frames).toBeGreaterThan(3);
    expect(byTime.summary!.frames).toBeLessThanOrEqual(50);
    expect(byTime.ms).toBeLessThan(6000);
    await srv.stop();
  });
});
