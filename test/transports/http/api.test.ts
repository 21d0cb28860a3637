/** /api/streams/NAME (api.ts) on a plain http server: tokens, methods, bodies, and what the API answers. */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Access } from '../../../src/access/access.js';
import {
  apiList,
  apiStream,
  serveStreamApi,
  type ApiContext,
  type StreamApi,
} from '../../../src/transports/http/api.js';
import { parseAnnotationBody } from '../../../src/transports/http/annotate-route.js';
import { requestUrl } from '../../../src/transports/http/respond.js';
import type { StatsReport } from '../../../src/transports/http/stats.js';
import { listen, request } from './support.js';

// A test that waits for what a mutant broke fails within 3 s (mutation runs retry a failure twice).
vi.setConfig({ testTimeout: 3000 });

/** An API that records what it was asked. */
class FakeApi implements StreamApi {
  readonly puts: Array<[string, unknown]> = [];
  readonly removed: string[] = [];
  putResult: { created: boolean; stream: Record<string, unknown> } | Error | string = {
    created: true,
    stream: { name: 'cam', source: 'test' },
  };
  describe(name: string): Record<string, unknown> | null {
    return name === 'cam' ? { name: 'cam', source: 'test' } : null;
  }
  put(name: string, body: unknown): Promise<{ created: boolean; stream: Record<string, unknown> }> {
    this.puts.push([name, body]);
    const r = this.putResult;
    return typeof r === 'string' || r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
  }
  remove(name: string): Promise<boolean> {
    this.removed.push(name);
    return Promise.resolve(name === 'cam');
  }
  readonly recorded: Array<[string, boolean]> = [];
  record(name: string, on: boolean): Promise<Record<string, unknown> | null> {
    this.recorded.push([name, on]);
    return Promise.resolve(name === 'cam' ? { name: 'cam', source: 'test', record: on } : null);
  }
}

const stats = (fpsIn: number | null, fpsOut: number): StatsReport =>
  ({ source: { fpsIn, fpsOut, name: 'src', state: 'live' }, clients: [1, 2] }) as unknown as StatsReport;

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function start(
  opts: {
    api?: StreamApi | null;
    token?: string | null;
    adminToken?: string | null;
    allowOrigin?: string | null;
  } = {},
) {
  const refused: Array<[string, string]> = [];
  const ctx: ApiContext = {
    api: opts.api === undefined ? new FakeApi() : opts.api,
    access: new Access({ token: opts.token ?? null, adminToken: opts.adminToken ?? null }),
    guardOf: (n) => (n === 'cam' ? { name: 'cam', readToken: null } : null),
    statsOf: (n) => (n === 'cam' ? stats(25, 24.5) : null),
    allowOrigin: opts.allowOrigin ?? null,
    cors: { 'X-Cors': 'yes' },
    onRefused: (a, r) => refused.push([a, r]),
  };
  const srv = await listen((req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = requestUrl(req);
    void serveStreamApi(req, res, url, url.pathname.slice('/api/streams/'.length), ctx);
  });
  closers.push(srv.close);
  return { port: srv.port, ctx, refused, api: ctx.api as FakeApi };
}

const json = { 'Content-Type': 'application/json' };

