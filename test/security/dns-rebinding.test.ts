/**
 * DNS rebinding: a page on evil.example whose name the attacker points at 127.0.0.1 sends requests
 * with `Host: evil.example:PORT` and `Origin: http://evil.example:PORT`, which agree with each other.
 * A server bound to loopback answers only to a loopback Host, and the same-origin check trusts
 * Host = Origin only for names no DNS answer can move (issue "Every way in checked the same", 6.4).
 */
import type http from 'node:http';
import net from 'node:net';
import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { hostAllowed, originAllowed } from '../../src/transports/http/auth.js';
import { LocalViewerServer } from '../../src/transports/http/viewer-server.js';
import { serve, type FramecastServer } from '../../src/app/serve.js';
import { openWs, until } from '../http/support.js';
import { sleep } from '../helpers/processes.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function start(
  opts: Parameters<typeof serve>[0] = {},
): Promise<{ server: FramecastServer; port: number }> {
  const server = await serve({ source: 'test', port: 0, httpPort: 0, width: 160, ...opts });
  closers.push(() => server.close());
  return { server, port: server.httpAddress()?.port as number };
}

/** One raw HTTP/1.1 exchange; resolves with everything the server sent until it closed (or 3 s). */
function exchange(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let got = '';
    const done = (): void => {
      s.destroy();
      resolve(got);
    };
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      // Headers of a response we read no body of (an upgrade, a stream): enough.
      if (/^HTTP\/1\.1 (101|200 OK\r\n[^]*multipart)/.test(got) && got.includes('\r\n\r\n')) done();
    });
    s.on('error', done);
    s.on('close', done);
    setTimeout(done, 3000);
    s.write(request);
  });
}

const get = (port: number, path: string, host: string, extra = ''): Promise<string> =>
  exchange(port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n${extra}\r\n`);

const upgrade = (port: number, host: string, origin: string): Promise<string> =>
  exchange(
    port,
    `GET /ws HTTP/1.1\r\nHost: ${host}\r\nOrigin: ${origin}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );

const status = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);

describe('a server bound to loopback', () => {
  it('refuses a request whose Host is not a loopback name or address (421), on every endpoint', async () => {
    const { port } = await start();
    for (const host of [
      `evil.example:${port}`,
      'evil.example',
      `localhost.evil.example:${port}`,
      `10.0.0.5:${port}`,
    ]) {
      for (const path of ['/stats', '/snapshot.jpg', '/stream.mjpg', '/']) {
        const answer = await get(port, path, host);
        expect(status(answer), `${host} ${path}`).toBe(421);
        expect(answer).not.toContain('"clients"');
      }
    }
    expect(await get(port, '/stats', `evil.example:${port}`)).toContain('DNS rebinding');
    // Loopback names and addresses are this machine's, whatever DNS says.
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `LOCALHOST:${port}`,
      `[::1]:${port}`,
      `127.1.2.3:${port}`,
      '127.0.0.1',
    ]) {
      expect(status(await get(port, '/stats', host)), host).toBe(200);
    }
  });

  it("refuses the rebound page's WebSocket and its POST: the transmission is not stopped", async () => {
    const { server, port } = await start();
    const evil = `evil.example:${port}`;
    expect(status(await upgrade(port, evil, `http://${evil}`))).toBe(421);
    // A viewer of our own keeps the transmission running.
    const v = openWs(`ws://127.0.0.1:${port}/ws`, false, { Origin: `http://127.0.0.1:${port}` });
    await v.opened;
    await until(() => v.count > 0, 8000, 'a frame');
    const post = await exchange(
      port,
      `POST /transmission/stop HTTP/1.1\r\nHost: ${evil}\r\nOrigin: http://${evil}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    expect(status(post)).toBe(421);
    await sleep(300);
    expect(server.streams.default?.hub.transmitting).toBe(true);
    expect(v.ws.readyState).toBe(v.ws.OPEN);
    // Our own page (127.0.0.1, localhost) still may.
    expect(status(await upgrade(port, `localhost:${port}`, `http://localhost:${port}`))).toBe(101);
    v.ws.close();
  });

  it("--allow-origin's host is accepted as Host too (a reverse proxy that passes its own)", async () => {
    const { port } = await start({ allowOrigin: 'https://cams.example.org' });
    expect(status(await get(port, '/stats', 'cams.example.org'))).toBe(200);
    expect(status(await get(port, '/stats', `evil.example:${port}`))).toBe(421);
  });
});

