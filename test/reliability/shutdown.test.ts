import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LegacyParser } from '../../src/client/legacy-parser.js';
import { startServe, type ServeHandle } from '../helpers/cli.js';
import { isAlive, killTracked } from '../helpers/processes.js';
import { sleep } from './support/clients.js';
import { descendants } from './support/server-process.js';

// SIGTERM: stop accepting, finish the frame in flight for each client, close, kill ffmpeg, exit 0
// within 2 s, leaving no process behind.

afterEach(killTracked);

/** A seed client that records whether the stream closed cleanly (FIN) on a frame boundary. */
interface Probe {
  frames: number;
  fin: boolean;
  error: string | null;
  boundary: boolean | null;
  closed: Promise<void>;
}

async function probe(port: number, read = true): Promise<{ p: Probe; socket: net.Socket }> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  const parser = new LegacyParser();
  const p: Probe = { frames: 0, fin: false, error: null, boundary: null, closed: Promise.resolve() };
  p.closed = new Promise((resolve) => {
    socket.on('data', (c: Buffer) => parser.push(c, () => p.frames++));
    socket.on('end', () => (p.fin = true));
    socket.on('error', (e: NodeJS.ErrnoException) => (p.error = e.code ?? e.message));
    socket.on('close', () => {
      p.boundary = parser.atBoundary;
      resolve();
    });
  });
  if (!read) socket.pause();
  await new Promise((r) => socket.once('connect', r));
  return { p, socket };
}

async function waitFrames(p: Probe, n: number): Promise<void> {
  for (let i = 0; i < 200 && p.frames < n; i++) await sleep(50);
  expect(p.frames).toBeGreaterThanOrEqual(n);
}

function connectResult(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    s.once('connect', () => {
      // Accepted by the kernel backlog at worst; the server must close it without a frame.
      s.once('data', () => resolve('data'));
      s.once('close', () => resolve('closed'));
    });
  });
}

describe('clean shutdown', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: clients get whole frames and a clean close, ffmpeg is killed, exit 0 within 2 s`, async () => {
      const serve: ServeHandle = await startServe(['test', '--width', '640']);
      const clients = await Promise.all([probe(serve.port), probe(serve.port), probe(serve.port)]);
      await Promise.all(clients.map(({ p }) => waitFrames(p, 10)));
      const kids = descendants(serve.pid);
      expect(kids.length).toBeGreaterThanOrEqual(1); // ffmpeg

      const t0 = Date.now();
      serve.child.kill(signal);
      await sleep(300);
      // No longer accepting: a new connection is refused or closed without a frame.
      expect(['ECONNREFUSED', 'ECONNRESET', 'closed']).toContain(await connectResult(serve.port));
      const exit = await serve.stop(signal, 5000);
      const ms = Date.now() - t0;
      expect(exit).toMatchObject({ code: 0, timedOut: false });
      expect(ms).toBeLessThan(2500);
      await Promise.all(clients.map(({ p }) => p.closed));
      for (const { p } of clients) {
        expect(p).toMatchObject({ fin: true, error: null, boundary: true });
      }
      expect(serve.events.some((e) => e.event === 'shutdown')).toBe(true);
      for (const pid of kids) expect(isAlive(pid)).toBe(false);
    });
  }

  it('a client that never reads does not hold the exit past 2 s', async () => {
    const serve = await startServe(['test', '--width', '640']);
    const good = await probe(serve.port);
    const stalled = await Promise.all(Array.from({ length: 5 }, () => probe(serve.port, false)));
    await waitFrames(good.p, 60); // two seconds: the stalled clients' buffers fill up
    const kids = descendants(serve.pid);
    const t0 = Date.now();
    const exit = await serve.stop('SIGTERM', 5000);
    expect(exit).toMatchObject({ code: 0, timedOut: false });
    expect(Date.now() - t0).toBeLessThan(2500);
    await good.p.closed;
    expect(good.p).toMatchObject({ fin: true, boundary: true });
    for (const { socket } of stalled) socket.destroy();
    for (const pid of kids) expect(isAlive(pid)).toBe(false);
  });

  it('SIGTERM while idle (no transmission) exits at once', async () => {
    const serve = await startServe(['test']);
    const t0 = Date.now();
    expect(await serve.stop('SIGTERM', 5000)).toMatchObject({ code: 0, timedOut: false });
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