describe('GET /api/streams/NAME', () => {
  it("takes the server's token; describes the stream with its frame rates", async () => {
    const { port } = await start({ token: 's' });
    const none = await request(port, '/api/streams/cam');
    expect(none.status).toBe(401);
    expect(none.text).toBe('a token is required\n');
    expect(none.headers['x-cors']).toBe('yes');
    const ok = await request(port, '/api/streams/cam?token=s');
    expect(ok.status).toBe(200);
    expect(ok.headers['x-cors']).toBe('yes');
    expect(JSON.parse(ok.text)).toEqual({ name: 'cam', source: 'test', fpsIn: 25, fpsOut: 24.5 });
    const head = await request(port, '/api/streams/cam?token=s', { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('404 for a stream the API does not know, or without an API', async () => {
    const a = await start();
    const r = await request(a.port, '/api/streams/other');
    expect(r.status).toBe(404);
    expect(r.text).toBe('no stream named other\n');
    const b = await start({ api: null });
    expect((await request(b.port, '/api/streams/cam')).status).toBe(404);
  });
});

describe('PUT and DELETE /api/streams/NAME', () => {
  it('other methods are 405 with Allow', async () => {
    const { port } = await start({ adminToken: 'a' });
    const r = await request(port, '/api/streams/cam', {
      method: 'POST',
      headers: { Authorization: 'Bearer a' },
    });
    expect(r.status).toBe(405);
    expect(r.text).toBe('method POST not allowed\n');
    expect(r.headers['allow']).toBe('GET, PUT, DELETE');
    expect(r.headers['x-cors']).toBe('yes');
  });

  it('403 without an admin token set, or without an API', async () => {
    const msg =
      'API writes are disabled: start the server with --admin-token (or FRAMECAST_ADMIN_TOKEN) to allow them\n';
    const a = await start({ token: 's' });
    const r = await request(a.port, '/api/streams/cam', {
      method: 'DELETE',
      headers: { Authorization: 'Bearer s' },
    });
    expect(r.status).toBe(403);
    expect(r.text).toBe(msg);
    expect(a.api.removed).toEqual([]);
    const b = await start({ api: null, adminToken: 'a' });
    const q = await request(b.port, '/api/streams/cam?token=a', { method: 'DELETE' });
    expect(q.status).toBe(403);
    expect(q.text).toBe(msg);
  });

  it('401 with WWW-Authenticate for a missing or wrong admin token, logged', async () => {
    const { port, refused, api } = await start({ token: 's', adminToken: 'a' });
    const r = await request(port, '/api/streams/cam', {
      method: 'PUT',
      headers: { Authorization: 'Bearer s' },
      body: '{}',
    });
    expect(r.status).toBe(401);
    expect(r.text).toBe('the admin token is required: Authorization: Bearer ADMIN_TOKEN\n');
    expect(r.headers['www-authenticate']).toBe('Bearer realm="framecast-admin"');
    expect(r.headers['x-cors']).toBe('yes');
    expect(refused).toEqual([['127.0.0.1', 'API PUT /api/streams/cam: missing or wrong admin token']]);
    expect((await request(port, '/api/streams/cam', { method: 'DELETE' })).status).toBe(401);
    expect(api.puts).toEqual([]);
    expect(api.removed).toEqual([]);
  });

  it('a cross-origin write is 403', async () => {
    const { port, api } = await start({ adminToken: 'a' });
    const r = await request(port, '/api/streams/cam?token=a', {
      method: 'DELETE',
      headers: { Origin: 'https://evil.example' },
    });
    expect(r.status).toBe(403);
    expect(r.text).toBe('cross-origin request refused\n');
    expect(api.removed).toEqual([]);
  });

  it('DELETE: 200 naming the removed stream, 404 when there was none', async () => {
    const { port, api } = await start({ adminToken: 'a' });
    const ok = await request(port, '/api/streams/cam?token=a', { method: 'DELETE' });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text)).toEqual({ removed: 'cam' });
    const no = await request(port, '/api/streams/gone?token=a', { method: 'DELETE' });
    expect(no.status).toBe(404);
    expect(no.text).toBe('no stream named gone\n');
    expect(api.removed).toEqual(['cam', 'gone']);
  });

  it('PUT: 201 created / 200 replaced, with the stream as GET shows it', async () => {
    const { port, api } = await start({ adminToken: 'a' });
    const c = await request(port, '/api/streams/cam?token=a', {
      method: 'PUT',
      body: '{"source":"test"}',
      headers: json,
    });
    expect(c.status).toBe(201);
    expect(JSON.parse(c.text)).toEqual({ name: 'cam', source: 'test', fpsIn: 25, fpsOut: 24.5 });
    expect(api.puts).toEqual([['cam', { source: 'test' }]]);
    api.putResult = { created: false, stream: { name: 'new' } };
    const r = await request(port, '/api/streams/new?token=a', { method: 'PUT', body: '{"a":[1]}' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toEqual({ name: 'new', fpsIn: null, fpsOut: 0 });
    expect(api.puts[1]).toEqual(['new', { a: [1] }]);
  });

  it('PUT: a body that is not JSON is 400', async () => {
    const { port, api } = await start({ adminToken: 'a' });
    const r = await request(port, '/api/streams/cam?token=a', { method: 'PUT', body: '{nope' });
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/^the body is not JSON: .+\n$/);
    expect(api.puts).toEqual([]);
  });

  it("PUT: the API's refusal is 400 with its first line", async () => {
    const { port, api } = await start({ adminToken: 'a' });
    api.putResult = new Error('quality must be 1..100\n  at line 3');
    const r = await request(port, '/api/streams/cam?token=a', { method: 'PUT', body: '{}' });
    expect(r.status).toBe(400);
    expect(r.text).toBe('quality must be 1..100\n');
    api.putResult = 'plain refusal';
    const s = await request(port, '/api/streams/cam?token=a', { method: 'PUT', body: '{}' });
    expect(s.status).toBe(400);
    expect(s.text).toBe('plain refusal\n');
  });

  it('PUT: a declared length over 64 KiB is refused before any byte, and the connection closed', async () => {
    const { port, api } = await start({ adminToken: 'a' });
    const text = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let got = '';
      socket.on('data', (d) => (got += d.toString()));
      socket.on('error', () => {});
      socket.on('close', () => resolve(got));
      socket.on('end', () => socket.end());
      socket.write(
        'PUT /api/streams/cam?token=a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 65537\r\n\r\n',
      );
      setTimeout(() => socket.destroy(), 1500);
    });
    expect(text).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
    expect(text).toContain('\r\nConnection: close\r\n');
    expect(api.puts).toEqual([]);
  });

  it('PUT: a body over 64 KiB is 413, declared or streamed; 64 KiB exactly is read', async () => {
    const { port, api } = await start({ adminToken: 'a' });
    const max = 64 * 1024;
    const declared = await request(port, '/api/streams/cam?token=a', {
      method: 'PUT',
      headers: { 'Content-Length': max + 1 },
      body: Buffer.alloc(max + 1, 0x20),
    }).catch(() => null);
    if (declared) {
      expect(declared.status).toBe(413);
      expect(declared.text).toBe('the body is over 65536 bytes\n');
      expect(declared.headers['connection']).toBe('close');
    }
    // Chunked: no length known before reading.
    const streamed = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, path: '/api/streams/cam?token=a', method: 'PUT', agent: false },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.write(Buffer.alloc(max, 0x20));
      req.write(Buffer.alloc(10, 0x20));
      req.end();
    });
    expect(streamed.status).toBe(413);
    expect(streamed.text).toBe('the body is over 65536 bytes\n');
    expect(api.puts).toEqual([]);
    const exact = Buffer.alloc(max, 0x20);
    exact.write('{}', 0);
    const ok = await request(port, '/api/streams/cam?token=a', { method: 'PUT', body: exact });
    expect(ok.status).toBe(201);
    expect(api.puts).toEqual([['cam', {}]]);
  });
});

