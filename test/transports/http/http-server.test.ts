/**
 * The HTTP transport's server (http-server.ts) built directly from src/, on 127.0.0.1 port 0, over
 * hubs whose producers the test drives by hand: its routing, tokens, Host and Origin guards, and what
 * every endpoint answers (status, headers, bytes).
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { Access } from '../../../src/access/access.js';
import { Frame } from '../../../src/hub/frame.js';
import { HttpServer, type HttpServerOptions } from '../../../src/transports/http/http-server.js';
import type { HttpStreamTarget } from '../../../src/transports/http/stream-http.js';
import type { StreamApi } from '../../../src/transports/http/api.js';
import { IpLimiter } from '../../../src/transports/ip-limiter.js';
import { PublisherSlot } from '../../../src/ingest/publish/publisher-slot.js';
import { MISDIRECTED } from '../../../src/transports/http/auth.js';
import { mjpegWire } from '../../../src/transports/http/mjpeg.js';
import { mjpegPreamble } from '../../../src/transports/http/multipart.js';
import { setup } from '../../hub/fakes.js';
import { request, stream, until } from './support.js';

// A test that waits for what a mutant broke fails within 3 s (mutation runs retry a failure twice).
vi.setConfig({ testTimeout: 3000 });

type Fx = ReturnType<typeof setup>;

/** A stream over a hand-driven hub. */
function target(name: string, fx: Fx, extra: Partial<HttpStreamTarget> = {}): HttpStreamTarget {
  return {
    name,
    hub: fx.hub,
    lossless: false,
    readToken: null,
    encoderImplementation: 'libjpeg-turbo, native',
    config: { encoder: 'libjpeg', quality: 80, width: 640 },
    images: { refused: 2 },
    ...extra,
  };
}

/** A registry of streams (the first is the default). */
class Streams extends EventEmitter {
  readonly all: HttpStreamTarget[];
  constructor(all: HttpStreamTarget[]) {
    super();
    this.all = all;
  }
  get(name: string | null): HttpStreamTarget | null {
    if (name === null) return this.all[0] ?? null;
    return this.all.find((s) => s.name === name) ?? null;
  }
  list(): HttpStreamTarget[] {
    return [...this.all];
  }
  add(s: HttpStreamTarget): void {
    this.all.push(s);
    this.emit('added', s);
  }
  remove(s: HttpStreamTarget): void {
    this.all.splice(this.all.indexOf(s), 1);
    this.emit('removed', s);
  }
}

interface Made {
  server: HttpServer;
  port: number;
  streams: Streams;
  fx: Fx;
  refused: Array<[string, string]>;
  stops: Array<[string, boolean]>;
  clients: string[];
}

