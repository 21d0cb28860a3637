import { afterAll, describe, expect, it } from 'vitest';
import { StreamClient, parseServerAddress, serve, type FramecastServer } from '../../src/index.js';
import type { BusState } from '../../src/bus/bus.js';
import { natsAvailable, startNats } from '../helpers/nats.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { killTracked, sleep, waitExit } from '../helpers/processes.js';

// `framecast edge` as a user runs it: it says when it loses the bus and has it again (the origin as
// a 'bus' event of the API, the edge's CLI as a log line, "event":"bus" with --json), and its
// --max-clients lets an edge serve more than the default 100 viewers of a stream.

const available = natsAvailable();
if (!available && process.env['CI'] === 'true')
  throw new Error("nats-server is missing: install Debian's nats-server");

afterAll(async () => {
  await killTracked();
});

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(25);
  expect(cond()).toBe(true);
}

describe.skipIf(!available)('framecast edge (CLI)', () => {
  it('nats-server restarted: the origin emits disconnected then reconnected; the edge logs both', async () => {
    const nats = await startNats();
    let origin: FramecastServer | null = null;
    const edge = spawnCli([
      'edge',
      '--bus',
      nats.url,
      '--streams',
      'cam',
      '--port',
      '0',
      '--http-port',
      'off',
    ]);
    try {
      origin = await serve({
        port: 0,
        httpPort: null,
        streams: [{ name: 'cam', source: 'test', width: 160 }],
        bus: { url: nats.url },
      });
      const states: BusState[] = [];
      origin.on('bus', (s) => states.push(s));
      let out = '';
      edge.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      await until(() => /serving cam/.test(out), 15_000);
      await nats.restart(300);
      await until(() => states.includes('reconnected'), 15_000);
      expect(states.slice(0, 2)).toEqual(['disconnected', 'reconnected']);
      await until(() => /bus: connected again/.test(out), 15_000);
      const lines = out.split('\n').filter((l) => l.startsWith('bus: '));
      expect(lines[0]).toMatch(/^bus: lost nats:\/\/127\.0\.0\.1:\d+; reconnecting/);
      expect(lines[1]).toMatch(/^bus: connected again to nats:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      edge.kill('SIGTERM');
      await waitExit(edge, 5000);
      await origin?.close();
      await nats.stop();
    }
  }, 60_000);

  it('--max-clients: 120 viewers of one stream are all served by an edge (the default would queue 20); 0 is a usage error, as is --forget-after below 6.5 s', async () => {
    const bad = await runCli(['edge', '--bus', 'nats://127.0.0.1:4222', '--max-clients', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/max-clients/);
    const soon = await runCli(['edge', '--bus', 'nats://127.0.0.1:4222', '--forget-after', '2']);
    expect(soon.code).toBe(2);
    expect(soon.stderr).toBe("framecast: --forget-after must be a number from 6.5 to 86400, got '2'\n");
    const nats = await startNats();
    let origin: FramecastServer | null = null;
    const edge = spawnCli([
      ...['edge', '--bus', nats.url, '--streams', 'cam', '--port', '0', '--http-port', 'off'],
      ...['--max-clients', '120', '--json'],
    ]);
    const clients: StreamClient[] = [];
    try {
      origin = await serve({
        port: 0,
        httpPort: null,
        streams: [{ name: 'cam', source: 'test', width: 160 }],
        bus: { url: nats.url },
      });
      let out = '';
      edge.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      await until(() => /"event":"listening"/.test(out), 15_000);
      const port = Number(/"port":(\d+)/.exec(out)?.[1]);
      const got = new Array<number>(120).fill(0);
      for (let i = 0; i < 120; i++) {
        const c = new StreamClient(parseServerAddress(`127.0.0.1:${port}/cam`), { protocol: 'native' });
        c.on('frame', () => (got[i] = (got[i] ?? 0) + 1));
        c.on('error', () => {});
        c.connect();
        clients.push(c);
      }
      await until(() => got.every((n) => n >= 3), 20_000);
      expect(got.filter((n) => n >= 3)).toHaveLength(120);
    } finally {
      for (const c of clients) c.close();
      edge.kill('SIGTERM');
      await waitExit(edge, 5000);
      await origin?.close();
      await nats.stop();
    }
  }, 60_000);
});
