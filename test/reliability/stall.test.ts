import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countingClient, sleep, type CountingClient } from './support/clients.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';

// Peers that connect and stop reading are cut after the stall timeout, so they cannot hold places
// among --max-clients forever; readers around them are not disturbed.

let server: ServerProcess;
let observer: CountingClient;

beforeAll(async () => {
  server = await startServerProcess({ source: 'test', width: 0, httpPort: 0, stallTimeoutMs: 1500 });
  observer = await countingClient(server.port);
  await observer.waitFrames(10);
});

afterAll(async () => {
  observer?.close();
  await server?.stop();
});

/** A WebSocket viewer (raw upgrade) that never reads after the handshake. */
function stalledWebSocket(port: number): net.Socket {
  const s = net.connect({ port, host: '127.0.0.1' });
  s.on('error', () => {});
  s.write(
    'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  s.pause();
  return s;
}

describe('stalled clients', () => {
  it('are cut after the stall timeout (TCP and WebSocket); the observer keeps its frames', async () => {
    const stalled = Array.from({ length: 4 }, () => {
      const s = net.connect({ port: server.port, host: '127.0.0.1' });
      s.on('error', () => {});
      s.pause();
      return s;
    });
    stalled.push(stalledWebSocket(server.httpPort as number));
    await sleep(500);
    expect((await server.stats()).clients).toBe(6);
    const before = observer.frames;
    const framesBefore = (await server.stats()).framesIn;
    // Kernel buffers fill in a few seconds, then 1.5 s of stall, then the end grace: well under 20 s.
    // (The stalled peers themselves never notice: they do not read, so they never see the close.)
    const kicked: Array<Record<string, unknown>> = [];
    let s = await server.stats();
    for (let i = 0; i < 200 && (kicked.length < 5 || s.clients !== 1); i++) {
      await sleep(100);
      kicked.push(...(await server.events()).filter((e) => e.event === 'kicked'));
      s = await server.stats();
    }
    expect(kicked.map((e) => e.protocol).sort()).toEqual(['legacy', 'legacy', 'legacy', 'legacy', 'ws']);
    expect(s.clients).toBe(1);
    for (const k of kicked) expect(Number(k.stalledMs)).toBeGreaterThan(1500);
    const produced = (await server.stats()).framesIn - framesBefore;
    expect((observer.frames - before) / produced).toBeGreaterThanOrEqual(0.9);
    expect(observer.closed).toBe(false);
    for (const st of stalled) st.destroy();
  });
});
