import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { serve } from '../../src/index.js';
import { startServe } from '../helpers/cli.js';
import { makeClip } from '../helpers/fixtures.js';
import { timeToFirstLegacyFrame } from '../helpers/native.js';
import { killTracked, sleep } from '../helpers/processes.js';

afterAll(killTracked);

/** A seed-framed viewer that counts the whole frames it receives (length prefix + base64 payload). */
interface SeedViewer {
  frames: number;
  closed: boolean;
  socket: net.Socket;
}

function seedViewer(port: number, localAddress?: string): SeedViewer {
  const v: SeedViewer = {
    frames: 0,
    closed: false,
    socket: net.connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) }),
  };
  let need = 4;
  let inBody = false;
  let have = 0;
  v.socket.on('data', (chunk: Buffer) => {
    let i = 0;
    while (i < chunk.length) {
      if (!inBody) {
        // Length prefix, possibly split across chunks: read it byte by byte.
        need = ((need << 8) | chunk[i]!) >>> 0;
        i++;
        if (++have === 4) {
          inBody = true;
          have = 0;
        }
        continue;
      }
      const take = Math.min(need, chunk.length - i);
      need -= take;
      i += take;
      if (need === 0) {
        v.frames++;
        inBody = false;
      }
    }
  });
  v.socket.on('error', () => {});
  v.socket.once('close', () => (v.closed = true));
  return v;
}

async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(50);
  }
  return cond();
}

describe('crowds', () => {
  it('1000 seed clients connecting at once to a running stream are all served', async () => {
    // Small frames keep 1000 viewers cheap on 2 cores; the point is admission, not bandwidth.
    const srv = await startServe(['test', '--width', '160', '--max-clients', '1100', '--http-port', 'off']);
    const warm = seedViewer(srv.port);
    expect(await until(() => warm.frames > 0, 10_000)).toBe(true);
    const crowd: SeedViewer[] = [];
    for (let i = 0; i < 1000; i++) crowd.push(seedViewer(srv.port));
    const allServed = await until(() => crowd.every((v) => v.frames >= 3), 40_000);
    const counts = crowd.map((v) => v.frames);
    expect(counts.filter((n) => n < 3)).toEqual([]);
    expect(allServed).toBe(true);
    expect(srv.events.filter((e) => e.event === 'refused')).toEqual([]);
    expect(crowd.filter((v) => v.closed)).toHaveLength(0);
    for (const v of [warm, ...crowd]) v.socket.destroy();
    await srv.stop();
  }, 90_000);

  it('an idle flood from one address is contained, and other addresses still get in', async () => {
    const srv = await startServe([
      'test',
      '--width',
      '160',
      '--max-clients-per-ip',
      '40',
      '--max-clients',
      '1000',
      '--http-port',
      'off',
    ]);
    const flood: net.Socket[] = [];
    let closedByServer = 0;
    for (let i = 0; i < 300; i++) {
      const s = net.connect({ host: '127.0.0.1', port: srv.port });
      s.on('error', () => {});
      s.resume(); // never writes; what it is sent is discarded
      s.once('close', () => closedByServer++);
      flood.push(s);
    }
    expect(await until(() => closedByServer >= 260, 10_000)).toBe(true);
    await sleep(300);
    // Exactly the cap stays open; every other connection of that address was cut at once.
    expect(closedByServer).toBe(260);
    // Another address (all of 127.0.0.0/8 is loopback) is served.
    const other = seedViewer(srv.port, '127.0.0.2');
    expect(await until(() => other.frames >= 3, 10_000)).toBe(true);
    const refused = srv.events.filter((e) => e.event === 'refused');
    expect(refused).toHaveLength(260);
    expect(String(refused[0]?.['reason'])).toMatch(/max-clients-per-ip/);
    for (const s of flood) s.destroy();
    other.socket.destroy();
    await srv.stop();
  }, 30_000);

  it('without a per-address cap, idle connections beyond every place are cut, not held', async () => {
    const server = await serve({ source: 'test', port: 0, width: 160, maxClients: 5, maxWaiting: 5 });
    const refused: string[] = [];
    server.on('refused', (_a, reason) => refused.push(reason));
    const flood: net.Socket[] = [];
    let open = 200;
    for (let i = 0; i < 200; i++) {
      const s = net.connect({ host: '127.0.0.1', port: server.address().port });
      s.on('error', () => {});
      s.resume();
      s.once('close', () => open--);
      flood.push(s);
    }
    // 5 served + 5 waiting stay; the rest are refused, in their handshake or once they are seed clients.
    expect(await until(() => open === 10, 10_000)).toBe(true);
    expect(server.hub.clientCount + server.hub.waitingCount).toBe(10);
    expect(refused).toHaveLength(190);
    for (const s of flood) s.destroy();
    await server.close();
  }, 20_000);
});