const open: HttpServer[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function make(
  opts: {
    token?: string | null;
    adminToken?: string | null;
    stream?: Partial<HttpStreamTarget>;
    more?: string[];
  } & Partial<Omit<HttpServerOptions, 'streams' | 'access'>> = {},
): Promise<Made> {
  const fx = setup();
  const { token = null, adminToken = null, stream: extra = {}, more = [], ...rest } = opts;
  const streams = new Streams([target('cam', fx, extra), ...more.map((n) => target(n, setup()))]);
  const server = new HttpServer({
    host: '127.0.0.1',
    port: 0,
    streams,
    access: new Access({ token, adminToken }),
    allowOrigin: null,
    startedAt: Date.now(),
    snapshotTimeoutMs: 300,
    ...rest,
  });
  open.push(server);
  const refused: Array<[string, string]> = [];
  const stops: Array<[string, boolean]> = [];
  const clients: string[] = [];
  server.on('refused', (a, r) => refused.push([a, r]));
  server.on('stop', (a, s) => stops.push([a, s]));
  server.on('client', (s) => clients.push(s.protocol));
  const { port } = await server.listen();
  return { server, port, streams, fx, refused, stops, clients };
}

const bearer = (t: string): Record<string, string> => ({ Authorization: `Bearer ${t}` });

describe('HttpServer: the server endpoints', () => {
  it('/healthz always, /readyz only once ready', async () => {
    const { server, port } = await make({ token: 's' });
    const h = await request(port, '/healthz');
    expect(h.status).toBe(200);
    expect(h.text).toBe('{\n  "status": "ok"\n}\n');
    const r1 = await request(port, '/readyz');
    expect(r1.status).toBe(503);
    expect(JSON.parse(r1.text)).toEqual({ status: 'not ready' });
    server.setReady(true);
    const r2 = await request(port, '/readyz');
    expect(r2.status).toBe(200);
    expect(JSON.parse(r2.text)).toEqual({ status: 'ready' });
    server.setReady(false);
    expect((await request(port, '/readyz')).status).toBe(503);
  });

  it('/readyz says not ready once closing', async () => {
    const { server, port } = await make();
    server.setReady(true);
    // A connection made before close() still gets its answer.
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const answer = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d) => (text += d.toString()));
      socket.on('close', () => resolve(text));
    });
    // The request has begun before close() (a connection with no request yet is idle: close() cuts it).
    socket.write('GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await new Promise((r) => setTimeout(r, 50));
    const closing = server.close();
    socket.write('Connection: close\r\n\r\n');
    const text = await answer;
    expect(text.startsWith('HTTP/1.1 503')).toBe(true);
    expect(text).toContain('"not ready"');
    await closing;
  });

  it('OPTIONS: 405 without --allow-origin, 204 with its CORS headers', async () => {
    const a = await make();
    const r = await request(a.port, '/stats', { method: 'OPTIONS' });
    expect(r.status).toBe(405);
    const b = await make({ allowOrigin: 'https://app.example' });
    const o = await request(b.port, '/stats', { method: 'OPTIONS' });
    expect(o.status).toBe(204);
    expect(o.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(o.headers['access-control-allow-methods']).toBe('GET, POST, OPTIONS');
    expect(o.headers['vary']).toBe('Origin');
  });

  it('/favicon.ico is 204 without a token', async () => {
    const { port } = await make({ token: 's' });
    const r = await request(port, '/favicon.ico');
    expect(r.status).toBe(204);
    expect(r.body.length).toBe(0);
  });

  it('a Host that is not loopback is 421 (DNS rebinding guard), logged, for requests and upgrades', async () => {
    const { port, refused } = await make();
    const r = await request(port, '/healthz', { headers: { Host: `evil.example:${port}` } });
    expect(r.status).toBe(421);
    expect(r.text).toBe(MISDIRECTED + "; a reverse proxy's name is accepted when it is --allow-origin's\n");
    expect(r.headers['connection']).toBe('close');
    expect(refused).toHaveLength(1);
    expect(refused[0]?.[1]).toBe(`HTTP /healthz: Host evil.example:${port} is not this server's`);
    const ws = await wsRefusal(port, '/ws', { Host: `evil.example:${port}` });
    expect(ws).toMatch(/^HTTP\/1\.1 421 Misdirected Request\r\n/);
    expect(refused[1]?.[1]).toBe(
      `WebSocket: Host evil.example:${port} is not this server's (DNS rebinding guard)`,
    );
  });

  it('methods other than GET, HEAD, POST are 405 with Allow', async () => {
    const { port } = await make();
    const r = await request(port, '/streams/cam/stats', { method: 'PUT' });
    expect(r.status).toBe(405);
    expect(r.text).toBe('method PUT not allowed\n');
    expect(r.headers['allow']).toBe('GET, HEAD, POST');
  });

  it('a cross-origin POST is 403', async () => {
    const { port, fx } = await make();
    fx.hub.join(new (await import('../../hub/fakes.js')).FakeSub('x'));
    const r = await request(port, '/streams/cam/transmission/stop', {
      method: 'POST',
      headers: { Origin: 'https://evil.example' },
    });
    expect(r.status).toBe(403);
    expect(r.text).toBe('cross-origin request refused\n');
    expect(fx.hub.transmitting).toBe(true);
  });

  it('/stats, /metrics, /api/streams take the server token: 401 with WWW-Authenticate without it', async () => {
    const { port, refused } = await make({ token: 's' });
    for (const p of ['/stats', '/metrics', '/api/streams']) {
      const r = await request(port, p);
      expect(r.status).toBe(401);
      expect(r.text).toBe('a token is required: Authorization: Bearer TOKEN, or ?token=TOKEN\n');
      expect(r.headers['www-authenticate']).toBe('Bearer realm="framecast"');
    }
    expect(refused.map(([, r]) => r)).toEqual([
      'HTTP /stats: missing or wrong token',
      'HTTP /metrics: missing or wrong token',
      'HTTP /api/streams: missing or wrong token',
    ]);
    expect((await request(port, '/stats?token=s')).status).toBe(200);
    expect((await request(port, '/stats', { headers: bearer('s') })).status).toBe(200);
    expect((await request(port, '/stats', { headers: bearer('wrong') })).status).toBe(401);
  });

  it('/stats: the default stream at the top and every stream in streams[]', async () => {
    const { port } = await make({ more: ['two'] });
    const r = await request(port, '/stats');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    const s = JSON.parse(r.text);
    expect(s.streams.map((x: { name: string }) => x.name)).toEqual(['cam', 'two']);
    expect(s.name).toBeUndefined();
    expect(s.encoder).toEqual({
      kind: 'libjpeg',
      implementation: 'libjpeg-turbo, native',
      quality: 80,
      width: 640,
      msPerFrame: null,
    });
    expect(s.totals.imagesRefused).toBe(2);
    expect(s.source.state).toBe('idle');
    const p = await make({ stream: { encoderImplementation: 'passthrough', images: undefined } });
    const ps = JSON.parse((await request(p.port, '/stats')).text);
    expect(ps.encoder.kind).toBe('passthrough');
    expect(ps.encoder.implementation).toBe('passthrough');
    expect(ps.totals.imagesRefused).toBe(0);
  });

  it('/metrics: the Prometheus text of every stream', async () => {
    const { port, fx } = await make();
    const { FakeSub } = await import('../../hub/fakes.js');
    fx.hub.join(new FakeSub('a'));
    fx.current().frame();
    const r = await request(port, '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(r.text).toContain('framecast_frames_encoded_total{stream="cam"} 1');
    expect(r.text).toContain('framecast_clients{protocol="fake",stream="cam"} 1');
    expect(r.text).toContain('framecast_transmitting{stream="cam"} 1');
  });

  it('/api/streams lists the streams (from the API when there is one)', async () => {
    const a = await make({ more: ['two'] });
    const r = await request(a.port, '/api/streams');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toEqual([
      { name: 'cam', source: null, state: 'idle', clients: 0, fpsIn: null, fpsOut: 0 },
      { name: 'two', source: null, state: 'idle', clients: 0, fpsIn: null, fpsOut: 0 },
    ]);
    const api: StreamApi = {
      describe: (name) => ({ name, described: true }),
      put: () => Promise.reject(new Error('no')),
      remove: () => Promise.resolve(false),
      record: () => Promise.resolve(null),
    };
    const b = await make({ api });
    const q = await request(b.port, '/api/streams');
    expect(JSON.parse(q.text)).toEqual([{ name: 'cam', described: true, fpsIn: null, fpsOut: 0 }]);
    const one = await request(b.port, '/api/streams/cam/');
    expect(one.status).toBe(200);
    expect(JSON.parse(one.text)).toEqual({ name: 'cam', described: true, fpsIn: null, fpsOut: 0 });
    const w = await request(b.port, '/api/streams/cam', { method: 'DELETE' });
    expect(w.status).toBe(403);
  });

  it('/api/streams/NAME without an API is 404', async () => {
    const { port } = await make();
    const r = await request(port, '/api/streams/cam');
    expect(r.status).toBe(404);
    expect(r.text).toBe('no stream named cam\n');
  });

  it("/ is the grid with several streams (the server's token), else the default stream's viewer", async () => {
    const one = await make();
    const v = await request(one.port, '/');
    expect(v.status).toBe(200);
    expect(v.text).toContain('framecast — cam');
    const two = await make({ more: ['two'] });
    const g = await request(two.port, '/index.html');
    expect(g.status).toBe(200);
    expect(g.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(g.text).toContain('grid.js');
    const g2 = await request(two.port, '/');
    expect(g2.text).toContain('grid.js');
    // The default stream's readToken does not open the grid: it gets the stream's viewer.
    const t = await make({ token: 's', more: ['two'], stream: { readToken: 'r' } });
    const r = await request(t.port, '/?token=r');
    expect(r.status).toBe(200);
    expect(r.text).not.toContain('grid.js');
    expect(r.text).toContain('framecast — cam');
    expect((await request(t.port, '/?token=s')).text).toContain('grid.js');
  });

  it('static scripts and styles need no token', async () => {
    const { port } = await make({ token: 's' });
    const r = await request(port, '/viewer.js');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const h = await request(port, '/framecast.css', { method: 'HEAD' });
    expect(h.status).toBe(200);
    expect(h.body.length).toBe(0);
  });
});

describe('HttpServer: a stream', () => {
  it('an unknown stream is named only to a request that may see every stream', async () => {
    const { port } = await make({ token: 's' });
    const a = await request(port, '/streams/nope/stats?token=s');
    expect(a.status).toBe(404);
    expect(a.text).toBe('no stream named nope\n');
    const b = await request(port, '/streams/nope/stats');
    expect(b.status).toBe(401);
    const c = await request(port, '/streams/nope/stats?token=wrong');
    expect(c.status).toBe(401);
  });

  it('a readToken opens its stream; no token or a wrong one is 401', async () => {
    const { port, refused } = await make({ stream: { readToken: 'r' } });
    expect((await request(port, '/streams/cam/stats')).status).toBe(401);
    expect((await request(port, '/stats?token=r')).status).toBe(200);
    expect((await request(port, '/streams/cam/stats?token=x')).status).toBe(401);
    const ok = await request(port, '/streams/cam/stats?token=r');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text).name).toBe('cam');
    expect(refused[0]?.[1]).toBe('HTTP /streams/cam/stats: missing or wrong token');
  });

  it('a viewer sees the stream stats without addresses; an operator sees them', async () => {
    const { port, fx } = await make({ token: 's', stream: { readToken: 'r' } });
    const { FakeSub } = await import('../../hub/fakes.js');
    fx.hub.join(new FakeSub('10.0.0.9:1234'));
    const v = JSON.parse((await request(port, '/streams/cam/stats?token=r')).text);
    expect(v.clients.map((c: { address: string }) => c.address)).toEqual(['(hidden)']);
    const o = JSON.parse((await request(port, '/streams/cam/stats?token=s')).text);
    expect(o.clients.map((c: { address: string }) => c.address)).toEqual(['10.0.0.9:1234']);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?passive=1&token=r`);
    await new Promise((r) => ws.once('open', r));
    const seen = async (t: string): Promise<string[]> => {
      const r = JSON.parse((await request(port, `/streams/cam/stats?token=${t}`)).text);
      return r.monitors.map((c: { address: string }) => c.address);
    };
    let monitors: string[] = [];
    const t0 = Date.now();
    while (monitors.length === 0 && Date.now() - t0 < 5000) monitors = await seen('r');
    expect(monitors).toEqual(['(hidden)']);
    expect((await seen('s'))[0]).toMatch(/^127\.0\.0\.1:\d+$/);
    ws.close();
  });

  it('the default stream is served at the root as well', async () => {
    const { port } = await make();
    const r = await request(port, '/stats');
    expect(r.status).toBe(200);
    const d = await request(port, '/dashboard');
    expect(d.status).toBe(200);
    expect(d.text).toContain('framecast — TRANSMITIENDO cam');
    const e = await request(port, '/streams/cam/dashboard.html');
    expect(e.text).toContain('framecast — TRANSMITIENDO cam');
    expect((await request(port, '/streams/cam/index.html')).text).toContain('framecast — cam');
    expect((await request(port, '/streams/cam/')).text).toContain('framecast — cam');
    expect((await request(port, '/streams/cam')).text).toContain('framecast — cam');
    const js = await request(port, '/streams/cam/viewer.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
  });

  it('an unknown endpoint is 404 naming it', async () => {
    const { port } = await make();
    const g = await request(port, '/streams/cam/nothing');
    expect(g.status).toBe(404);
    expect(g.text).toBe('no such endpoint: /streams/cam/nothing\n');
    const p = await request(port, '/streams/cam/nothing', { method: 'POST' });
    expect(p.status).toBe(404);
    expect(p.text).toBe('no such endpoint: POST /streams/cam/nothing\n');
  });

  it('stopping a transmission: operators only; the stop is reported', async () => {
    const { port, fx, stops, refused } = await make({ token: 's', stream: { readToken: 'r' } });
    const { FakeSub } = await import('../../hub/fakes.js');
    fx.hub.join(new FakeSub('a'));
    const viewer = await request(port, '/streams/cam/transmission/stop?token=r', { method: 'POST' });
    expect(viewer.status).toBe(403);
    expect(viewer.text).toBe(
      "stopping a transmission takes the server's token (or the admin token); a stream's readToken only watches\n",
    );
    expect(refused.at(-1)?.[1]).toBe('HTTP stop of cam: a readToken only watches');
    expect(fx.hub.transmitting).toBe(true);
    const none = await request(port, '/streams/cam/transmission/stop', { method: 'POST' });
    expect(none.status).toBe(401);
    const op = await request(port, '/streams/cam/transmission/stop', {
      method: 'POST',
      headers: bearer('s'),
    });
    expect(op.status).toBe(200);
    expect(JSON.parse(op.text)).toEqual({ stopped: true });
    expect(fx.hub.transmitting).toBe(false);
    const again = await request(port, '/transmission/stop?token=s', { method: 'POST' });
    expect(JSON.parse(again.text)).toEqual({ stopped: false });
    expect(stops.map(([a, s]) => [a.startsWith('127.0.0.1:'), s])).toEqual([
      [true, true],
      [true, false],
    ]);
  });

  it('the admin token stops a stream it may not watch', async () => {
    const { port, fx } = await make({ adminToken: 'adm', stream: { readToken: 'r' } });
    const { FakeSub } = await import('../../hub/fakes.js');
    fx.hub.join(new FakeSub('a'));
    expect((await request(port, '/streams/cam/stats?token=adm')).status).toBe(401);
    const op = await request(port, '/streams/cam/transmission/stop?token=adm', { method: 'POST' });
    expect(op.status).toBe(200);
    expect(JSON.parse(op.text)).toEqual({ stopped: true });
  });

  it('a GET that is a POST endpoint is 404, and a POST body is read', async () => {
    const { port } = await make();
    expect((await request(port, '/streams/cam/transmission/stop')).status).toBe(404);
    const r = await request(port, '/streams/cam/transmission/stop', {
      method: 'POST',
      body: 'x'.repeat(100_000),
    });
    expect(r.status).toBe(200);
  });

  it('streams added later are served, removed ones are not', async () => {
    const { port, streams } = await make({ token: 's' });
    const later = target('later', setup());
    streams.add(later);
    expect((await request(port, '/streams/later/stats?token=s')).status).toBe(200);
    const m1 = await request(port, '/metrics?token=s');
    expect(m1.text).toContain('stream="later"');
    streams.remove(later);
    expect((await request(port, '/streams/later/stats?token=s')).status).toBe(404);
    const m2 = await request(port, '/metrics?token=s');
    expect(m2.text).not.toContain('stream="later"');
  });
});

describe('HttpServer: snapshots', () => {
  it('/snapshot.jpg: the newest frame, its time and seq', async () => {
    const { port, fx } = await make();
    const { FakeSub } = await import('../../hub/fakes.js');
    fx.hub.join(new FakeSub('a'));
    const f = new Frame({
      seq: 42,
      width: 8,
      height: 4,
      capturedAt: 1500.25,
      encodedAt: 1501,
      jpeg: Buffer.from('JPEG'),
    });
    fx.current().emit('frame', f);
    const r = await request(port, '/streams/cam/snapshot.jpg');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('JPEG');
    expect(r.headers['content-type']).toBe('image/jpeg');
    expect(r.headers['content-length']).toBe('4');
    expect(r.headers['x-timestamp']).toBe('1.500250');
    expect(r.headers['x-framecast-seq']).toBe('42');
    expect(r.headers['cache-control']).toContain('no-store');
    const h = await request(port, '/snapshot.jpeg', { method: 'HEAD' });
    expect(h.status).toBe(200);
    expect(h.headers['content-length']).toBe('4');
    expect(h.body.length).toBe(0);
  });

  it('/snapshot.jpg with nothing transmitted starts the source for one frame, then stops it', async () => {
    const { port, fx } = await make();
    const pending = request(port, '/snapshot.jpg');
    await until(() => fx.producers.length === 1 && fx.hub.clients.length === 1);
    expect(fx.hub.clients[0]?.protocol).toBe('snapshot');
    fx.current().frame();
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(10);
    await until(() => fx.hub.clients.length === 0);
    expect(fx.hub.transmitting).toBe(false);
  });

  it('no frame in time: 503 with Retry-After, and the source stops again', async () => {
    const { port, fx } = await make({ snapshotTimeoutMs: 250 });
    const t0 = Date.now();
    const r = await request(port, '/snapshot.jpg');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    expect(r.status).toBe(503);
    expect(r.text).toBe('no frame within 0.25 s (source not ready or server full)\n');
    expect(r.headers['retry-after']).toBe('1');
    await until(() => fx.hub.clients.length === 0);
    const j = await request(port, '/snapshot.json');
    expect(j.status).toBe(503);
    expect(j.headers['retry-after']).toBe('1');
    expect(j.text).toBe('no frame within 0.25 s (source not ready or server full)\n');
  });

  it('/snapshot.json: what is known of the newest frame, with its metadata and annotations', async () => {
    const { port, fx } = await make();
    const { FakeSub } = await import('../../hub/fakes.js');
    fx.hub.join(new FakeSub('a'));
    fx.current().emit(
      'frame',
      new Frame({
        seq: 5,
        width: 8,
        height: 4,
        capturedAt: 77,
        encodedAt: 78,
        jpeg: Buffer.from('J'),
        meta: Buffer.from('{"m":"é"}'),
      }),
    );
    const plain = await request(port, '/streams/cam/snapshot.json');
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(plain.text).toBe(
      '{"seq":5,"capturedAt":77,"width":8,"height":4,"meta":{"m":"é"},"annotations":[]}\n',
    );
    expect(plain.headers['content-length']).toBe(String(Buffer.byteLength(plain.text)));
    fx.hub.annotate('det', { seq: 5 }, { boxes: [] });
    fx.hub.annotate('ocr', { seq: 5 }, { t: 1 });
    const r = await request(port, '/snapshot.json');
    expect(JSON.parse(r.text).annotations).toEqual([
      { type: 'annotation', analyzer: 'det', seq: 5, capturedAt: 77, data: { boxes: [] } },
      { type: 'annotation', analyzer: 'ocr', seq: 5, capturedAt: 77, data: { t: 1 } },
    ]);
    fx.current().emit(
      'frame',
      new Frame({ seq: 6, width: 8, height: 4, capturedAt: 80, encodedAt: 81, jpeg: Buffer.from('J') }),
    );
    const n = await request(port, '/snapshot.json', { method: 'HEAD' });
    expect(n.status).toBe(200);
    expect(n.body.length).toBe(0);
    expect(JSON.parse((await request(port, '/snapshot.json')).text).meta).toBeNull();
  });
});

describe('HttpServer: MJPEG, events and WebSocket through the server', () => {
  it('/stream.mjpg and ?meta=1', async () => {
    const { port, fx, clients } = await make();
    const s = await stream(port, '/streams/cam/stream.mjpeg');
    const m = await stream(port, '/stream.mjpg?meta=1');
    await until(() => fx.hub.clients.length === 2);
    expect(clients).toEqual(['mjpeg', 'mjpeg']);
    const f = new Frame({
      seq: 1,
      width: 8,
      height: 4,
      capturedAt: 7,
      encodedAt: 8,
      jpeg: Buffer.from('JJ'),
      meta: Buffer.from('{"a":1}'),
    });
    fx.current().emit('frame', f);
    const want = Buffer.concat([mjpegPreamble(), mjpegWire(f)]);
    expect((await s.until((b) => b.length >= want.length)).equals(want)).toBe(true);
    expect((await m.until((b) => b.includes('{"a":1}'))).toString()).toContain('X-Framecast-Meta: {"a":1}');
    s.close();
    m.close();
  });

  it('/events: metadata, annotations and the end as Server-Sent Events', async () => {
    const { port, fx } = await make();
    const e = await stream(port, '/streams/cam/events');
    expect(e.res.statusCode).toBe(200);
    expect(e.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await until(() => fx.hub.transmitting);
    fx.current().emit(
      'frame',
      new Frame({
        seq: 3,
        width: 8,
        height: 4,
        capturedAt: 9,
        encodedAt: 10,
        jpeg: Buffer.from('J'),
        meta: Buffer.from('{"k":2}'),
      }),
    );
    fx.hub.annotate('det', { seq: 3 }, { n: 1 });
    fx.hub.stopTransmission();
    await e.ended;
    expect(e.body().toString()).toBe(
      ': framecast events\n\n' +
        'event: meta\ndata: {"type":"meta","seq":3,"capturedAt":9,"data":{"k":2}}\n\n' +
        'event: annotation\ndata: {"type":"annotation","analyzer":"det","seq":3,"capturedAt":9,"data":{"n":1}}\n\n' +
        'event: end\ndata: {"type":"end","reason":"stopped"}\n\n',
    );
  });

  it('/ws: frames as binary messages; refusals before the upgrade', async () => {
    const { port, fx, refused } = await make({ token: 's' });
    expect(await wsRefusal(port, '/nows?token=s')).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
    expect(refused.at(-1)?.[1]).toBe('WebSocket: no WebSocket endpoint /nows');
    expect(await wsRefusal(port, '/streams/nope/ws?token=s')).toMatch(/^HTTP\/1\.1 404 /);
    expect(refused.at(-1)?.[1]).toBe('WebSocket: no stream named nope');
    expect(await wsRefusal(port, '/streams/nope/ws')).toMatch(/^HTTP\/1\.1 401 /);
    expect(await wsRefusal(port, '/ws')).toMatch(
      /^HTTP\/1\.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="framecast"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n$/,
    );
    expect(refused.at(-1)?.[1]).toBe('WebSocket: missing or wrong token');
    expect(await wsRefusal(port, '/ws?token=s', { Origin: 'https://evil.example' })).toMatch(
      /^HTTP\/1\.1 403 /,
    );
    expect(refused.at(-1)?.[1]).toBe('WebSocket: cross-origin WebSocket refused');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/streams/cam/ws?token=s`);
    const got: Buffer[] = [];
    ws.on('message', (d) => got.push(d as Buffer));
    await new Promise((r) => ws.once('open', r));
    await until(() => fx.hub.clients.length === 1);
    expect(fx.hub.clients[0]?.protocol).toBe('ws');
    fx.current().frame();
    await until(() => got.length === 1);
    expect(got[0]?.readUInt32BE(8)).toBe(0);
    ws.close();
    await until(() => fx.hub.clients.length === 0);
  });

  it('a passive /ws viewer is no client and is closed with the server', async () => {
    const { server, port, fx } = await make();
    const { FakeSub } = await import('../../hub/fakes.js');
    fx.hub.join(new FakeSub('a'));
    fx.current().frame();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?passive=1`);
    const got: Buffer[] = [];
    ws.on('message', (d) => got.push(d as Buffer));
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    await until(() => got.length === 1);
    expect(fx.hub.clients).toHaveLength(1);
    const stats = JSON.parse((await request(port, '/stats')).text);
    expect(stats.monitors.map((c: { protocol: string }) => c.protocol)).toEqual(['ws-monitor']);
    await server.close();
    expect(await closed).toBe(1001);
  });
});

describe('HttpServer: WebSocket options', () => {
  it('?meta=1&annotations=1: the meta text before its frame, annotations as text', async () => {
    const { port, fx } = await make();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?meta=1&annotations=1`);
    const got: Array<string | number> = [];
    ws.on('message', (d, binary) =>
      got.push(binary ? (d as Buffer).readUInt32BE(8) : (d as Buffer).toString()),
    );
    await new Promise((r) => ws.once('open', r));
    await until(() => fx.hub.clients.length === 1);
    fx.current().emit(
      'frame',
      new Frame({
        seq: 4,
        width: 8,
        height: 4,
        capturedAt: 9,
        encodedAt: 10,
        jpeg: Buffer.from('J'),
        meta: Buffer.from('{"m":1}'),
      }),
    );
    await until(() => got.length === 2);
    fx.hub.annotate('det', { seq: 4 }, { n: 2 });
    await until(() => got.length === 3);
    expect(got).toEqual([
      '{"type":"meta","seq":4,"capturedAt":9,"data":{"m":1}}',
      4,
      '{"type":"annotation","analyzer":"det","seq":4,"capturedAt":9,"data":{"n":2}}',
    ]);
    ws.close();
  });

  it('a plain /ws viewer gets neither meta texts nor annotations', async () => {
    const { port, fx } = await make();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const got: Array<string | number> = [];
    ws.on('message', (d, binary) =>
      got.push(binary ? (d as Buffer).readUInt32BE(8) : (d as Buffer).toString()),
    );
    await new Promise((r) => ws.once('open', r));
    await until(() => fx.hub.clients.length === 1);
    fx.current().emit(
      'frame',
      new Frame({
        seq: 4,
        width: 8,
        height: 4,
        capturedAt: 9,
        encodedAt: 10,
        jpeg: Buffer.from('J'),
        meta: Buffer.from('{"m":1}'),
      }),
    );
    fx.hub.annotate('det', { seq: 4 }, { n: 2 });
    await until(() => got.length >= 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual([4]);
    expect(fx.hub.clients[0]?.protocol).toBe('ws');
    ws.close();
  });

  it('a passive viewer gets the newest annotations at once and new ones as they come, and ends with its stream', async () => {
    const { port, fx, streams } = await make();
    const { FakeSub } = await import('../../hub/fakes.js');
    fx.hub.join(new FakeSub('a'));
    fx.current().frame();
    fx.hub.annotate('det', { seq: 0 }, { n: 1 });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?passive=1&annotations=1`);
    const got: Array<string | number> = [];
    ws.on('message', (d, binary) =>
      got.push(binary ? (d as Buffer).readUInt32BE(8) : (d as Buffer).toString()),
    );
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    await until(() => got.length === 2);
    fx.hub.annotate('ocr', { seq: 0 }, { t: 'x' });
    await until(() => got.length === 3);
    expect(got).toEqual([
      0,
      '{"type":"annotation","analyzer":"det","seq":0,"capturedAt":0,"data":{"n":1}}',
      '{"type":"annotation","analyzer":"ocr","seq":0,"capturedAt":0,"data":{"t":"x"}}',
    ]);
    // A passive viewer is not closed when the transmission ends...
    fx.hub.stopTransmission();
    await new Promise((r) => setTimeout(r, 50));
    expect(ws.readyState).toBe(WebSocket.OPEN);
    // ...but when its stream goes away.
    streams.remove(streams.all[0] as HttpStreamTarget);
    expect(await closed).toBe(1001);
  });

  it('a passive viewer before any frame gets nothing until one comes; frames reach it without a hub place', async () => {
    const { port, fx } = await make();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?passive=1`);
    const got: number[] = [];
    ws.on('message', (d) => got.push((d as Buffer).readUInt32BE(8)));
    await new Promise((r) => ws.once('open', r));
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual([]);
    expect(fx.producers).toHaveLength(0);
    const { FakeSub } = await import('../../hub/fakes.js');
    fx.hub.join(new FakeSub('a'));
    fx.current().frame();
    await until(() => got.length === 1);
    expect(fx.hub.clients).toHaveLength(1);
    ws.close();
  });

  it('a viewer that sends more than 4 KiB is cut (1009); small messages are read and ignored', async () => {
    const { port, fx } = await make();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    await new Promise((r) => ws.once('open', r));
    await until(() => fx.hub.clients.length === 1);
    ws.send('hello');
    ws.send(Buffer.alloc(4096));
    await new Promise((r) => setTimeout(r, 50));
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.send(Buffer.alloc(4097));
    expect(await closed).toBe(1009);
    await until(() => fx.hub.clients.length === 0);
  });

  it('a full server closes a WebSocket viewer with 1013 (try again later)', async () => {
    const fx = setup({ maxClients: 1, maxWaiting: 0 });
    const { FakeSub } = await import('../../hub/fakes.js');
    fx.hub.join(new FakeSub('first'));
    const streams = new Streams([target('cam', fx)]);
    const server = new HttpServer({
      host: '127.0.0.1',
      port: 0,
      streams,
      access: new Access({ token: null }),
      allowOrigin: null,
      startedAt: 0,
    });
    open.push(server);
    const refused: string[] = [];
    server.on('refused', (_a, r) => refused.push(r));
    const { port } = await server.listen();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const closed = await new Promise<[number, string]>((r) =>
      ws.once('close', (code, reason) => r([code, reason.toString()])),
    );
    expect(closed).toEqual([1013, 'server full']);
    expect(refused).toEqual(['server full']);
  });
});

