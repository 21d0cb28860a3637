import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/app/serve.js';
import { STATIC_FILES } from '../../src/transports/http/web-assets.js';

// The HTTP inputs a peer controls (request line, path, query, Authorization, Origin, Upgrade, raw
// bytes) against a server that requires a token: every request gets an answer or a closed socket,
// nothing but the public static files is served without the token, and the server stays up.

const TOKEN = 'fuzz-secret-31f0';
let server: FramecastServer;
let port: number;

beforeAll(async () => {
  server = await serve({ source: 'test', port: 0, httpPort: 0, token: TOKEN, httpHeadersTimeoutMs: 2000 });
  port = server.httpAddress()?.port as number;
});

afterAll(() => server?.close());

/** Sends raw bytes and returns the status code of the answer, or 'closed' if the socket closed first. */
function exchange(bytes: Buffer): Promise<number | 'closed'> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let head = '';
    s.on('error', () => {});
    s.on('data', (c: Buffer) => {
      head += c.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (m) {
        resolve(Number(m[1]));
        s.destroy();
      }
    });
    s.on('close', () => resolve('closed'));
    s.setTimeout(5000, () => s.destroy());
    s.write(bytes);
  });
}

const headerText = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 60,
});
const pathArb = fc.oneof(
  fc.constantFrom(
    '/',
    '/stats',
    '/metrics',
    '/stream.mjpg',
    '/snapshot.jpg',
    '/ws',
    '/dashboard',
    '/transmission/stop',
  ),
  fc.constantFrom(...Object.keys(STATIC_FILES)),
  fc.constantFrom(...Object.keys(STATIC_FILES)).map((f) => `/streams/default${f}`),
  fc.webPath(),
  headerText.map((t) => '/' + t.replace(/[\s]/g, '')),
);

describe('HTTP inputs under fuzz', () => {
  it('random requests: always answered or closed; nothing private served without the token', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'OPTIONS', 'DELETE', 'BREW'),
        pathArb,
        fc.option(fc.oneof(headerText, fc.constant(TOKEN.slice(0, -1)), fc.constant(TOKEN + 'x'))),
        fc.option(headerText),
        fc.option(headerText),
        fc.boolean(),
        async (method, path, token, auth, origin, upgrade) => {
          const query =
            token === null ? '' : `${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
          const lines = [`${method} ${path}${query} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
          if (auth !== null) lines.push(`Authorization: ${auth}`);
          if (origin !== null) lines.push(`Origin: ${origin}`);
          if (upgrade)
            lines.push(
              'Upgrade: websocket',
              'Connection: Upgrade',
              'Sec-WebSocket-Version: 13',
              'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
            );
          const status = await exchange(Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'));
          if (status === 'closed') return;
          expect(status).toBeGreaterThanOrEqual(200);
          expect(status).toBeLessThan(600);
          if (status < 300 && status !== 204) {
            // Only the pages' public scripts and styles are served to a peer without the token (at
            // the root or beside a stream's viewer page).
            const pathname = new URL(path, 'http://x').pathname.replace(/^\/streams\/[^/]*(?=\/)/, '');
            expect(Object.keys(STATIC_FILES)).toContain(pathname);
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(server.hub.totals.clientsServed).toBe(0);
  });

  it('random bytes on the HTTP port: 400 or a closed socket, and the server stays up', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 600 }), async (bytes) => {
        const status = await exchange(Buffer.concat([Buffer.from(bytes), Buffer.from('\r\n\r\n')]));
        if (status !== 'closed') expect([400, 401, 404, 405, 408, 413, 414, 431, 505]).toContain(status);
      }),
      { numRuns: 200 },
    );
    const ok = await fetch(`http://127.0.0.1:${port}/stats`, {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect(ok.status).toBe(200);
  });

  it('request targets the URL parser rejects get an answer (they used to throw in the handler)', async () => {
    for (const target of ['//', '//////?token=x', '//J}cw*P:`c', 'http://a:b/', 'http://[::1', '*']) {
      for (const method of ['GET', 'POST']) {
        const status = await exchange(Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
        expect([400, 401, 404], `${method} ${target}`).toContain(status);
      }
      const ws = await exchange(
        Buffer.from(
          `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        ),
      );
      expect([400, 401, 404], `upgrade ${target}`).toContain(ws);
    }
  });

  it('oversized headers and request lines are refused, not buffered', async () => {
    const longLine = await exchange(
      Buffer.from(`GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`),
    );
    expect([400, 414, 431, 'closed']).toContain(longLine);
    const big = await exchange(
      Buffer.from(`GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'b'.repeat(64 * 1024)}\r\n\r\n`),
    );
    expect([431, 'closed']).toContain(big);
  });
});
