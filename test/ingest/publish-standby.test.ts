import { afterAll, describe, expect, it } from 'vitest';
import { StreamClient, parseServerAddress } from '../../src/index.js';
import { runCli, spawnCli, startServe } from '../helpers/cli.js';
import { killTracked, sleep, waitExit } from '../helpers/processes.js';

afterAll(killTracked);

/** Frames of `width` a native viewer of `stream` receives within `ms`. */
async function framesOf(port: number, stream: string, width: number, ms: number): Promise<number> {
  let n = 0;
  const c = new StreamClient(parseServerAddress(`127.0.0.1:${port}/${stream}`), { protocol: 'native' });
  c.on('frame', (f) => f.width === width && n++);
  c.on('error', () => {});
  c.connect();
  await sleep(ms);
  c.close();
  return n;
}

describe('framecast publish into a stream that already has a publisher', () => {
  it('is refused: exit 1 with the reason at once (no endless reconnecting); --standby waits and takes over', async () => {
    const srv = await startServe(['cam=publisher', '--http-port', 'off', '--publish-token', 'pub-secret-1']);
    const target = `127.0.0.1:${srv.port}/cam`;
    const publish = (width: number, extra: string[] = []): string[] => [
      'publish',
      'test',
      target,
      '--width',
      String(width),
      '--token',
      'pub-secret-1',
      ...extra,
    ];
    const first = spawnCli(publish(320));
    let firstFrames = 0;
    for (let i = 0; i < 20 && firstFrames === 0; i++) firstFrames = await framesOf(srv.port, 'cam', 320, 500);
    expect(firstFrames).toBeGreaterThan(0);

    const second = await runCli(publish(256), { timeoutMs: 10_000 });
    expect(second.timedOut ?? false).toBe(false);
    expect(second.code).toBe(1);
    const lines = second.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(/already has a publisher/);
    expect(second.stderr).not.toMatch(/reconnecting in/);

    // A standby publisher waits while the first one publishes, then takes over when it leaves.
    const standby = spawnCli(publish(256, ['--standby']));
    let stderr = '';
    standby.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await sleep(1500);
    expect(standby.exitCode).toBeNull();
    expect(await framesOf(srv.port, 'cam', 256, 500)).toBe(0);
    first.kill('SIGINT');
    await waitExit(first, 5000);
    let got = 0;
    for (let i = 0; i < 20 && got === 0; i++) got = await framesOf(srv.port, 'cam', 256, 500);
    expect(got).toBeGreaterThan(0);
    expect(stderr).toMatch(/already has a publisher; reconnecting in/);
    standby.kill('SIGINT');
    await waitExit(standby, 5000);
    await srv.stop();
  }, 60_000);
});
