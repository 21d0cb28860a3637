import net from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LegacyParser } from '../../src/client/legacy-parser.js';
import { noSignalJpeg } from '../../src/encode/no-signal.js';
import { StatusCode, encodeHello } from '../../src/protocol/native.js';
import { NativeParser } from '../../src/protocol/native-parser.js';
import { makeClip } from '../helpers/fixtures.js';
import { pidsMatching } from '../helpers/processes.js';
import { sleep } from './support/clients.js';
import { fakeFfmpeg, type FakeFfmpeg } from './support/fake-ffmpeg.js';
import { httpCamera, type HttpCamera } from './support/http-camera.js';
import { descendants, startServerProcess, type ServerProcess } from './support/server-process.js';

// Losing the source is a state: a live input that dies is retried with backoff while clients stay
// connected and see a NO SIGNAL picture; a file that ends is the end of a transmission.

let server: ServerProcess | null = null;
let fake: FakeFfmpeg | null = null;
let camera: HttpCamera | null = null;

afterEach(async () => {
  await server?.stop();
  server = null;
  await camera?.close();
  camera = null;
  if (fake) {
    // Nothing the fake started may outlive the server (the wrapper and its real ffmpeg).
    expect(pidsMatching(fake.path)).toEqual([]);
    fake.cleanup();
    fake = null;
  }
});

afterAll(() => expect(pidsMatching('framecast-fake-ffmpeg-')).toEqual([]));

/** A seed client that notes each frame as 'F' (picture) or 'N' (the NO SIGNAL picture). */
interface Watcher {
  readonly seq: string;
  readonly closed: boolean;
  until(re: RegExp, ms: number): Promise<void>;
  close(): void;
}

async function watch(port: number, noSignal: Buffer): Promise<Watcher> {
  const b64 = Buffer.from(noSignal.toString('base64'), 'latin1');
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  const parser = new LegacyParser();
  let seq = '';
  let closed = false;
  socket.on('data', (chunk: Buffer) =>
    parser.push(chunk, (payload) => {
      seq += payload.equals(b64) ? 'N' : 'F';
    }),
  );
  socket.on('close', () => (closed = true));
  await new Promise((r) => socket.once('connect', r));
  return {
    get seq() {
      return seq;
    },
    get closed() {
      return closed;
    },
    async until(re, ms) {
      const end = Date.now() + ms;
      while (!re.test(seq)) {
        if (Date.now() > end) throw new Error(`frames seen: ${seq} (wanted ${re})`);
        if (closed) throw new Error(`client closed after frames ${seq} (wanted ${re})`);
        await sleep(50);
      }
    },
    close: () => socket.destroy(),
  };
}

/** A native client that records the STATUS codes it is sent. */
function nativeStatuses(port: number): { codes: number[]; readonly frames: number; close(): void } {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  socket.write(encodeHello('', Date.now()));
  const parser = new NativeParser(1 << 24);
  const codes: number[] = [];
  let frames = 0;
  socket.on('data', (c: Buffer) =>
    parser.push(c, (m) => {
      if (m.type === 'status') codes.push(m.code);
      else if (m.type === 'frame') frames++;
    }),
  );
  return {
    codes,
    get frames() {
      return frames;
    },
    close: () => socket.destroy(),
  };
}

