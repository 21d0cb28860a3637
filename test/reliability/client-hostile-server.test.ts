import net from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamClient, type StreamClientOptions } from '../../src/client/stream-client.js';
import type { FramecastError } from '../../src/errors.js';
import { jpegInfo, looksLikeJpeg } from '../../src/util/jpeg.js';

// The client against servers that lie: forged lengths, truncated frames, payloads that are not JPEG.
// Each case must end with a coded error or counted bad frames, never a hang or a crash.

const servers: net.Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A one-shot TCP server that writes `script` to the first client, then ends or holds the socket. */
async function hostile(script: Buffer[], then: 'end' | 'hold' | 'reset'): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    for (const b of script) socket.write(b);
    if (then === 'end') socket.end();
    else if (then === 'reset') setTimeout(() => socket.resetAndDestroy(), 20);
    else setTimeout(() => socket.destroy(), 10_000).unref();
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

interface Outcome {
  frames: number;
  bad: number;
  ended: boolean;
  error: FramecastError | null;
}

function run(port: number, opts: StreamClientOptions = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { frames: 0, bad: 0, ended: false, error: null };
    const client = new StreamClient({ host: '127.0.0.1', port, tls: false }, { protocol: 'legacy', ...opts });
    client.on('frame', () => out.frames++);
    client.on('bad-frame', () => out.bad++);
    client.on('end', () => resolve({ ...out, ended: true }));
    client.on('error', (error) => resolve({ ...out, error }));
    client.connect();
  });
}

function lengthPrefix(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}

function legacy(payload: Buffer): Buffer {
  return Buffer.concat([lengthPrefix(payload.length), payload]);
}

// The smallest well-formed JPEG header our client reads sizes from (SOI, SOF0 8x8, EOI).
const TINY_JPEG = Buffer.from('ffd8ffc0000b080008000801011100ffd9', 'hex');

describe('StreamClient (seed framing) against a hostile server', () => {
  it('a forged 0xFFFFFFFF length is ERR_FRAME_TOO_LARGE at once', async () => {
    const port = await hostile([lengthPrefix(0xffffffff), Buffer.alloc(64)], 'hold');
    const out = await run(port, { maxFrameBytes: 1 << 20 });
    expect(out.error?.code).toBe('ERR_FRAME_TOO_LARGE');
  });

  it('a length one over --max-frame-size is refused; exactly the limit is read', async () => {
    const limit = 1024;
    const over = await run(await hostile([lengthPrefix(limit + 1)], 'hold'), { maxFrameBytes: limit });
    expect(over.error?.code).toBe('ERR_FRAME_TOO_LARGE');
    const b64 = Buffer.from(TINY_JPEG.toString('base64'));
    const pad = Buffer.alloc(limit - b64.length, 0x41); // base64 'A' decodes to zero bytes after EOI
    const at = await run(await hostile([legacy(Buffer.concat([b64, pad]))], 'end'), { maxFrameBytes: limit });
    expect(at.error).toBeNull();
    expect(at.frames + at.bad).toBe(1);
  });

  it('a frame cut short by the server closing is ERR_TRUNCATED_FRAME', async () => {
    const port = await hostile([lengthPrefix(1000), Buffer.alloc(300, 0x41)], 'end');
    const out = await run(port);
    expect(out.error?.code).toBe('ERR_TRUNCATED_FRAME');
    expect(out.error?.message).toContain('300 of 1000');
  });

  it('a reset mid-frame is a coded connection error, not a hang', async () => {
    const port = await hostile([lengthPrefix(1000), Buffer.alloc(300, 0x41)], 'reset');
    const out = await run(port);
    expect(out.error?.code).toMatch(/^ERR_(CONNECTION|TRUNCATED_FRAME)$/);
  });

  it('a stream that stalls mid-frame ends with the idle timeout', async () => {
    const port = await hostile(
      [legacy(Buffer.from(TINY_JPEG.toString('base64'))), lengthPrefix(1000)],
      'hold',
    );
    const t0 = Date.now();
    const out = await run(port, { idleTimeoutMs: 300 });
    expect(out.frames).toBe(1);
    expect(out.error?.code).toBe('ERR_CONNECTION');
    expect(out.error?.message).toMatch(/stalled/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('non-JPEG payloads are counted as bad frames and the stream goes on', async () => {
    const payloads = [
      Buffer.alloc(0),
      Buffer.from('not base64 at all!!'),
      Buffer.from(Buffer.from('GIF89a....').toString('base64')),
      Buffer.from(Buffer.from([0xff, 0xd8, 0xff, 0xd9]).toString('base64')), // SOI+EOI, no SOF
      Buffer.from(TINY_JPEG.toString('base64')),
    ];
    const out = await run(await hostile(payloads.map(legacy), 'end'));
    expect(out.error).toBeNull();
    expect(out.ended).toBe(true);
    expect(out.frames).toBe(1);
    expect(out.bad).toBe(4);
  });
});

describe('JPEG header reader on random bytes', () => {
  it('never throws or loops, and only reports sizes it read from a SOF segment', () => {
    const jpegish = fc
      .uint8Array({ maxLength: 200 })
      .map((rest) => Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.from(rest)]));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u)),
          jpegish,
        ),
        (buf) => {
          const info = jpegInfo(buf);
          looksLikeJpeg(buf);
          if (info) {
            expect(info.width).toBeGreaterThanOrEqual(0);
            expect(info.width).toBeLessThanOrEqual(0xffff);
            expect(info.height).toBeLessThanOrEqual(0xffff);
          }
        },
      ),
      { numRuns: 2000 },
    );
    expect(jpegInfo(TINY_JPEG)).toEqual({ width: 8, height: 8 });
  });
});
