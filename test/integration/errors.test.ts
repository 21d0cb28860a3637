/**
 * Every bad input a user can hit (issue: "errors a user can act on"): one line naming the thing on
 * stderr, exit 1 (runtime) or 2 (usage), no stack trace, and never a hang.
 */
import net from 'node:net';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runPlay, startServe, type CliResult } from '../helpers/cli.js';
import { makeAudioOnly, makeClip, makeNotMedia, makeTempDir, type Clip } from '../helpers/fixtures.js';
import { fakeServer, freePort, type FakeServer } from '../helpers/net.js';
import { killTracked } from '../helpers/processes.js';

const tmp = makeTempDir();
let clip: Clip;
let jpeg: Buffer;
const fakes: FakeServer[] = [];

beforeAll(async () => {
  clip = makeClip({ seconds: 1 });
  jpeg = await sharp(Buffer.alloc(16 * 8 * 3, 200), { raw: { width: 16, height: 8, channels: 3 } })
    .jpeg({ quality: 80 })
    .toBuffer();
});
afterEach(async () => {
  await killTracked();
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});
afterAll(tmp.cleanup);

/** The seed's framing of one payload. */
function legacy(payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(payload.length, 0);
  return Buffer.concat([head, payload]);
}

async function fake(onConnection: (s: net.Socket) => void): Promise<FakeServer> {
  const f = await fakeServer(onConnection);
  fakes.push(f);
  return f;
}

/** Asserts the process failed with `code` and exactly one stderr line `framecast: <message>`. */
function expectOneLineError(r: CliResult, code: 1 | 2, message: string | RegExp): void {
  expect(r.timedOut).toBe(false);
  expect(r.code).toBe(code);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  const line = lines[0] as string;
  expect(line.startsWith('framecast: ')).toBe(true);
  if (typeof message === 'string') expect(line).toBe(`framecast: ${message}`);
  else expect(line).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at |internal error/);
}