describe('HttpServer: malformed and slow requests', () => {
  it('a request Node cannot parse is cut without an answer', async () => {
    const { port } = await make();
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => (text += d.toString()));
    const closed = new Promise((r) => socket.on('close', r));
    socket.write('NOT HTTP AT ALL\r\n\r\n');
    await closed;
    expect(text).toBe('');
  });

  it('headers that do not arrive within headersTimeoutMs: the connection is cut, checked often', async () => {
    const { port } = await make({ headersTimeoutMs: 200 });
    const socket = net.connect(port, '127.0.0.1');
    socket.on('data', () => {});
    const closed = new Promise((r) => socket.on('close', r));
    const t0 = Date.now();
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await closed;
    const dt = Date.now() - t0;
    expect(dt).toBeGreaterThanOrEqual(150);
    expect(dt).toBeLessThan(900);
  });
});

describe('HttpServer: annotations and publishing', () => {
  it('POST annotations: 202 with the annotation; refusals by status', async () => {
    const { port, fx, refused } = await make({ token: 's' });
    const { FakeSub } = await import('../../hub/fakes.js');
    fx.hub.join(new FakeSub('a'));
    fx.current().frame();
    const post = (body: string, q = '?token=s', headers: Record<string, string> = {}) =>
      request(port, `/streams/cam/annotations${q}`, { method: 'POST', body, headers });
    const ok = await post('{"analyzer":"det","seq":0,"data":{"x":1}}');
    expect(ok.status).toBe(202);
    expect(ok.text).toBe('{"type":"annotation","analyzer":"det","seq":0,"capturedAt":0,"data":{"x":1}}\n');
    expect(ok.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(ok.headers['content-length']).toBe(String(ok.body.length));
    const at = await post('{"analyzer":"det","capturedAt":0,"data":{}}');
    expect(at.status).toBe(202);
    expect((await post('{"analyzer":"det","seq":99,"data":{}}')).status).toBe(409);
    const bad = await post('nope');
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/^the body is not JSON: /);
    const rate = await post('{"analyzer":"bad name!","seq":0,"data":{}}');
    expect(rate.status).toBe(400);
    expect(rate.text).toBe('an analyzer name is 1 to 64 of A-Z a-z 0-9 _ . - (not first)\n');
    // Refusals after the whole body was read are the sender's business: not logged.
    expect(refused).toEqual([]);
    expect((await post('{"analyzer":"det","seq":0,"data":{}}', '')).status).toBe(401);
    expect((await post('{}', '?token=s', { Origin: 'https://evil.example' })).status).toBe(403);
    const unknown = await request(port, '/streams/nope/annotations?token=s', { method: 'POST', body: '{}' });
    expect(unknown.status).toBe(404);
    expect(unknown.text).toBe('no stream named nope\n');
  });

  it('POST annotations: a body over the cap is 413 (declared or streamed)', async () => {
    const { port, fx, refused } = await make();
    const { FakeSub } = await import('../../hub/fakes.js');
    fx.hub.join(new FakeSub('a'));
    fx.current().frame();
    const cap = fx.hub.annotations.maxBytes + 1024;
    const big = `{"analyzer":"det","seq":0,"data":{"x":"${'y'.repeat(cap)}"}}`;
    const r = await request(port, '/annotations', { method: 'POST', body: big }).catch(() => null);
    if (r) {
      expect(r.status).toBe(413);
      expect(r.text).toBe(`the body is over ${cap} bytes (the stream's maxMetaBytes + 1024)\n`);
    }
    expect(refused.at(-1)?.[1]).toBe(
      `HTTP annotation for default: the body is over ${cap} bytes (the stream's maxMetaBytes + 1024)`,
    );
    // Without a length: refused as soon as the bytes read pass the cap.
    const streamed = await new Promise<{ status: number; text: string } | null>((resolve) => {
      const req = http.request(
        { host: '127.0.0.1', port, path: '/streams/cam/annotations', method: 'POST', agent: false },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          res.on('error', () => resolve(null));
        },
      );
      req.on('error', () => resolve(null));
      req.write(Buffer.alloc(cap - 10, 0x20));
      setTimeout(() => req.end(Buffer.alloc(20, 0x20)), 50);
    });
    if (streamed) {
      expect(streamed.status).toBe(413);
      expect(streamed.text).toBe(`the body is over ${cap} bytes (the stream's maxMetaBytes + 1024)\n`);
    }
    expect(refused).toHaveLength(2);
    expect(refused[1]?.[1]).toBe(
      `HTTP annotation for cam: the body is over ${cap} bytes (the stream's maxMetaBytes + 1024)`,
    );
  });

  it('POST annotations: a declared length over the cap is refused before any byte, and the connection closed', async () => {
    const { port, fx } = await make();
    const cap = fx.hub.annotations.maxBytes + 1024;
    const text = await raw(
      port,
      `POST /annotations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${cap + 1}\r\n\r\n`,
    );
    expect(text).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
    expect(text).toContain('\r\nConnection: close\r\n');
    expect(text.endsWith(`the body is over ${cap} bytes (the stream's maxMetaBytes + 1024)\n`)).toBe(true);
    const x = await raw(
      port,
      'POST /annotations HTTP/1.1\r\nHost: 127.0.0.1:1\r\nOrigin: https://evil.example\r\nContent-Length: 5\r\n\r\n',
    );
    expect(x).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(x).toContain('\r\nConnection: close\r\n');
    expect(x.endsWith('\r\n\r\ncross-origin request refused\n')).toBe(true);
  });

  it('POST annotations: a body of exactly the cap is read, declared or not', async () => {
    const { port, fx } = await make();
    const { FakeSub } = await import('../../hub/fakes.js');
    fx.hub.join(new FakeSub('a'));
    fx.current().frame();
    const cap = fx.hub.annotations.maxBytes + 1024;
    const json = '{"analyzer":"det","seq":0,"data":{}}';
    const body = json + ' '.repeat(cap - json.length);
    const declared = await request(port, '/annotations', { method: 'POST', body });
    expect(declared.status).toBe(202);
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, path: '/annotations', method: 'POST', agent: false },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 1000));
      req.end(body.slice(1000));
    });
    expect(chunked).toBe(202);
  });

  it('POST publish: cross-origin 403, unknown stream 404, token 401, no publisher slot 409', async () => {
    const { port } = await make({ token: 's' });
    const post = (path: string, headers: Record<string, string> = {}) =>
      request(port, path, { method: 'POST', body: '', headers });
    const x = await post('/streams/cam/publish?token=s', { Origin: 'https://evil.example' });
    expect(x.status).toBe(403);
    expect(x.text).toBe('cross-origin request refused\n');
    const u = await post('/streams/nope/publish?token=s');
    expect(u.status).toBe(404);
    expect(u.text).toBe('no stream named nope\n');
    expect((await post('/streams/cam/publish')).status).toBe(401);
    expect((await post('/streams/nope/publish')).status).toBe(401);
    const n = await post('/streams/cam/publish?token=s');
    expect(n.status).toBe(409);
    expect(n.text).toContain('stream cam takes no publisher');
  });
});

