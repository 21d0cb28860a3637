import { afterAll, describe, expect, it } from 'vitest';
import { StreamClient, parseServerAddress } from '../../src/index.js';
import { runCli, spawnCli, startServe } from '../helpers/cli.js';
import { makeClip } from '../helpers/fixtures.js';
import { freePort } from '../helpers/net.js';
import { killTracked, sleep, waitExit } from '../helpers/processes.js';

afterAll(killTracked);

/** Frames a native viewer of `stream` receives within `ms` (real pictures, not the NO SIGNAL one: 320 wide). */
async function framesOf(port: number, stream: string, ms: number): Promise<number> {
  let n = 0;
  const c = new StreamClient(parseServerAddress(`127.0.0.1:${port}/${stream}`), { protocol: 'native' });
  c.on('frame', (f) => f.width === 320 && n++);
  c.on('error', () => {});
  c.connect();
  await sleep(ms);
  c.close();
  return n;
}

/** Resolves once a viewer of `cam` gets the publisher's frames (polled in 500 ms windows, up to 15 s). */
async function flowing(port: number): Promise<void> {
  for (let i = 0; i < 30; i++) if ((await framesOf(port, 'cam', 500)) > 0) return;
  throw new Error('no frames from the publisher within 15 s');
}

describe('framecast publish', () => {
  const clip = makeClip({ seconds: 2, width: 320, height: 240 });

  it('pushes a clip into a publisher stream; after a server restart it reconnects and viewers get frames again', async () => {
    const port = await freePort();
    const args = [
      'cam=publisher',
      '--port',
      String(port),
      '--http-port',
      'off',
      '--publish-token',
      'pub-secret-1',
    ];
    let srv = await startServe(args);
    const pub = spawnCli([
      'publish',
      clip.path,
      `127.0.0.1:${port}/cam`,
      '--width',
      '320',
      '--loop',
      '--token',
      'pub-secret-1',
      '--json',
    ]);
    let stdout = '';
    let stderr = '';
    pub.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    pub.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    // The publisher's start (node, ffmpeg) takes a while on a loaded machine: frames first, then the rate.
    await flowing(port);
    expect(await framesOf(port, 'cam', 1500)).toBeGreaterThan(15);
    await srv.stop();
    await sleep(600);
    srv = await startServe(args);
    // The publisher said it lost the server, and came back by itself.
    await flowing(port);
    expect(stderr).toMatch(/reconnecting in/);
    expect(await framesOf(port, 'cam', 1500)).toBeGreaterThan(15);
    pub.kill('SIGINT');
    const exit = await waitExit(pub, 5000);
    expect(exit.code).toBe(0);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<string, number>;
    expect(summary['reconnects']).toBeGreaterThanOrEqual(1);
    expect(summary['accepted']).toBeGreaterThan(30);
    await srv.stop();
  }, 60_000);

  it('a wrong token is exit 1 with one line; a bad address is exit 2', async () => {
    const srv = await startServe(['cam=publisher', '--http-port', 'off', '--publish-token', 'pub-secret-1']);
    const r = await runCli(['publish', clip.path, `127.0.0.1:${srv.port}/cam`, '--token', 'wrong-token-1']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/refused the publisher: wrong publish token$/);
    const usage = await runCli(['publish', clip.path]);
    expect(usage.code).toBe(2);
    await srv.stop();
  }, 20_000);
});
