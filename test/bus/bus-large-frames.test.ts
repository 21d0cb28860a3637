import { afterAll, describe, expect, it } from 'vitest';
import { edge } from '../../src/app/edge.js';
import { StreamClient, parseServerAddress, serve } from '../../src/index.js';
import { makeClip } from '../helpers/fixtures.js';
import { natsAvailable, startNats } from '../helpers/nats.js';
import { killTracked, sleep } from '../helpers/processes.js';

// A 4K noisy picture at quality 95 makes JPEGs of several MB, over nats-server's default max_payload
// (1 MB): the origin sends each in parts, and the edge's viewers get the very bytes it encoded.

const available = natsAvailable();
if (!available && process.env['CI'] === 'true')
  throw new Error("nats-server is missing: install Debian's nats-server");

afterAll(async () => {
  await killTracked();
});

describe.skipIf(!available)('NATS bus: frames over max_payload', () => {
  it('4K frames at quality 95 (several MB) through a default nats-server arrive whole at the edge', async () => {
    const clip = makeClip({ width: 3840, height: 2160, fps: 5, seconds: 2, noise: 30 });
    const nats = await startNats();
    const origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'uhd', source: clip.path, width: 0, quality: 95, loop: true }],
      bus: { url: nats.url },
    });
    const e = await edge({ bus: { url: nats.url }, port: 0, httpPort: null, streams: ['uhd'] });
    const sent: Buffer[] = [];
    origin.on('frame', (f) => sent.push(f.jpeg));
    const got: Buffer[] = [];
    const c = new StreamClient(parseServerAddress(`127.0.0.1:${e.server.address().port}/uhd`), {
      protocol: 'native',
    });
    c.on('frame', (f) => {
      if (f.width === 3840) got.push(Buffer.from(f.jpeg));
    });
    c.on('error', () => {});
    c.connect();
    try {
      const end = Date.now() + 30_000;
      while (got.length < 4 && Date.now() < end) await sleep(50);
      expect(got.length).toBeGreaterThanOrEqual(4);
      const maxPayload = 1024 * 1024;
      for (const jpeg of got) {
        expect(jpeg.length).toBeGreaterThan(2 * maxPayload);
        expect(sent.some((b) => b.equals(jpeg))).toBe(true);
      }
    } finally {
      c.close();
      await e.close();
      await origin.close();
      await nats.stop();
    }
  }, 90_000);
});
