import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createPublisher,
  serve,
  StreamClient,
  parseServerAddress,
  type FramecastServer,
  type ServerEvents,
} from '../../src/index.js';
import { sleep } from '../helpers/processes.js';

let server: FramecastServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

/** Collects unhandled rejections and uncaught exceptions while `fn` runs. */
async function watchProcess(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onFault = (err: unknown): void => void seen.push(err);
  process.on('unhandledRejection', onFault);
  process.on('uncaughtException', onFault);
  try {
    await fn();
    await sleep(100);
  } finally {
    process.off('unhandledRejection', onFault);
    process.off('uncaughtException', onFault);
  }
  return seen;
}

const SERVER_EVENTS: (keyof ServerEvents)[] = [
  'transmission-start',
  'transmission-end',
  'client',
  'waiting',
  'left',
  'refused',
  'source-status',
  'kicked',
  'web-stop',
  'frame',
];

describe('listeners that throw', () => {
  it('on every server and hub event: frames keep flowing, each throw is reported, nothing is unhandled', async () => {
    const reported: string[] = [];
    let framesSeenByServer = 0;
    const faults = await watchProcess(async () => {
      server = await serve({ source: 'test', port: 0, width: 160, fps: 30 });
      for (const name of SERVER_EVENTS) {
        server.on(name, () => {
          throw new Error(`boom on ${name}`);
        });
      }
      server.on('frame', () => void framesSeenByServer++); // after a throwing one: still called
      server.hub.on('frame', () => {
        throw new Error('boom on hub frame');
      });
      server.on('listener-error', (event, err) => reported.push(`${event}: ${(err as Error).message}`));
      const { port } = server.address();
      // Two native viewers one after the other: client, left, transmission start/end all fire.
      for (let round = 0; round < 2; round++) {
        const client = new StreamClient(parseServerAddress(`127.0.0.1:${port}`), { protocol: 'native' });
        let frames = 0;
        await new Promise<void>((resolve, reject) => {
          client.on('frame', () => {
            if (++frames !== 30) return;
            client.close(); // closes without an event
            resolve();
          });
          client.on('end', () => resolve());
          client.on('error', reject);
          client.connect();
        });
        expect(frames).toBeGreaterThanOrEqual(30);
        await sleep(100);
      }
      // A refused connection (garbage instead of a hello) fires 'refused'.
      const rude = net.connect({ host: '127.0.0.1', port });
      rude.on('error', () => {});
      rude.write('GET / HTTP/1.0\r\n\r\n');
      await new Promise((r) => rude.once('close', r));
    });
    expect(faults).toEqual([]);
    expect(framesSeenByServer).toBeGreaterThanOrEqual(60);
    for (const name of ['transmission-start', 'client', 'left', 'frame', 'refused'])
      expect(reported).toContain(`${name}: boom on ${name}`);
    expect(reported).toContain('frame: boom on hub frame');
  }, 30_000);

  it('on a publisher and a client: the publisher still publishes and the client still receives', async () => {
    const warnings: { code: string | undefined; message: string }[] = [];
    const onWarning = (w: Error & { code?: string }): void =>
      void warnings.push({ code: w.code, message: w.message });
    process.on('warning', onWarning);
    const faults = await watchProcess(async () => {
      const publisher = createPublisher({ quality: 70 });
      const pixels = Buffer.alloc(64 * 48 * 3, 128);
      let timer: NodeJS.Timeout | null = null;
      publisher.on('start', () => {
        throw new Error('boom on start');
      });
      publisher.on('start', () => {
        timer = setInterval(() => void publisher.publishRaw(pixels, { width: 64, height: 48 }), 10);
      });
      publisher.on('stop', () => timer && clearInterval(timer));
      server = await serve({ publisher, port: 0 });
      const client = new StreamClient(parseServerAddress(`127.0.0.1:${server.address().port}`));
      let frames = 0;
      await new Promise<void>((resolve, reject) => {
        client.on('frame', () => {
          frames++;
          throw new Error('boom in the client');
        });
        client.on('frame', () => {
          if (frames !== 20) return;
          client.close();
          resolve();
        });
        client.on('end', () => resolve());
        client.on('error', reject);
        client.connect();
      });
      expect(frames).toBeGreaterThanOrEqual(20);
    });
    process.off('warning', onWarning);
    // Nobody listened for 'listener-error' here: one process warning per emitter and event (the
    // client's listener threw 20 times), nothing was unhandled.
    expect(faults).toEqual([]);
    expect(warnings.filter((w) => w.code === 'FRAMECAST_LISTENER_ERROR').map((w) => w.message)).toEqual([
      "a 'start' listener threw: boom on start",
      "a 'frame' listener threw: boom in the client",
    ]);
  }, 30_000);
});
