/**
 * Unit tests of the HTTP transport's small pieces: responses (respond.ts), tokens, Host and Origin
 * checks and CORS (auth.ts). Requests and responses are stand-ins carrying just what the code reads.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { describe, expect, it, vi } from 'vitest';
import {
  corsHeaders,
  hostAllowed,
  MISDIRECTED,
  originAllowed,
  presentedCredentials,
  presentedToken,
} from '../../../src/transports/http/auth.js';
import { isLoopbackHost } from '../../../src/util/loopback.js';
import { NO_CACHE, peerOf, requestUrl, sendJson, sendText } from '../../../src/transports/http/respond.js';

// A test that waits for what a mutant broke fails within 3 s (mutation runs retry a failure twice).
vi.setConfig({ testTimeout: 3000 });

/** A request stand-in: its headers, URL and peer. */
function req(
  headers: Record<string, string> = {},
  url = '/',
  socket: { remoteAddress?: string; remotePort?: number } = {},
): IncomingMessage {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { headers: lower, url, socket } as unknown as IncomingMessage;
}

/** A response stand-in that records writeHead, end and destroy. */
class Res {
  headersSent = false;
  status = 0;
  headers: Record<string, string | number> = {};
  body: Buffer | null = null;
  destroyed = 0;
  writeHead(status: number, headers: Record<string, string | number>): this {
    this.status = status;
    this.headers = headers;
    this.headersSent = true;
    return this;
  }
  end(body?: Buffer): void {
    this.body = body ?? null;
  }
  destroy(): void {
    this.destroyed++;
  }
  get as(): ServerResponse {
    return this as unknown as ServerResponse;
  }
}

const EXPECTED_NO_CACHE = {
  'Cache-Control': 'no-store, no-cache, must-revalidate, proxy-revalidate, max-age=0',
  Pragma: 'no-cache',
  Expires: '0',
};

describe('respond', () => {
  it('NO_CACHE forbids every cache', () => {
    expect(NO_CACHE).toEqual(EXPECTED_NO_CACHE);
  });

  it('requestUrl parses the target against localhost and never throws', () => {
    const u = requestUrl(req({}, '/streams/cam/stats?token=a%20b'));
    expect(u.pathname).toBe('/streams/cam/stats');
    expect(u.searchParams.get('token')).toBe('a b');
    expect(u.host).toBe('localhost');
    expect(requestUrl({ headers: {}, socket: {} } as unknown as IncomingMessage).href).toBe(
      'http://localhost/',
    );
    // A port that is no number: the WHATWG parser throws; the request maps to a path nobody serves.
    expect(requestUrl(req({}, 'http://a:b/')).href).toBe('http://localhost/invalid-request-target');
  });

  it('peerOf names the peer as ip:port, [v6]:port', () => {
    expect(peerOf(req({}, '/', { remoteAddress: '10.1.2.3', remotePort: 4567 }))).toBe('10.1.2.3:4567');
    expect(peerOf(req({}, '/', { remoteAddress: '::1', remotePort: 80 }))).toBe('[::1]:80');
  });

  it('sendText: a plain-text body with a newline, its byte length, no caching, caller headers kept', () => {
    const res = new Res();
    sendText(res.as, 418, 'café', { 'X-Extra': 'yes', 'Content-Type': 'overridden' });
    expect(res.status).toBe(418);
    expect(res.headers).toEqual({
      'X-Extra': 'yes',
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': 6,
      ...EXPECTED_NO_CACHE,
    });
    expect(res.body?.toString('utf8')).toBe('café\n');
    expect(res.destroyed).toBe(0);
  });

  it('sendText with no extra headers', () => {
    const res = new Res();
    sendText(res.as, 404, 'no');
    expect(res.headers).toEqual({
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': 3,
      ...EXPECTED_NO_CACHE,
    });
  });

  it('sendText after the headers went out destroys the response instead of writing', () => {
    const res = new Res();
    res.headersSent = true;
    sendText(res.as, 500, 'late');
    expect(res.destroyed).toBe(1);
    expect(res.status).toBe(0);
    expect(res.body).toBeNull();
  });

  it('sendJson: indented JSON with a newline, its byte length, no caching', () => {
    const res = new Res();
    sendJson(res.as, 201, { a: 1, b: ['é'] }, { 'X-Extra': 'yes' });
    expect(res.status).toBe(201);
    const text = '{\n  "a": 1,\n  "b": [\n    "é"\n  ]\n}\n';
    expect(res.body?.toString('utf8')).toBe(text);
    expect(res.headers).toEqual({
      'X-Extra': 'yes',
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      ...EXPECTED_NO_CACHE,
    });
    const bare = new Res();
    sendJson(bare.as, 200, null);
    expect(bare.headers['Content-Type']).toBe('application/json; charset=utf-8');
    expect(bare.body?.toString()).toBe('null\n');
  });
});