describe("the client's local viewer (play's window, loopback)", () => {
  it('refuses a rebound Host on its page and its WebSocket', async () => {
    const viewer = new LocalViewerServer({ port: 0, title: 't' });
    const { port } = await viewer.listen();
    closers.push(() => viewer.close());
    expect(status(await get(port, '/', `evil.example:${port}`))).toBe(421);
    expect(status(await upgrade(port, `evil.example:${port}`, `http://evil.example:${port}`))).toBe(421);
    expect(status(await get(port, '/', `127.0.0.1:${port}`))).toBe(200);
    expect(status(await upgrade(port, `127.0.0.1:${port}`, `http://127.0.0.1:${port}`))).toBe(101);
  });
});

/** A request as the checks see it: only its headers. */
const req = (headers: http.IncomingHttpHeaders): http.IncomingMessage =>
  ({ headers }) as http.IncomingMessage;

describe('originAllowed', () => {
  it('trusts Origin = Host only for names DNS cannot move: IP addresses and localhost', () => {
    // Rebinding: the attacker's name agrees with itself.
    expect(originAllowed(req({ origin: 'http://evil.example:8080', host: 'evil.example:8080' }), null)).toBe(
      false,
    );
    // A server on the LAN reached by its address, or on this machine.
    expect(originAllowed(req({ origin: 'http://10.0.0.5:8080', host: '10.0.0.5:8080' }), null)).toBe(true);
    expect(originAllowed(req({ origin: 'http://[fd00::5]:8080', host: '[fd00::5]:8080' }), null)).toBe(true);
    expect(originAllowed(req({ origin: 'http://localhost:8080', host: 'localhost:8080' }), null)).toBe(true);
    expect(originAllowed(req({ origin: 'https://127.0.0.1', host: '127.0.0.1' }), null)).toBe(true);
    // This machine's own name (and its mDNS name) is not the attacker's to answer for.
    const own = hostname().toLowerCase();
    expect(originAllowed(req({ origin: `http://${own}:8080`, host: `${own}:8080` }), null)).toBe(true);
    expect(originAllowed(req({ origin: `http://${own}.local:8080`, host: `${own}.local:8080` }), null)).toBe(
      true,
    );
    expect(
      originAllowed(
        req({ origin: `http://${own}.evil.example:8080`, host: `${own}.evil.example:8080` }),
        null,
      ),
    ).toBe(false);
    // Another port on the same machine is another site.
    expect(originAllowed(req({ origin: 'http://127.0.0.1:3000', host: '127.0.0.1:8080' }), null)).toBe(false);
    expect(originAllowed(req({ origin: 'null', host: '127.0.0.1:8080' }), null)).toBe(false);
    // A name is fine when it is the allowed origin; no Origin is not a browser acting for a site.
    expect(
      originAllowed(
        req({ origin: 'https://cams.example.org', host: 'cams.example.org' }),
        'https://cams.example.org',
      ),
    ).toBe(true);
    expect(originAllowed(req({ host: 'evil.example' }), null)).toBe(true);
  });
});

describe('hostAllowed', () => {
  it('checks Host only when bound to loopback', () => {
    expect(hostAllowed(req({ host: 'evil.example' }), '127.0.0.1', null)).toBe(false);
    expect(hostAllowed(req({ host: 'evil.example' }), '::1', null)).toBe(false);
    expect(hostAllowed(req({ host: 'evil.example' }), 'localhost', null)).toBe(false);
    expect(hostAllowed(req({ host: 'localhost.' }), '127.0.0.1', null)).toBe(true);
    expect(hostAllowed(req({ host: '[::ffff:127.0.0.1]:80' }), '127.0.0.1', null)).toBe(true);
    // No Host (HTTP/1.0 tools) is not a browser.
    expect(hostAllowed(req({}), '127.0.0.1', null)).toBe(true);
    // Bound beyond loopback, the names users type are not known: the token guards it.
    expect(hostAllowed(req({ host: 'cam.lan:8080' }), '0.0.0.0', null)).toBe(true);
    // With allowOrigin '*' every site may already read every answer.
    expect(hostAllowed(req({ host: 'evil.example' }), '127.0.0.1', '*')).toBe(true);
  });
});
