/**
 * Helpers for native-protocol tests: small real JPEGs, an in-process server fed by a publisher on a
 * timer, and raw sockets that speak the protocol byte by byte (so the server is tested without our client).
 */
import net from 'node:net';
import sharp from 'sharp';
import { createPublisher, type Publisher } from '../../src/hub/publisher.js';
import { NativeParser, type NativeMessage } from '../../src/protocol/native-parser.js';
import { serve, type FramecastServer, type ServeOptions } from '../../src/app/serve.js';

/** A real baseline JPEG of a gradient (different for each `seed`). */
export async function makeJpeg(width = 64, height = 48, seed = 0): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7 + seed * 13) & 0xff;
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 80 })
    .toBuffer();
}

/** A server whose frames come from a publisher that publishes `jpeg` every `intervalMs` while watched. */
export interface PublishingServer {
  server: FramecastServer;
  publisher: Publisher;
  port: number;
  close: () => Promise<void>;
}

/** Starts serve() on 127.0.0.1:0 with a timer-driven publisher (HTTP off when the server has it). */
export async function publishingServer(
  opts: Omit<ServeOptions, 'publisher'> = {},
  intervalMs = 20,
): Promise<PublishingServer> {
  const jpeg = await makeJpeg();
  const publisher = createPublisher({ name: 'test frames' });
  let timer: NodeJS.Timeout | null = null;
  publisher.on('start', () => {
    publisher.publish(jpeg);
    timer = setInterval(() => publisher.publish(jpeg), intervalMs);
  });
  publisher.on('stop', () => {
    if (timer) clearInterval(timer);
    timer = null;
  });
  const server = await serve({ port: 0, ...opts, publisher });
  return {
    server,
    publisher,
    port: server.address().port,
    close: async () => {
      if (timer) clearInterval(timer);
      await server.close();
    },
  };
}

/** What a raw native connection saw. */
export interface RawSession {
  messages: NativeMessage[];
  /** The server closed the connection (false when we gave up first). */
  closed: boolean;
  /** Every byte received. */
  bytes: number;
  error: Error | null;
}

/**
 * Connects, sends `hello` (or nothing when null), parses what comes back until the server closes,
 * `until` returns true, or `timeoutMs` passes.
 */
export function rawNative(
  port: number,
  hello: Buffer | null,
  opts: { timeoutMs?: number; until?: (msgs: NativeMessage[]) => boolean } = {},
): Promise<RawSession> {
  return new Promise((resolve) => {
    const s: RawSession = { messages: [], closed: false, bytes: 0, error: null };
    const parser = new NativeParser(1 << 24);
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(s);
    };
    const timer = setTimeout(done, opts.timeoutMs ?? 5000);
    socket.once('connect', () => hello && socket.write(hello));
    socket.on('data', (chunk: Buffer) => {
      s.bytes += chunk.length;
      try {
        parser.push(chunk, (m) => s.messages.push(m));
      } catch (err) {
        s.error = err as Error;
        done();
        return;
      }
      if (opts.until?.(s.messages)) done();
    });
    socket.on('error', (err) => {
      s.error = err;
    });
    socket.once('close', () => {
      s.closed = true;
      done();
    });
  });
}

/** A silent (seed) client: ms from connect to its first complete seed-framed frame, or null if none. */
export function timeToFirstLegacyFrame(
  port: number,
  timeoutMs = 5000,
): Promise<{ ms: number | null; bytes: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let buf = Buffer.alloc(0);
    const socket = net.connect({ host: '127.0.0.1', port });
    const finish = (ms: number | null): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ms, bytes: buf.length });
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) finish(performance.now() - t0);
    });
    socket.on('error', () => {});
    socket.once('close', () => finish(null));
  });
}
