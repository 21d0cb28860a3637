import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/connect.js';
import { createPublisher } from '../../src/hub/publisher.js';
import { serve, type FramecastServer } from '../../src/app/serve.js';
import { FFMPEG } from '../helpers/fixtures.js';
import { timeToFirstLegacyFrame } from '../helpers/native.js';
import { LegacyParser } from '../../src/client/legacy-parser.js';
import net from 'node:net';

let server: FramecastServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

/** 30 frames of ffmpeg's testsrc2 at the seed's output size (800x450), as raw RGB. */
function testsrcFrames(count: number, width = 800, height = 450): Buffer[] {
  const raw = execFileSync(
    FFMPEG,
    [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=${width}x${height}:rate=30`,
      '-frames:v',
      String(count),
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-',
    ],
    { maxBuffer: 1 << 28, timeout: 30_000 },
  );
  const size = width * height * 3;
  return Array.from({ length: count }, (_, i) => raw.subarray(i * size, (i + 1) * size));
}

/** A silent client that counts seed-framed frames and their wire bytes until the server closes. */
function legacyCounter(port: number): Promise<{ frames: number; bytes: number }> {
  return new Promise((resolve) => {
    const parser = new LegacyParser();
    const r = { frames: 0, bytes: 0 };
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('data', (chunk: Buffer) =>
      parser.push(chunk, (p) => {
        r.frames++;
        r.bytes += 4 + p.length;
      }),
    );
    socket.on('error', () => {});
    socket.once('close', () => resolve(r));
  });
}

describe('native vs seed framing size', () => {
  it('sends at most 0.8x the seed framing bytes for the same frames', async () => {
    const rgb = testsrcFrames(30);
    const publisher = createPublisher({ quality: 80 });
    server = await serve({ port: 0, publisher, pace: false });
    const port = server.address().port;
    const joined = new Promise<void>((res) => {
      let n = 0;
      server!.on('client', () => ++n === 2 && res());
    });
    const native = (async () => {
      let frames = 0;
      let bytes = 0;
      for await (const f of connect(`127.0.0.1:${port}`, { protocol: 'native', highWaterMark: 64 })) {
        frames++;
        bytes += f.wireBytes;
      }
      return { frames, bytes };
    })();
    await new Promise((r) => setTimeout(r, 50));
    const legacy = legacyCounter(port);
    await joined;
    for (const frame of rgb) {
      expect(await publisher.publishRaw(frame, { width: 800, height: 450 })).toBe(true);
      await new Promise((r) => setTimeout(r, 15)); // the lossless queue holds 8: let both sockets drain
    }
    publisher.end();
    const [n, l] = await Promise.all([native, legacy]);
    expect(n.frames).toBe(30);
    expect(l.frames).toBe(30);
    const ratio = n.bytes / l.bytes;
    console.log(`native ${n.bytes} B vs seed ${l.bytes} B for 30 frames: ratio ${ratio.toFixed(4)}`);
    expect(ratio).toBeLessThanOrEqual(0.8);
  });

  it('serves the seed framing within 200 ms next to a native client on a real ffmpeg source', async () => {
    server = await serve({ port: 0, source: 'test' });
    const port = server.address().port;
    const stream = connect(`127.0.0.1:${port}`);
    const it = stream[Symbol.asyncIterator]();
    expect((await it.next()).done).toBe(false);
    const legacy = await timeToFirstLegacyFrame(port);
    stream.close();
    console.log(`seed client's first frame after ${legacy.ms?.toFixed(1)} ms`);
    expect(legacy.ms).not.toBeNull();
    expect(legacy.ms as number).toBeLessThan(200);
  });
});
