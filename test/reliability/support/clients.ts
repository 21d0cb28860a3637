import net from 'node:net';
import { LegacyParser } from '../../../src/client/legacy-parser.js';

/** A seed-framing client that only counts what it receives (cheap enough to run many). */
export interface CountingClient {
  readonly frames: number;
  readonly bytes: number;
  readonly closed: boolean;
  socket: net.Socket;
  /** Resolves when `n` more frames than now have arrived, or rejects after `ms`. */
  waitFrames(n: number, ms?: number): Promise<void>;
  close(): void;
}

/** Connects a silent (legacy) client that counts whole frames. */
export function countingClient(port: number, host = '127.0.0.1'): Promise<CountingClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host });
    const parser = new LegacyParser();
    let frames = 0;
    let bytes = 0;
    let closed = false;
    const waiters: Array<{ at: number; done: () => void }> = [];
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      parser.push(chunk, () => {
        frames++;
        for (let i = waiters.length - 1; i >= 0; i--) {
          const w = waiters[i] as { at: number; done: () => void };
          if (frames >= w.at) {
            waiters.splice(i, 1);
            w.done();
          }
        }
      });
    });
    socket.on('error', () => {});
    socket.on('close', () => (closed = true));
    socket.once('connect', () =>
      resolve({
        get frames() {
          return frames;
        },
        get bytes() {
          return bytes;
        },
        get closed() {
          return closed;
        },
        socket,
        waitFrames(n, ms = 10_000) {
          return new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error(`no ${n} frames within ${ms} ms`)), ms);
            waiters.push({
              at: frames + n,
              done: () => {
                clearTimeout(timer);
                res();
              },
            });
          });
        },
        close: () => socket.destroy(),
      }),
    );
    socket.once('error', reject);
  });
}

/** Resolves when the socket closes, or rejects after `ms`. */
export function closedWithin(socket: net.Socket, ms: number): Promise<void> {
  if (socket.destroyed && socket.closed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs `task(i)` for i in 0..count-1 with at most `parallel` at once. */
export async function pool(
  count: number,
  parallel: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
}