describe('presentedToken and authorized', () => {
  const url = (q = ''): URL => new URL(`http://localhost/stats${q}`);

  it('reads a Bearer header (any case, any spacing around the token)', () => {
    expect(presentedToken(req({ Authorization: 'Bearer abc' }), url())).toBe('abc');
    expect(presentedToken(req({ Authorization: 'bearer   abc  ' }), url())).toBe('abc');
    expect(presentedToken(req({ Authorization: 'BEARER\tx.y-z' }), url())).toBe('x.y-z');
  });

  it('falls back to ?token= when the header is none or not a single Bearer token', () => {
    expect(presentedToken(req({}), url('?token=q'))).toBe('q');
    expect(presentedToken(req({}), url())).toBeNull();
    expect(presentedToken(req({ Authorization: 'Basic abc' }), url('?token=q'))).toBe('q');
    expect(presentedToken(req({ Authorization: 'Bearer a b' }), url('?token=q'))).toBe('q');
    expect(presentedToken(req({ Authorization: 'xBearer abc' }), url())).toBeNull();
    expect(presentedToken(req({ Authorization: 'Bearer' }), url())).toBeNull();
    // The header wins over the query.
    expect(presentedToken(req({ Authorization: 'Bearer h' }), url('?token=q'))).toBe('h');
  });

  it('presentedCredentials: Basic gives a user and password (the first colon splits), Bearer a token', () => {
    const basic = (s: string): string => `Basic ${Buffer.from(s).toString('base64')}`;
    expect(presentedCredentials(req({ Authorization: basic('alice:pa:ss') }), url())).toEqual({
      token: null,
      user: 'alice',
      password: 'pa:ss',
    });
    expect(presentedCredentials(req({ Authorization: basic('bob:x') }), url('?token=t'))).toEqual({
      token: 't',
      user: 'bob',
      password: 'x',
    });
    // No user before the colon, or no colon: not a login.
    expect(presentedCredentials(req({ Authorization: basic(':x') }), url())).toEqual({
      token: null,
      user: null,
      password: null,
    });
    expect(presentedCredentials(req({ Authorization: 'Bearer abc' }), url())).toEqual({
      token: 'abc',
      user: null,
      password: null,
    });
  });
});

describe('isLoopbackHost', () => {
  it.each([
    'localhost',
    'LOCALHOST',
    'localhost.',
    '127.0.0.1',
    '127.255.0.9',
    '127.0.0.1.',
    '::1',
    '[::1]',
    '::ffff:127.0.0.1',
    '[::ffff:7f00:1]',
    '::ffff:7fab:ffff',
  ])('%s is loopback', (h) => expect(isLoopbackHost(h)).toBe(true));

  it.each([
    'example.com',
    'localhost.example.com',
    'xlocalhost',
    '128.0.0.1',
    '10.127.0.1',
    '0.0.0.0',
    '::2',
    '[::1',
    '::ffff:8.8.8.8',
    '::ffff:8f00:1',
    '::ffff:7f0:1',
    '::ffff:7f00:12345',
    'a::ffff:7f00:1',
    '::ffff:7f00:1:1',
    '127.0.0',
    '127.example.com',
    '127.0.0.1.nip.io',
    '',
  ])('%s is not loopback', (h) => expect(isLoopbackHost(h)).toBe(false));
});

describe('hostAllowed (DNS rebinding guard)', () => {
  it('does not check a server bound beyond loopback, nor with allowOrigin *', () => {
    expect(hostAllowed(req({ Host: 'evil.example' }), '0.0.0.0', null)).toBe(true);
    expect(hostAllowed(req({ Host: 'evil.example' }), '192.168.1.2', null)).toBe(true);
    expect(hostAllowed(req({ Host: 'evil.example' }), '127.0.0.1', '*')).toBe(true);
    expect(hostAllowed(req({ Host: 'evil.example' }), 'localhost', '*')).toBe(true);
  });

  it('on loopback answers only loopback names (any port), or none at all', () => {
    expect(hostAllowed(req({}), '127.0.0.1', null)).toBe(true);
    for (const h of ['localhost:8080', '127.0.0.1', '[::1]:80', 'LocalHost:1'])
      expect(hostAllowed(req({ Host: h }), '127.0.0.1', null)).toBe(true);
    expect(hostAllowed(req({ Host: 'evil.example:8080' }), '127.0.0.1', null)).toBe(false);
    expect(hostAllowed(req({ Host: 'evil.example' }), '::1', null)).toBe(false);
    // A Host the URL parser refuses.
    expect(hostAllowed(req({ Host: 'a b' }), '127.0.0.1', null)).toBe(false);
  });

  it("accepts allowOrigin's host (a reverse proxy), whatever its case, and nothing else", () => {
    const proxy = 'https://proxy.example';
    expect(hostAllowed(req({ Host: 'Proxy.Example' }), '127.0.0.1', proxy)).toBe(true);
    expect(hostAllowed(req({ Host: 'proxy.example:443' }), '127.0.0.1', proxy)).toBe(true);
    expect(hostAllowed(req({ Host: 'other.example' }), '127.0.0.1', proxy)).toBe(false);
    expect(hostAllowed(req({ Host: 'localhost' }), '127.0.0.1', proxy)).toBe(true);
    expect(hostAllowed(req({ Host: 'a b' }), '127.0.0.1', proxy)).toBe(false);
    // allowOrigin that is no URL never matches.
    expect(hostAllowed(req({ Host: 'proxy.example' }), '127.0.0.1', 'proxy.example')).toBe(false);
  });

  it('MISDIRECTED names the accepted hosts', () => {
    expect(MISDIRECTED).toBe(
      'this server answers only for localhost, 127.0.0.1 and [::1] (DNS rebinding guard)',
    );
  });
});