describe('first frames', () => {
  const clip = makeClip({ seconds: 2 });

  it('a seed client on an idle server: the source starts during the hello grace (50 ms after accept), not after it', async () => {
    const srv = await startServe([clip.path, '--http-port', 'off']);
    const first = await timeToFirstLegacyFrame(srv.port);
    expect(first.ms).not.toBeNull();
    const start = await srv.waitForEvent('transmission-start');
    const client = await srv.waitForEvent('client');
    // The JSON log stamps every event: the source was started during the grace (50 ms after accept),
    // well before the client was classified as a seed client at its end (100 ms); started only then,
    // the two would be logged within the time it takes to spawn ffmpeg (1-19 ms measured here).
    expect(srv.events.indexOf(start)).toBeLessThan(srv.events.indexOf(client));
    const ahead = Date.parse(client['time'] as string) - Date.parse(start['time'] as string);
    expect(ahead).toBeGreaterThanOrEqual(30);
    expect(client['protocol']).toBe('legacy');
    await srv.stop();
  }, 20_000);

  it('--legacy-port sends the first frame at once, without waiting for a hello', async () => {
    const srv = await startServe(['test', '--http-port', 'off', '--legacy-port', '0', '--preload']);
    const listening = await srv.waitForEvent('listening');
    const legacyPort = listening['legacyPort'] as number;
    expect(legacyPort).toBeGreaterThan(0);
    await srv.waitForEvent('transmission-start');
    await sleep(300); // the preloaded source has its first frame
    // Best of five, interleaved: one sample on a loaded 2-core machine can stall for 100 ms or more.
    const legacy: number[] = [];
    const mains: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = await timeToFirstLegacyFrame(legacyPort, 5000);
      const main = await timeToFirstLegacyFrame(srv.port, 5000);
      expect(t.ms).not.toBeNull();
      expect(main.ms).not.toBeNull();
      legacy.push(t.ms as number);
      mains.push(main.ms as number);
    }
    // The main port waits its hello grace (100 ms) before it knows a seed client; the legacy port does not.
    expect(Math.min(...mains)).toBeGreaterThanOrEqual(95);
    expect(Math.min(...legacy)).toBeLessThan(Math.min(...mains));
    await srv.stop();
  }, 20_000);

  it('--preload starts the source with nobody watching; --no-pace keeps every frame for the first client', async () => {
    const srv = await startServe([clip.path, '--no-pace', '--preload', '--http-port', 'off']);
    await srv.waitForEvent('transmission-start');
    await sleep(800); // held at its first frame all this time
    const v = seedViewer(srv.port);
    expect(await until(() => v.closed, 15_000)).toBe(true);
    expect(v.frames).toBe(clip.frames);
    await srv.stop();
  }, 30_000);

  it('--legacy-port with a token needs --allow-legacy (usage error, exit 2)', async () => {
    const srv = startServe(['test', '--http-port', 'off', '--legacy-port', '0', '--token', 'abcdefgh']);
    await expect(srv).rejects.toThrow(/--allow-legacy/);
  });
});
