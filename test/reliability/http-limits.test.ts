import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openMjpeg } from '../helpers/mjpeg.js';
import { closedWithin, countingClient, sleep } from './support/clients.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';

// Peers that hold connections without finishing a request (slowloris), and peers that open more
// connections than their share (--max-clients-per-ip), against a server in its own process.

let server: ServerProcess | null = null;

afterEach(async () => {
  await server?.stop();
  server = null;
});

/** A raw TCP connection from `localAddress` (any 127.x.y.z works on Linux loopback). */
function rawConnect(port: number, localAddress = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    s.on('error', () => {});
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Status code of GET `path`, or the error code when the connection was cut. */
function get(port: number, path: string, localAddress = '127.0.0.1'): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, localAddress, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

describe('HTTP slow clients', () => {
  it('slow-header and silent connections are cut after the headers timeout; viewers are unaffected', async () => {
    server = await startServerProcess({
      source: 'test',
      width: 320,
      httpPort: 0,
      httpHeadersTimeoutMs: 1000,
    });
    const httpPort = server.httpPort as number;
    const viewer = openMjpeg(`http://127.0.0.1:${httpPort}/stream.mjpg`);
    await viewer.headers;
    await sleep(500);
    const fdsBefore = server.fds();

    const slow: net.Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const s = await rawConnect(httpPort);
      if (i % 2 === 0) s.write('GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      slow.push(s);
    }
    // Drip one header byte every 200 ms: each byte would reset an idle timer, not a headers timeout.
    const drip = setInterval(() => {
      for (const [i, s] of slow.entries()) if (i % 2 === 0 && !s.destroyed) s.write('X');
    }, 200);
    const t0 = Date.now();
    const count0 = viewer.count;
    try {
      await Promise.all(slow.map((s) => closedWithin(s, 5000)));
    } finally {
      clearInterval(drip);
    }
    const cutAfter = Date.now() - t0;
    expect(cutAfter).toBeGreaterThanOrEqual(800);
    expect(cutAfter).toBeLessThan(4000);
    // The viewer kept its stream (30 fps source) while the slow ones were held and cut.
    expect(viewer.count - count0).toBeGreaterThan((cutAfter / 1000) * 30 * 0.7);
    await sleep(200);
    expect(server.fds()).toBeLessThanOrEqual(fdsBefore);
    // A normal request still works.
    expect(await get(httpPort, '/stats')).toBe(200);
    viewer.close();
  });
});

describe('--max-clients-per-ip', () => {
  it('caps connections per address across TCP and HTTP; other addresses are not affected', async () => {
    server = await startServerProcess({ source: 'test', width: 320, httpPort: 0, maxClientsPerIp: 3 });
    const { port } = server;
    const httpPort = server.httpPort as number;

    // Three seed clients from 127.0.0.1 use its whole budget.
    const a = await Promise.all([0, 1, 2].map(() => countingClient(port)));
    await Promise.all(a.map((c) => c.waitFrames(2)));

    // A fourth connection from the same address, on either port, is cut before a byte is read.
    const extraTcp = await rawConnect(port);
    await closedWithin(extraTcp, 2000);
    expect(await get(httpPort, '/stats')).toMatch(/^E/);

    // Another address has its own budget.
    const other = await rawConnect(port, '127.0.0.2');
    let got = 0;
    other.on('data', (b: Buffer) => (got += b.length));
    expect(await get(httpPort, '/stats', '127.0.0.2')).toBe(200);
    await sleep(500);
    expect(got).toBeGreaterThan(0);
    expect(other.destroyed).toBe(false);

    // Closing one frees a place for the next.
    a[0]!.close();
    await sleep(200);
    expect(await get(httpPort, '/stats')).toBe(200);
    const refused = (await server.events()).filter((e) => e.event === 'refused');
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(refused.every((e) => /max-clients-per-ip/.test(String(e.reason)))).toBe(true);
    for (const c of a) c.close();
    other.destroy();
    let s = await server.stats();
    for (let i = 0; i < 40 && s.clients > 0; i++) {
      await sleep(50);
      s = await server.stats();
    }
    expect(s.clients).toBe(0);
  });
});