describe('apiStream and apiList', () => {
  it('apiStream adds the frame rates (null / 0 without stats)', () => {
    expect(apiStream({ name: 'x' }, stats(30, 29.9))).toEqual({ name: 'x', fpsIn: 30, fpsOut: 29.9 });
    expect(apiStream({ name: 'x' }, stats(null, 3))).toEqual({ name: 'x', fpsIn: null, fpsOut: 3 });
    expect(apiStream({ name: 'x' }, null)).toEqual({ name: 'x', fpsIn: null, fpsOut: 0 });
  });

  it("apiList: the API's description, else what the stats say", () => {
    const api = new FakeApi();
    const streams = [{ name: 'cam' }, { name: 'other' }];
    expect(apiList(streams, api, () => stats(10, 9))).toEqual([
      { name: 'cam', source: 'test', fpsIn: 10, fpsOut: 9 },
      { name: 'other', source: 'src', state: 'live', clients: 2, fpsIn: 10, fpsOut: 9 },
    ]);
    expect(apiList(streams, null, () => stats(null, 0))[0]).toEqual({
      name: 'cam',
      source: 'src',
      state: 'live',
      clients: 2,
      fpsIn: null,
      fpsOut: 0,
    });
  });
});

describe('parseAnnotationBody', () => {
  it.each([
    ['nope', /^the body is not JSON: /],
    ['null', 'the body must be a JSON object {"analyzer", "seq" or "capturedAt", "data"}'],
    ['[1]', 'the body must be a JSON object {"analyzer", "seq" or "capturedAt", "data"}'],
    ['3', 'the body must be a JSON object {"analyzer", "seq" or "capturedAt", "data"}'],
    ['{"seq":1,"data":{}}', '"analyzer" must be a string'],
    ['{"analyzer":5,"seq":1,"data":{}}', '"analyzer" must be a string'],
    ['{"analyzer":"a","seq":1}', '"data" is missing (the annotation, a JSON object)'],
    ['{"analyzer":"a","data":{}}', 'give exactly one of "seq" and "capturedAt"'],
    ['{"analyzer":"a","seq":1,"capturedAt":2,"data":{}}', 'give exactly one of "seq" and "capturedAt"'],
    ['{"analyzer":"a","seq":-1,"data":{}}', '"seq" must be an integer 0..4294967295'],
    ['{"analyzer":"a","seq":4294967296,"data":{}}', '"seq" must be an integer 0..4294967295'],
    ['{"analyzer":"a","seq":1.5,"data":{}}', '"seq" must be an integer 0..4294967295'],
    ['{"analyzer":"a","seq":"1","data":{}}', '"seq" must be an integer 0..4294967295'],
    [
      '{"analyzer":"a","capturedAt":"1","data":{}}',
      '"capturedAt" must be a number (ms, as the frame carried it)',
    ],
    [
      '{"analyzer":"a","capturedAt":1e999,"data":{}}',
      '"capturedAt" must be a number (ms, as the frame carried it)',
    ],
  ])('%s is refused', (text, problem) => {
    const r = parseAnnotationBody(text) as { problem: string };
    if (typeof problem === 'string') expect(r.problem).toBe(problem);
    else expect(r.problem).toMatch(problem);
  });

  it('reads a seq, or a capture time, and the data as they are', () => {
    expect(parseAnnotationBody('{"analyzer":"a","seq":0,"data":{"x":[1]}}')).toEqual({
      analyzer: 'a',
      ref: { seq: 0 },
      data: { x: [1] },
    });
    expect(parseAnnotationBody('{"analyzer":"a","seq":4294967295,"data":null}')).toEqual({
      analyzer: 'a',
      ref: { seq: 4294967295 },
      data: null,
    });
    expect(parseAnnotationBody('{"analyzer":"b","capturedAt":-1.5,"data":1}')).toEqual({
      analyzer: 'b',
      ref: { capturedAt: -1.5 },
      data: 1,
    });
  });
});
