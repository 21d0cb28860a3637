/** The pages and static files (web-assets.ts), and the server's own GET endpoints (server-get.ts). */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Access, type Refusal } from '../../../src/access/access.js';
import { splitStreamPath } from '../../../src/transports/http/http-server-types.js';
import { listenHttp } from '../../../src/transports/http/listen.js';
import { requestUrl } from '../../../src/transports/http/respond.js';
import { serveServerGet, type ServerGetContext } from '../../../src/transports/http/server-get.js';
import type { ServerMetrics } from '../../../src/transports/http/metrics.js';
import {
  PAGE_HEADERS,
  sendPage,
  sendStatic,
  STATIC_FILES,
  webFile,
  webPage,
} from '../../../src/transports/http/web-assets.js';
import { listen, request } from './support.js';

// A test that waits for what a mutant broke fails within 3 s (mutation runs retry a failure twice).
vi.setConfig({ testTimeout: 3000 });

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('web assets', () => {
  it('PAGE_HEADERS: HTML, revalidated, same-origin frames, scripts and connections from this server', () => {
    expect(PAGE_HEADERS).toEqual({
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-cache',
      'X-Frame-Options': 'SAMEORIGIN',
      'Content-Security-Policy':
        "default-src 'self'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; style-src 'self'",
    });
  });

  it('STATIC_FILES: every script and the stylesheet, with their types', () => {
    const js = 'text/javascript; charset=utf-8';
    expect(STATIC_FILES).toEqual({
      '/viewer.js': { file: 'viewer.js', type: js },
      '/frame-message.js': { file: 'frame-message.js', type: js },
      '/overlay.js': { file: 'overlay.js', type: js },
      '/dashboard.js': { file: 'dashboard.js', type: js },
      '/grid.js': { file: 'grid.js', type: js },
      '/charts.js': { file: 'charts.js', type: js },
      '/timeline.js': { file: 'timeline.js', type: js },
      '/playback.js': { file: 'playback.js', type: js },
      '/framecast.css': { file: 'framecast.css', type: 'text/css; charset=utf-8' },
    });
    for (const { file } of Object.values(STATIC_FILES)) expect(webFile(file).length).toBeGreaterThan(0);
    // Read once.
    expect(webFile('viewer.js')).toBe(webFile('viewer.js'));
  });

  it('webPage fills placeholders HTML-escaped, and a missing one with nothing', () => {
    const html = webPage('viewer.html', { title: `<a href="x">&'`, role: 'server' }).toString('utf8');
    expect(html).toContain('&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
    expect(html).not.toContain('<a href="x">');
    expect(html).not.toMatch(/\{\{\w+\}\}/);
    const empty = webPage('viewer.html', {}).toString('utf8');
    expect(empty).not.toMatch(/\{\{\w+\}\}/);
    expect(empty).not.toContain('undefined');
  });

  it('sendPage and sendStatic over HTTP: headers, length, HEAD without a body, exceptions', async () => {
    const srv = await listen((req, res) => {
      const path = requestUrl(req).pathname;
      if (path === '/page') return sendPage(res, 'viewer.html', { title: 'T', role: 'server' }, req);
      if (path === '/page-no-req') return sendPage(res, 'viewer.html', { title: 'T', role: 'server' });
      if (!sendStatic(req, res, path, ['/grid.js'])) res.writeHead(404).end('none');
    });
    closers.push(srv.close);
    const page = await request(srv.port, '/page');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe(PAGE_HEADERS['Content-Security-Policy']);
    expect(page.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(page.headers['content-length']).toBe(String(page.body.length));
    expect(page.text).toContain('T');
    const head = await request(srv.port, '/page', { method: 'HEAD' });
    expect(head.body.length).toBe(0);
    expect(head.headers['content-length']).toBe(page.headers['content-length']);
    expect((await request(srv.port, '/page-no-req', { method: 'HEAD' })).status).toBe(200);
    const css = await request(srv.port, '/framecast.css');
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['cache-control']).toBe('no-cache');
    expect(css.body.equals(webFile('framecast.css'))).toBe(true);
    expect(css.headers['content-length']).toBe(String(css.body.length));
    const headJs = await request(srv.port, '/viewer.js', { method: 'HEAD' });
    expect(headJs.status).toBe(200);
    expect(headJs.body.length).toBe(0);
    expect((await request(srv.port, '/grid.js')).status).toBe(404);
    expect((await request(srv.port, '/nothing.js')).status).toBe(404);
  });
});

describe('serveServerGet', () => {
  function ctx(over: Partial<ServerGetContext> = {}): ServerGetContext & { refusals: number } {
    const c = {
      refusals: 0,
      streams: Object.assign(new EventEmitter(), {
        get: () => null,
        list: () => [{ name: 'a' }, { name: 'b' }],
      }) as unknown as ServerGetContext['streams'],
      access: new Access({ token: 's' }),
      api: null,
      cors: { 'X-Cors': '1' },
      stats: () => ({ ok: true }) as never,
      reportOf: () =>
        ({ source: { name: 'src', state: 'idle', fpsIn: null, fpsOut: 0 }, clients: [] }) as never,
      metrics: {
        render: () => Promise.resolve({ contentType: 'text/plain; version=0.0.4', body: 'm 1\n' }),
      } as unknown as ServerMetrics,
      refuse: () => {
        c.refusals++;
      },
      ...over,
    };
    return c;
  }

  async function serve(c: ServerGetContext) {
    const srv = await listen((req, res) => {
      const refuse = (r: Refusal): void => {
        c.refuse(r);
        res.writeHead(401).end();
      };
      void serveServerGet(req, res, requestUrl(req), { ...c, refuse }).then((served) => {
        if (!served) res.writeHead(299).end('not mine');
      });
    });
    closers.push(srv.close);
    return srv.port;
  }

  it('the grid with two streams and the server token; otherwise not this endpoint', async () => {
    const c = ctx();
    const port = await serve(c);
    const g = await request(port, '/?token=s');
    expect(g.status).toBe(200);
    expect(g.text).toContain('grid.js');
    expect((await request(port, '/index.html?token=s')).text).toContain('grid.js');
    expect((await request(port, '/')).status).toBe(299);
    expect((await request(port, '/streams/a/?token=s')).status).toBe(299);
    expect(c.refusals).toBe(0);
  });

  it('one stream: / is not the grid', async () => {
    const c = ctx({
      streams: Object.assign(new EventEmitter(), {
        get: () => null,
        list: () => [{ name: 'a' }],
      }) as unknown as ServerGetContext['streams'],
    });
    const port = await serve(c);
    expect((await request(port, '/?token=s')).status).toBe(299);
  });

  it('/stats, /api/streams, /metrics with the token; refused without', async () => {
    const c = ctx();
    const port = await serve(c);
    const s = await request(port, '/stats?token=s');
    expect(s.status).toBe(200);
    expect(s.headers['x-cors']).toBe('1');
    expect(JSON.parse(s.text)).toEqual({ ok: true });
    const l = await request(port, '/api/streams?token=s');
    expect(JSON.parse(l.text)).toEqual([
      { name: 'a', source: 'src', state: 'idle', clients: 0, fpsIn: null, fpsOut: 0 },
      { name: 'b', source: 'src', state: 'idle', clients: 0, fpsIn: null, fpsOut: 0 },
    ]);
    const m = await request(port, '/metrics?token=s');
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toBe('text/plain; version=0.0.4');
    expect(m.headers['x-cors']).toBe('1');
    expect(m.text).toBe('m 1\n');
    expect((await request(port, '/stats')).status).toBe(401);
    expect((await request(port, '/metrics?token=x')).status).toBe(401);
    expect((await request(port, '/api/streams')).status).toBe(401);
    expect(c.refusals).toBe(3);
    expect((await request(port, '/other?token=s')).status).toBe(299);
  });

  it('/metrics that fails is 500 with the reason', async () => {
    const c = ctx({
      metrics: { render: () => Promise.reject(new Error('registry broke')) } as unknown as ServerMetrics,
    });
    const port = await serve(c);
    const m = await request(port, '/metrics?token=s');
    expect(m.status).toBe(500);
    expect(m.text).toBe('metrics failed: registry broke\n');
    expect(m.headers['x-cors']).toBe('1');
  });
});

describe('splitStreamPath', () => {
  it.each([
    ['/streams/cam/ws', 'cam', 'ws'],
    ['/streams/cam/transmission/stop', 'cam', 'transmission/stop'],
    ['/streams/cam/', 'cam', ''],
    ['/streams/cam', 'cam', ''],
    ['/streams/', '', ''],
    ['/ws', null, 'ws'],
    ['/', null, ''],
    ['/streamsx/cam', null, 'streamsx/cam'],
  ])('%s is stream %s, path %s', (path, name, rest) => {
    expect(splitStreamPath(path)).toEqual({ name, rest });
  });
});

describe('listenHttp', () => {
  it('falls back to a free port only when the port is busy and it was a default', async () => {
    const busy = http.createServer();
    const { port } = await listenHttp(busy, '127.0.0.1', 0, false, '--http-port');
    const other = http.createServer();
    const a = await listenHttp(other, '127.0.0.1', port, true, '--http-port');
    expect(a.port).not.toBe(port);
    other.close();
    await expect(listenHttp(http.createServer(), '127.0.0.1', port, false, '--x-port')).rejects.toThrow(
      /already in use \(choose another with --x-port\)/,
    );
    // Another failure is not a reason to take any port.
    await expect(
      listenHttp(http.createServer(), '203.0.113.7', 0, true, '--http-port'),
    ).rejects.toMatchObject({
      code: 'ERR_LISTEN',
    });
    busy.close();
  });
});