describe('source faults', () => {
  it('an ffmpeg that crashes, then a camera that is gone: NO SIGNAL, retries with backoff, frames resume', async () => {
    fake = fakeFfmpeg([15, 0, 0, -1]);
    server = await startServerProcess(
      { source: 'rtsp://admin:hunter2@127.0.0.1:1/cam', retryDelayMs: 200, width: 0, httpPort: 0 },
      { ...process.env, FFMPEG_PATH: fake.path },
    );
    // width 0: NO SIGNAL is 800 wide (never a size the source claimed), 4:3 as the camera's frames.
    const client = await watch(server.port, await noSignalJpeg(800, 600, 80));
    const native = nativeStatuses(server.port);
    await client.until(/^F{10,}/, 15_000);
    await client.until(/^F+N/, 15_000);
    const during = await server.stats();
    expect(during.state).toBe('no-signal');
    // /stats says so too, with the retry count and the reason, the password removed.
    const stats = (await (await fetch(`http://127.0.0.1:${server.httpPort}/stats`)).json()) as {
      source: { state: string; name: string; signal: { retries: number; lastError: string } | null };
    };
    expect(stats.source.state).toBe('no-signal');
    expect(stats.source.signal?.lastError).toBeTruthy();
    expect(stats.source.name).toBe('rtsp://admin:***@127.0.0.1:1/cam');
    expect(JSON.stringify(stats)).not.toContain('hunter2');
    await client.until(/^F+N+F{10,}$/, 20_000);
    expect(client.closed).toBe(false);
    expect(fake.runs()).toBe(4);
    // Native clients are told in the protocol as well: NO SIGNAL, then SIGNAL RESTORED.
    expect(native.codes.filter((c) => c === StatusCode.NoSignal).length).toBeGreaterThanOrEqual(1);
    expect(native.codes.at(-1)).toBe(StatusCode.SignalRestored);
    expect(native.frames).toBeGreaterThan(10);
    native.close();

    const after = await server.stats();
    expect(after.state).toBe('live');
    expect(after.transmissions).toBe(1); // one transmission through the whole outage
    const status = (await server.events()).filter((e) => e.event === 'source-status');
    expect(status.map((e) => `${e.state}/${e.retries}`)).toEqual([
      'live/0',
      'no-signal/0',
      'no-signal/1',
      'no-signal/2',
      'live/0',
    ]);
    const errors = status.map((e) => String(e.lastError));
    expect(errors[1]).toMatch(/simulated crash/);
    expect(errors[2]).toMatch(/Connection refused/);
    // Backoff doubles: 200, 400, 800 ms after each failure.
    const delays = status.slice(1, 4).map((e) => Number(e.nextRetryAt) - Number(e.since));
    expect(delays[2]! - delays[1]!).toBeGreaterThan(0);
    // The camera's password never reaches the status, logs or /stats.
    expect(JSON.stringify(status)).not.toContain('hunter2');
    expect(JSON.stringify(after.status)).not.toContain('hunter2');
    // The wrapper and its ffmpeg are the server's only children.
    expect(descendants(server.pid).length).toBeLessThanOrEqual(2);
    client.close();
  });

  it('with --retry-delay 0 a failing live source ends the transmission; the server keeps listening', async () => {
    fake = fakeFfmpeg([10, -1]);
    server = await startServerProcess(
      { source: 'rtsp://127.0.0.1:1/cam', retryDelayMs: 0, width: 0 },
      { ...process.env, FFMPEG_PATH: fake.path },
    );
    const first = await watch(server.port, await noSignalJpeg(320, 240, 80));
    await first.until(/^F{10}$/, 15_000);
    for (let i = 0; i < 100 && !first.closed; i++) await sleep(50);
    expect(first.closed).toBe(true);
    expect((await server.events()).find((e) => e.event === 'transmission-end')).toMatchObject({
      reason: 'source-error',
      code: 'ERR_SOURCE_FAILED',
    });
    // The next client starts a new transmission (the source's second run streams on).
    const second = await watch(server.port, Buffer.alloc(0));
    await second.until(/^F{10}/, 15_000);
    expect(fake.runs()).toBe(2);
    second.close();
  });

  it('an HTTP camera that is unplugged and comes back: the transmission survives it', async () => {
    camera = await httpCamera();
    server = await startServerProcess({ source: camera.url, retryDelayMs: 200, width: 320 });
    const client = await watch(server.port, await noSignalJpeg(320, 240, 80));
    await client.until(/^F{10,}/, 15_000);
    await camera.unplug();
    await client.until(/^F+N/, 15_000);
    expect((await server.stats()).state).toBe('no-signal');
    // A few refused retries (each one a no-signal status), however slowly a loaded machine runs them.
    // events() hands over what happened since the last call: keep them.
    const seen: Record<string, unknown>[] = [];
    const noSignals = async (): Promise<number> => {
      seen.push(...(await server!.events()));
      return seen.filter((e) => e.event === 'source-status' && e.state === 'no-signal').length;
    };
    for (let i = 0; i < 100 && (await noSignals()) < 2; i++) await sleep(100);
    await camera.plugIn();
    await client.until(/^F+N+F{10,}$/, 20_000);
    const st = await server.stats();
    expect(st.state).toBe('live');
    expect(st.transmissions).toBe(1);
    const evs = [...seen, ...(await server.events())].filter((e) => e.event === 'source-status');
    const states = evs.map((e) => e.state);
    expect(states[0]).toBe('live');
    expect(states.at(-1)).toBe('live');
    expect(states.filter((s) => s === 'no-signal').length).toBeGreaterThanOrEqual(2);
    client.close();
  });

  it('a file that ends is the end of a transmission, not an error; the next client starts again', async () => {
    const clip = makeClip({ seconds: 1, width: 320, height: 240 });
    server = await startServerProcess({ source: clip.path, width: 0 });
    const first = await watch(server.port, Buffer.alloc(0));
    await first.until(/^F{30}$/, 15_000);
    for (let i = 0; i < 100 && !first.closed; i++) await sleep(50);
    expect(first.closed).toBe(true);
    expect(first.seq).toBe('F'.repeat(30));
    const ends = (await server.events()).filter((e) => e.event === 'transmission-end');
    expect(ends).toEqual([{ event: 'transmission-end', reason: 'eof', code: null }]);
    expect((await server.stats()).state).toBe('idle');
    const second = await watch(server.port, Buffer.alloc(0));
    await second.until(/^F{30}$/, 15_000);
    expect((await server.stats()).transmissions).toBe(2);
    second.close();
  });
});
