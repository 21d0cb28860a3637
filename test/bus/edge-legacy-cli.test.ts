import { afterAll, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/index.js';
import { resolveStreamConfig } from '../../src/streams/stream-options.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { startNats } from '../helpers/nats.js';
import { freePort } from '../helpers/net.js';
import { killTracked, waitExit } from '../helpers/processes.js';
import { natsOrFail, until } from './support.js';

// `framecast edge --legacy-ports` as a user types it: bad values are usage errors (exit 2), --help
// documents it, and a port the edge cannot bind is one bus-notice log line, not an exit.

const SECRET = 'legacy-cli-bus-secret-0123';

const available = natsOrFail();

afterAll(killTracked);

describe('framecast edge --legacy-ports (CLI)', () => {
  it('same|off|+N; anything else exits 2 naming the option', async () => {
    for (const bad of ['on', '5', '+65535', '-1']) {
      const r = await runCli(['edge', '--bus', 'nats://127.0.0.1:4222', `--legacy-ports=${bad}`]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toBe(`framecast: --legacy-ports must be same, off or +N (N 0-65534), got '${bad}'\n`);
    }
    const help = await runCli(['edge', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--legacy-ports same\|off\|\+N/);
  });

  it.skipIf(!available)(
    'beside its origin with the same port: one bus-notice line names the port; the edge runs on',
    async () => {
      const nats = await startNats();
      const p = await freePort();
      let origin: FramecastServer | null = null;
      const edge = spawnCli([
        // A bus secret: without one the edge keeps the port it first served (a peer could flip it).
        ...['edge', '--bus', nats.url, '--bus-secret', SECRET, '--port', '0', '--http-port', 'off', '--json'],
        ...['--streams', 'cam'],
      ]);
      try {
        origin = await serve({
          port: 0,
          httpPort: null,
          streams: [{ name: 'cam', source: 'test', width: 160, legacyPort: p }],
          bus: { url: nats.url, secret: SECRET },
        });
        let out = '';
        edge.stdout?.on('data', (d: Buffer) => (out += d.toString()));
        await until(() => /"event":"bus-notice"/.test(out), 15_000);
        const notices = out
          .split('\n')
          .filter((l) => l.includes('"bus-notice"'))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(notices).toHaveLength(1);
        expect(notices[0]).toMatchObject({
          kind: 'legacy-port',
          stream: 'cam',
          message: `stream cam: seed TCP port ${p} not opened: it is already in use; the stream is served without it`,
        });
        expect(edge.exitCode).toBeNull();
        // The origin moves the stream to another port (a config reload): the edge restarts it, tries
        // that port (the origin holds it too) and says so once more.
        const p2 = await freePort();
        await origin.applyStreams([
          resolveStreamConfig('cam', { source: 'test', width: 160, legacyPort: p2 }),
        ]);
        await until(() => out.includes(`seed TCP port ${p2} not opened`), 10_000);
        expect(out).toMatch(/"event":"stream","stream":"cam","change":"restarted"/);
        expect(out.split('\n').filter((l) => l.includes('"bus-notice"'))).toHaveLength(2);
        expect(edge.exitCode).toBeNull();
      } finally {
        edge.kill('SIGTERM');
        await waitExit(edge, 5000);
        await origin?.close();
        await nats.stop();
      }
    },
    60_000,
  );
});