describe('originAllowed (same-origin check of POSTs and WebSockets)', () => {
  const own = hostname().toLowerCase();

  it('lets requests without Origin through (not a browser)', () => {
    expect(originAllowed(req({}), null)).toBe(true);
    expect(originAllowed(req({ Host: 'x' }), 'https://a.example')).toBe(true);
  });

  it('accepts the allowed origin, or any with *', () => {
    expect(originAllowed(req({ Origin: 'https://a.example' }), 'https://a.example')).toBe(true);
    expect(originAllowed(req({ Origin: 'https://b.example' }), '*')).toBe(true);
    expect(originAllowed(req({ Origin: 'https://b.example', Host: 'b.example' }), 'https://a.example')).toBe(
      false,
    );
  });

  it('needs a Host and a parsable Origin otherwise', () => {
    expect(originAllowed(req({ Origin: 'http://127.0.0.1:8080' }), null)).toBe(false);
    expect(originAllowed(req({ Origin: 'not an origin', Host: '127.0.0.1:8080' }), null)).toBe(false);
    expect(originAllowed(req({ Origin: 'http://127.0.0.1:8080', Host: 'a b' }), null)).toBe(false);
  });

  it("accepts this server's own host and port by an address or loopback name", () => {
    expect(originAllowed(req({ Origin: 'http://127.0.0.1:8080', Host: '127.0.0.1:8080' }), null)).toBe(true);
    expect(originAllowed(req({ Origin: 'http://192.168.1.5:8080', Host: '192.168.1.5:8080' }), null)).toBe(
      true,
    );
    expect(originAllowed(req({ Origin: 'http://[fe80::1]:8080', Host: '[fe80::1]:8080' }), null)).toBe(true);
    expect(originAllowed(req({ Origin: 'http://localhost', Host: 'localhost:80' }), null)).toBe(true);
    expect(originAllowed(req({ Origin: 'http://localhost:8080', Host: 'LOCALHOST:8080' }), null)).toBe(true);
  });

  it('refuses another port, another host, or a name DNS could rebind', () => {
    expect(originAllowed(req({ Origin: 'http://127.0.0.1:8081', Host: '127.0.0.1:8080' }), null)).toBe(false);
    expect(originAllowed(req({ Origin: 'http://127.0.0.1:8080', Host: '127.0.0.2:8080' }), null)).toBe(false);
    expect(originAllowed(req({ Origin: 'http://evil.example:8080', Host: 'evil.example:8080' }), null)).toBe(
      false,
    );
    expect(
      originAllowed(
        req({ Origin: 'http://evil.example:8080', Host: 'evil.example:8080' }),
        'https://a.example',
      ),
    ).toBe(false);
  });

  it("accepts this machine's own name and its .local name (with a final dot too)", () => {
    expect(originAllowed(req({ Origin: `http://${own}:8080`, Host: `${own}:8080` }), null)).toBe(true);
    expect(originAllowed(req({ Origin: `http://${own}.local:8080`, Host: `${own}.local:8080` }), null)).toBe(
      true,
    );
    expect(originAllowed(req({ Origin: `http://${own}.:8080`, Host: `${own}.:8080` }), null)).toBe(true);
    expect(originAllowed(req({ Origin: `http://x${own}:8080`, Host: `x${own}:8080` }), null)).toBe(false);
    expect(
      originAllowed(req({ Origin: `http://${own}.localx:8080`, Host: `${own}.localx:8080` }), null),
    ).toBe(false);
    expect(originAllowed(req({ Origin: `http://${own}.lan:8080`, Host: `${own}.lan:8080` }), null)).toBe(
      false,
    );
  });
});

describe('corsHeaders', () => {
  it('none without an allowed origin', () => {
    expect(corsHeaders(null)).toEqual({});
  });
  it('any origin: no Vary', () => {
    expect(corsHeaders('*')).toEqual({
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Allow-Headers': 'Authorization, Content-Type',
      'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
    });
  });
  it('one origin: Vary: Origin', () => {
    expect(corsHeaders('https://a.example')).toEqual({
      'Access-Control-Allow-Origin': 'https://a.example',
      'Access-Control-Allow-Headers': 'Authorization, Content-Type',
      'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
      Vary: 'Origin',
    });
  });
});