describe('HttpServer: a stream that takes a publisher', () => {
  it("POST publish reaches the stream's publisher slot: a second publisher is 409", async () => {
    const ingest = new PublisherSlot(false);
    const { port } = await make({ token: 's', stream: { ingest } });
    const first = http.request({
      host: '127.0.0.1',
      port,
      path: '/streams/cam/publish?token=s',
      method: 'POST',
      agent: false,
      headers: { 'Content-Type': 'multipart/x-mixed-replace; boundary=b' },
    });
    first.on('error', () => {});
    first.write('--b\r\n');
    await until(() => ingest.current !== null);
    const second = await request(port, '/streams/cam/publish?token=s', { method: 'POST', body: '' });
    expect(second.status).toBe(409);
    expect(second.text).toBe('stream cam already has a publisher\n');
    first.destroy();
    await until(() => ingest.current === null);
  });
});

describe('HttpServer: the listener', () => {
  it('a request body that does not arrive in time is 408', async () => {
    const { port } = await make({ requestTimeoutMs: 200 });
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => (text += d.toString()));
    const closed = new Promise((r) => socket.on('close', r));
    const t0 = Date.now();
    socket.write('POST /annotations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\nab');
    await closed;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(text).toMatch(
      /^HTTP\/1\.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\nDate: [^\r]+\r\n\r\n$/,
    );
  });

  it('a response already under way when the deadline comes is cut', async () => {
    const { port } = await make({ requestTimeoutMs: 200 });
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => (text += d.toString()));
    const closed = new Promise((r) => socket.on('close', r));
    socket.write('POST /transmission/stop HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\nab');
    await closed;
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });

  it('a whole request in time is not cut', async () => {
    const { port } = await make({ requestTimeoutMs: 100 });
    const s = await stream(port, '/stream.mjpg');
    await new Promise((r) => setTimeout(r, 300));
    expect(s.res.destroyed).toBe(false);
    s.close();
  });

  it('--max-clients-per-ip: a connection over the cap is cut and reported', async () => {
    const { port, refused } = await make({ limiter: new IpLimiter(1) });
    const first = net.connect(port, '127.0.0.1');
    await new Promise((r) => first.once('connect', r));
    const second = net.connect(port, '127.0.0.1');
    await new Promise((r) => second.on('close', r));
    await until(() => refused.length === 1);
    expect(refused[0]?.[1]).toBe('too many connections from this address (--max-clients-per-ip)');
    first.destroy();
  });

  it('a busy default port falls back to a free one; a chosen one does not', async () => {
    const a = await make();
    const b = await make({ port: a.port, portFallback: true });
    expect(b.port).not.toBe(a.port);
    await expect(make({ port: a.port })).rejects.toMatchObject({ code: 'ERR_PORT_IN_USE' });
  });

  it("MediaMTX's /list?path=NAME: a GET only, for the named stream; a server that records nothing says so", async () => {
    const { port } = await make({ token: 's', more: ['yard'] });
    const list = await request(port, '/list?path=yard', { headers: bearer('s') });
    expect(list.status).toBe(404);
    expect(list.text).toBe('this server records nothing\n');
    const head = await request(port, '/list?path=yard', { method: 'HEAD', headers: bearer('s') });
    expect(head.status).toBe(404);
    // The stream is asked like any other: no token, 401; an unknown name, 404 naming it.
    expect((await request(port, '/list?path=yard')).status).toBe(401);
    const unknown = await request(port, '/list?path=nope', { headers: bearer('s') });
    expect(unknown.status).toBe(404);
    expect(unknown.text).toBe('no stream named nope\n');
    // A POST to /list is no listing: the default stream has no such endpoint.
    const post = await request(port, '/list?path=yard', { method: 'POST', headers: bearer('s') });
    expect(post.status).toBe(404);
    expect(post.text).toBe('no such endpoint: POST /list\n');
  });

  it('/api/sign is routed to the signing endpoint (POST only; without a link secret 409)', async () => {
    const { port } = await make({ adminToken: 'a' });
    const get = await request(port, '/api/sign', { headers: bearer('a') });
    expect([get.status, get.headers['allow']]).toEqual([405, 'POST']);
    const r = await request(port, '/api/sign', {
      method: 'POST',
      headers: { ...bearer('a'), 'Content-Type': 'application/json' },
      body: JSON.stringify({ stream: 'cam', actions: ['read'], expires: 60 }),
    });
    expect([r.status, r.text]).toEqual([
      409,
      'signed links are off: set auth.linkSecret in the config file\n',
    ]);
  });

  it('close() before listen() and after close() resolves at once', async () => {
    const fx = setup();
    const server = new HttpServer({
      host: '127.0.0.1',
      port: 0,
      streams: new Streams([target('cam', fx)]),
      access: new Access({ token: null, adminToken: null }),
      allowOrigin: null,
      startedAt: Date.now(),
    });
    await server.close();
    const { server: listening } = await make();
    await listening.close();
    await listening.close();
  });

  it('address() is the bound address; close() is idempotent', async () => {
    const { server, port } = await make();
    expect(server.address()).toMatchObject({ port, address: '127.0.0.1' });
    const c1 = server.close();
    expect(server.close()).toBe(c1);
    await c1;
  });
});

/** The raw answer to a WebSocket upgrade the server refuses. */
async function wsRefusal(port: number, path: string, headers: Record<string, string> = {}): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (d) => (text += d.toString('latin1')));
  const closed = new Promise((r) => socket.on('close', r));
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: ${headers['Host'] ?? `127.0.0.1:${port}`}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
    ...Object.entries(headers)
      .filter(([k]) => k !== 'Host')
      .map(([k, v]) => `${k}: ${v}`),
  ];
  socket.write(lines.join('\r\n') + '\r\n\r\n');
  await closed;
  return text;
}

/** Sends raw request bytes; resolves with every byte of the answer once the server closes. */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => (got += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => resolve(got));
    socket.write(text);
  });
}
