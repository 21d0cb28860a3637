/**
 * Users and permissions (issue "Access for a team"): one server with `auth:` users, each allowed a few
 * actions on some streams, asked over every transport; each cell of the matrix is asserted with what
 * the transport really answers (frames, HTTP status, native ERROR code, seed bytes).
 */
import net from 'node:net';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAuthSettings } from '../../src/access/auth-settings.js';
import { hashPassword } from '../../src/access/password.js';
import { serve, type FramecastServer } from '../../src/app/serve.js';
import { encodeHello, ErrorCode, HelloFlag } from '../../src/protocol/native.js';
import type { NativeMessage } from '../../src/protocol/native-parser.js';
import { makeJpeg, rawNative } from '../helpers/native.js';
import { httpBase } from '../http/support.js';

const PW: Record<string, string> = {
  alice: 'alice-pw',
  bob: 'bob-pw',
  ops: 'ops-pw',
  far: 'far-pw',
  annie: 'annie-pw',
};

let server: FramecastServer;
let base: string;
let port: number;

beforeAll(async () => {
  // The cheapest cost the file allows, so the matrix stays fast; the format is the one users write.
  const hash = async (u: string): Promise<string> => hashPassword(PW[u] as string, 10);
  const auth = parseAuthSettings(
    {
      users: {
        alice: {
          password: await hash('alice'),
          permissions: [
            { action: 'read', streams: 'cam*' },
            { action: 'playback', streams: ['cam1'] },
          ],
        },
        bob: { password: await hash('bob'), permissions: [{ action: 'publish', streams: 'pub' }] },
        ops: {
          password: await hash('ops'),
          permissions: [{ action: 'api' }, { action: 'metrics' }],
        },
        far: { password: await hash('far'), ips: ['10.0.0.0/8'], permissions: [{ action: 'read' }] },
        annie: { password: await hash('annie'), permissions: [{ action: 'annotate', streams: 'cam1' }] },
      },
      anonymous: { permissions: [{ action: 'read', streams: 'lobby' }] },
      failedLogins: { max: 1000, per: 60 },
    },
    process.cwd(),
  );
  server = await serve({
    port: 0,
    httpPort: 0,
    auth,
    streams: [
      { name: 'lobby', source: 'test', width: 160, fps: 10 },
      { name: 'cam1', source: 'test', width: 160, fps: 10 },
      { name: 'cam2', source: 'test', width: 160, fps: 10 },
      { name: 'pub', source: 'publisher' },
    ],
  });
  base = httpBase(server);
  port = server.address().port;
}, 30_000);

afterAll(async () => {
  await server?.close();
});

const basic = (user: string | null, pw?: string): Record<string, string> =>
  user === null
    ? {}
    : { Authorization: `Basic ${Buffer.from(`${user}:${pw ?? PW[user]}`).toString('base64')}` };

/** An HTTP GET's status; for a 200 MJPEG, only once a whole JPEG arrived. */
async function get(path: string, user: string | null, pw?: string): Promise<number> {
  const ac = new AbortController();
  const res = await fetch(`${base}${path}`, { headers: basic(user, pw), signal: ac.signal });
  if (res.status === 200 && (res.headers.get('content-type') ?? '').startsWith('multipart/')) {
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let bytes = Buffer.alloc(0);
    while (bytes.indexOf(Buffer.from([0xff, 0xd9])) < 0) {
      const { value, done } = await reader.read();
      if (done) return -1;
      bytes = Buffer.concat([bytes, Buffer.from(value)]);
    }
    ac.abort();
    return 200;
  }
  await res.arrayBuffer().catch(() => {});
  return res.status;
}

/** What a native viewer of `stream` gets: 'frames', or the ERROR code. */
async function nativeRead(stream: string, token: string, flags = 0): Promise<number | 'frames' | 'nothing'> {
  const s = await rawNative(port, encodeHello(token, Date.now(), 2, flags, stream), {
    timeoutMs: 8000,
    until: (m) => m.some((x) => x.type === 'error' || x.type === 'frame'),
  });
  const err = s.messages.find((m): m is Extract<NativeMessage, { type: 'error' }> => m.type === 'error');
  if (err) return err.code;
  return s.messages.some((m) => m.type === 'frame') ? 'frames' : 'nothing';
}

