import { afterAll, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/index.js';
import type { BusState } from '../../src/bus/bus.js';
import { natsAvailable, startNats } from '../helpers/nats.js';
import { spawnCli } from '../helpers/cli.js';
import { killTracked, sleep, waitExit } from '../helpers/processes.js';

// An origin and an edge say when they lose the bus and when they have it again: the origin as a
// 'bus' event of the API, the edge's CLI as a log line ("event":"bus" with --json).

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

describe.skipIf(!available)('bus connection state', () => {
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
});