describe('serve: bad sources', () => {
  it('missing file -> exit 1 naming the file', async () => {
    const path = `${tmp.dir}/no-such-video.mp4`;
    expectOneLineError(await runCli(['serve', path, '--port', '0']), 1, `source file not found: ${path}`);
  });

  it('file with no video stream -> exit 1', async () => {
    const path = makeAudioOnly();
    expectOneLineError(
      await runCli(['serve', path, '--port', '0']),
      1,
      `source has no video stream: ${path}`,
    );
  });

  it('file that is not media -> exit 1', async () => {
    const path = makeNotMedia(tmp.dir);
    expectOneLineError(
      await runCli(['serve', path, '--port', '0']),
      1,
      `source is not a video ffmpeg can read: ${path}`,
    );
  });

  it('an empty file -> exit 1', async () => {
    const path = makeNotMedia(tmp.dir, 'empty.mp4');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path, '');
    const r = await runCli(['serve', path, '--port', '0']);
    expectOneLineError(r, 1, new RegExp(`^framecast: .*${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('a directory -> exit 1', async () => {
    expectOneLineError(
      await runCli(['serve', tmp.dir, '--port', '0']),
      1,
      `source is a directory, not a video file: ${tmp.dir}`,
    );
  });
});

describe('serve: port in use', () => {
  it('-> exit 1 naming the port', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen({ host: '127.0.0.1', port: 0 }, r));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      const r = await runCli(['serve', clip.path, '--port', String(port)]);
      expectOneLineError(r, 1, `TCP port 127.0.0.1:${port} is already in use (choose another with --port)`);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});

describe.each([
  ['auto', []],
  ['legacy', ['--protocol', 'legacy']],
])('play (protocol %s): connection failures', (_name, proto: string[]) => {
  it('connection refused -> exit 1 promptly, with the error in the JSON summary', async () => {
    const port = await freePort();
    const r = await runPlay(port, proto);
    expectOneLineError(r, 1, `connection refused by 127.0.0.1:${port}: is framecast serve running there?`);
    expect(r.ms).toBeLessThan(5000);
    expect(r.summary).toMatchObject({ frames: 0, error: { code: 'ERR_CONNECTION_REFUSED' } });
  });

  it('truncated frame (server sends part of a frame, then closes) -> exit 1 promptly', async () => {
    const f = await fake((s) => {
      const whole = legacy(Buffer.from(jpeg.toString('base64')));
      s.write(whole);
      s.end(legacy(Buffer.alloc(1000, 0x41)).subarray(0, 4 + 100));
    });
    const r = await runPlay(f.port, proto);
    expectOneLineError(r, 1, 'stream ended inside a frame: got 100 of 1000 bytes');
    expect(r.ms).toBeLessThan(5000);
    expect(r.summary).toMatchObject({
      frames: 1,
      width: 16,
      height: 8,
      error: { code: 'ERR_TRUNCATED_FRAME' },
    });
  });

  it('truncated length prefix -> exit 1', async () => {
    const f = await fake((s) => s.end(Buffer.from([0, 0])));
    const r = await runPlay(f.port, proto);
    expectOneLineError(r, 1, 'stream ended inside a length prefix: got 2 of 4 bytes');
  });

  it('a forged length over the limit -> exit 1 at once, without waiting for the body', async () => {
    // The fake server keeps the connection open: the client must not wait for 4 GiB that never come.
    const f = await fake((s) => s.write(Buffer.from([0xff, 0xff, 0xff, 0xff])));
    const r = await runPlay(f.port, proto);
    expectOneLineError(
      r,
      1,
      'frame length 4294967295 bytes is over the limit of 16777216 bytes (--max-frame-size)',
    );
    expect(r.ms).toBeLessThan(5000);
    expect(r.summary!.error!.code).toBe('ERR_FRAME_TOO_LARGE');
  });

  it('--max-frame-size lowers the limit', async () => {
    const f = await fake((s) => s.end(legacy(Buffer.alloc(2000, 0x41))));
    const r = await runPlay(f.port, [...proto, '--max-frame-size', '1k']);
    expectOneLineError(r, 1, 'frame length 2000 bytes is over the limit of 1024 bytes (--max-frame-size)');
  });

  it('a stalled stream after the first frame -> exit 1 after --idle-timeout', async () => {
    const f = await fake((s) => s.write(legacy(Buffer.from(jpeg.toString('base64')))));
    const r = await runPlay(f.port, [...proto, '--idle-timeout', '0.5']);
    expectOneLineError(r, 1, /^framecast: stream from 127\.0\.0\.1:\d+ stalled: no data for 0\.5 s$/);
    expect(r.ms).toBeLessThan(5000);
  });

  it('a non-JPEG payload is counted in badFrames, not fatal', async () => {
    const good = legacy(Buffer.from(jpeg.toString('base64')));
    const f = await fake((s) => {
      s.write(good);
      s.write(legacy(Buffer.from(Buffer.from('hello, not a jpeg').toString('base64'))));
      s.write(legacy(Buffer.alloc(0)));
      s.end(good);
    });
    const r = await runPlay(f.port, proto);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.summary).toMatchObject({ frames: 2, badFrames: 2, width: 16, height: 8, protocol: 'legacy' });
  });
});

describe('usage errors (exit 2)', () => {
  it.each([
    [['serve', '--port', '70000'], "--port must be an integer from 0 to 65535, got '70000'"],
    [['serve', '--port', 'abc'], "--port must be an integer from 0 to 65535, got 'abc'"],
    [['serve', '--width', '5'], "--width must be 0 or from 16 to 16384, got '5'"],
    [['serve', '--quality', '0'], "--quality must be an integer from 1 to 100, got '0'"],
    [['serve', '--quality', '101'], "--quality must be an integer from 1 to 100, got '101'"],
    [['serve', '--fps', '0'], "--fps must be a number from 0.1 to 1000, got '0'"],
    [['serve', '--max-clients', '0'], "--max-clients must be an integer from 1 to 100000, got '0'"],
    [['serve', 'a.mp4', 'b.mp4'], 'more than one SOURCE without a name: name them, e.g. cam1=b.mp4'],
    [['serve', 'cam=a.mp4', 'cam=b.mp4'], 'stream name cam is given twice'],
    [['play', '--frames', '0'], /^framecast: --frames must be an integer from 1 to \d+, got '0'$/],
    [['play', '--duration=-1'], /^framecast: --duration must be a number from 0\.01 to \d+, got '-1'$/],
    [['play', '--max-frame-size', 'huge'], /^framecast: --max-frame-size must be a size from 64 to/],
    [['play', '127.0.0.1:99999'], "invalid port '99999' in address '127.0.0.1:99999' (expected 1..65535)"],
    [['play', 'http://x:1'], "unsupported address scheme 'http://' (use tcp:// or tls://)"],
    [['play', 'a', 'b'], 'play takes one address, got 2'],
  ])('%j', async (args, message) => {
    expectOneLineError(await runCli(args), 2, message);
  });

  it('unknown option -> exit 2 naming it and the help', async () => {
    const r = await runCli(['serve', '--bogus']);
    expectOneLineError(r, 2, "serve: Unknown option '--bogus' (see 'framecast serve --help')");
    const p = await runCli(['play', '--nope']);
    expectOneLineError(p, 2, "play: Unknown option '--nope' (see 'framecast play --help')");
  });

  it('missing option value -> exit 2', async () => {
    const r = await runCli(['serve', '--port']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^framecast: serve: .*--port/);
  });

  it('unknown command -> exit 2 naming it, with the usage', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^framecast: unknown command 'frobnicate' \(expected serve, play, publish, edge, hash-password or sign\)\n/,
    );
    expect(r.stderr).toContain('Usage: framecast <command>');
  });

  it('no command -> usage on stdout, exit 2; --help -> exit 0', async () => {
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toContain('Usage: framecast <command>');
    const help = await runCli(['serve', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: framecast serve');
  });
});

describe('a working server is not disturbed by a failed client', () => {
  it('serve keeps running after a client that connects and leaves at once', async () => {
    const srv = await startServe([clip.path, '--no-pace']);
    await new Promise<void>((r) => {
      const s = net.connect({ host: '127.0.0.1', port: srv.port }, () => {
        s.destroy();
        r();
      });
    });
    const r = await runPlay(srv.port);
    expect(r.code).toBe(0);
    expect(r.summary!.frames).toBe(clip.frames);
    await srv.stop();
  });
});