/** A WebSocket viewer: 'frame' once a binary frame arrives, else the HTTP status of the refusal. */
function wsRead(stream: string, user: string | null): Promise<'frame' | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/streams/${stream}/ws`, { headers: basic(user) });
    const timer = setTimeout(() => {
      ws.terminate();
      resolve(-1);
    }, 8000);
    ws.on('message', (_d, binary) => {
      if (!binary) return;
      clearTimeout(timer);
      ws.terminate();
      resolve('frame');
    });
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', () => {});
  });
}

/** The bytes a seed client (no hello) receives in `ms`. */
function seedBytes(ms = 2500): Promise<number> {
  return new Promise((resolve) => {
    let n = 0;
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('data', (c: Buffer) => (n += c.length));
    s.on('error', () => {});
    const done = (): void => {
      s.destroy();
      resolve(n);
    };
    const t = setTimeout(done, ms);
    s.once('close', () => {
      clearTimeout(t);
      done();
    });
  });
}

describe('the permission matrix on the origin', () => {
  // user -> stream -> may read (live)?
  const READS: [string | null, string, boolean][] = [
    [null, 'lobby', true],
    [null, 'cam1', false],
    ['alice', 'cam1', true],
    ['alice', 'cam2', true],
    ['alice', 'lobby', false],
    ['bob', 'cam1', false],
    ['ops', 'cam1', false],
    ['far', 'cam1', false],
    ['annie', 'cam1', true],
    ['annie', 'cam2', false],
  ];

  it.each(READS)(
    '%s reading %s: MJPEG, snapshot, WebSocket, SSE and native agree (%s)',
    async (user, stream, may) => {
      const refusedStatus = user === null ? 401 : 403;
      expect(await get(`/streams/${stream}/stream.mjpg`, user)).toBe(may ? 200 : refusedStatus);
      expect(await get(`/streams/${stream}/snapshot.jpg`, user)).toBe(may ? 200 : refusedStatus);
      expect(await wsRead(stream, user)).toBe(may ? 'frame' : refusedStatus);
      if (!may) expect(await get(`/streams/${stream}/events`, user)).toBe(refusedStatus);
      const token = user === null ? '' : `${user}:${PW[user]}`;
      expect(await nativeRead(stream, token)).toBe(
        may ? 'frames' : user === null ? ErrorCode.TokenRequired : ErrorCode.Forbidden,
      );
    },
    40_000,
  );

  it('a wrong password is 401 with a Basic challenge over HTTP and ERROR 4 over native', async () => {
    const res = await fetch(`${base}/streams/cam1/snapshot.jpg`, { headers: basic('alice', 'nope') });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="framecast"/);
    expect(await nativeRead('cam1', 'alice:nope')).toBe(ErrorCode.TokenInvalid);
    expect(await nativeRead('cam1', 'mallory:x')).toBe(ErrorCode.TokenInvalid);
  });

  it('a seed client is an anonymous request: served the default stream (lobby) that anonymous may read', async () => {
    expect(await seedBytes()).toBeGreaterThan(1000);
  });

  it('playback is its own action: alice plays back cam1, not cam2 (which she may watch live)', async () => {
    expect(await get('/streams/cam1/recordings', 'alice')).not.toBe(403);
    expect(await get('/streams/cam1/recordings', 'alice')).not.toBe(401);
    expect(await get('/streams/cam2/recordings', 'alice')).toBe(403);
    expect(await get('/streams/cam2/stream.mjpg', 'alice')).toBe(200);
    expect(await get('/streams/cam1/recordings', null)).toBe(401);
  });

  it('publishing: bob may publish pub (HTTP and native), alice may not', async () => {
    const jpeg = await makeJpeg(64, 48);
    const post = (user: string | null): Promise<Response> =>
      fetch(`${base}/streams/pub/publish`, {
        method: 'POST',
        headers: { ...basic(user), 'Content-Type': 'image/jpeg' },
        body: jpeg,
      });
    const ok = await post('bob');
    expect(ok.status).toBeLessThan(300);
    expect((await post('alice')).status).toBe(403);
    expect((await post(null)).status).toBe(401);
    const hello = (token: string) =>
      rawNative(port, encodeHello(token, Date.now(), 2, HelloFlag.Publish, 'pub'), {
        timeoutMs: 5000,
        until: (m) => m.some((x) => x.type === 'error' || x.type === 'welcome'),
      });
    const welcomed = await hello(`bob:${PW.bob}`);
    expect(welcomed.messages.some((m) => m.type === 'welcome')).toBe(true);
    const refused = await hello(`alice:${PW.alice}`);
    expect(refused.messages.find((m) => m.type === 'error')).toMatchObject({ code: ErrorCode.Forbidden });
  });

  it('annotating: annie may annotate cam1 (and so watch it), alice may not', async () => {
    const body = JSON.stringify({ analyzer: 'a', capturedAt: Date.now(), data: { n: 1 } });
    const post = (user: string): Promise<Response> =>
      fetch(`${base}/streams/cam1/annotations`, {
        method: 'POST',
        headers: { ...basic(user), 'Content-Type': 'application/json' },
        body,
      });
    // 409: a frame that is not recent; anything but 401/403 says access let it through.
    expect([202, 409]).toContain((await post('annie')).status);
    expect((await post('alice')).status).toBe(403);
    expect(await nativeRead('cam1', `annie:${PW.annie}`, HelloFlag.Annotate)).toBe('frames');
    expect(await nativeRead('cam1', `alice:${PW.alice}`, HelloFlag.Annotate)).toBe(ErrorCode.TokenInvalid);
  });

  it('the API and metrics: ops only', async () => {
    expect(await get('/api/streams', 'ops')).toBe(200);
    expect(await get('/api/streams/cam1', 'ops')).toBe(200);
    expect(await get('/stats', 'ops')).toBe(200);
    expect(await get('/metrics', 'ops')).toBe(200);
    for (const path of ['/api/streams', '/api/streams/cam1', '/stats', '/metrics']) {
      expect(await get(path, 'alice')).toBe(403);
      expect(await get(path, null)).toBe(401);
    }
    const del = (user: string) =>
      fetch(`${base}/api/streams/nosuch`, { method: 'DELETE', headers: basic(user) }).then((r) => r.status);
    expect(await del('ops')).toBe(404);
    expect(await del('alice')).toBe(403);
    // Stopping a transmission is operating a stream: the api permission.
    const stop = (user: string) =>
      fetch(`${base}/streams/cam2/transmission/stop`, { method: 'POST', headers: basic(user) }).then(
        (r) => r.status,
      );
    expect(await stop('alice')).toBe(403);
  });

  it('an unknown stream is named (404) only to who may act on that name', async () => {
    expect(await get('/streams/cam9/snapshot.jpg', 'alice')).toBe(404);
    expect(await get('/streams/other/snapshot.jpg', 'alice')).toBe(403);
    expect(await get('/streams/other/snapshot.jpg', null)).toBe(401);
    expect(await nativeRead('cam9', `alice:${PW.alice}`)).toBe(ErrorCode.UnknownStream);
    expect(await nativeRead('other', `alice:${PW.alice}`)).toBe(ErrorCode.Forbidden);
  });
});
