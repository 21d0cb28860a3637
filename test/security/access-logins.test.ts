/**
 * JWTs, signed links and the HTTP hook through real transports (issue "Access for a team", points 2-4
 * and 6), and users checked on an edge from its own config: keys and hooks made in the test.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAuthSettings } from '../../src/access/auth-settings.js';
import { hashPassword } from '../../src/access/password.js';
import { signLink } from '../../src/access/signed-link.js';
import { edge } from '../../src/app/edge.js';
import { serve, type FramecastServer } from '../../src/app/serve.js';
import { encodeHello, ErrorCode } from '../../src/protocol/native.js';
import type { NativeMessage } from '../../src/protocol/native-parser.js';
import { startNats } from '../helpers/nats.js';
import { openMjpeg } from '../helpers/mjpeg.js';
import { rawNative } from '../helpers/native.js';
import { busRig, natsOrFail } from '../bus/support.js';
import { httpBase, until } from '../http/support.js';

const SECRET = 'a-link-secret-of-at-least-32-bytes!!';
const dir = mkdtempSync(join(tmpdir(), 'fc-logins-'));
let key: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let server: FramecastServer | null = null;
let hook: Server | null = null;
/** What the hook was asked, and how it answers (a status, or 'hang'). */
const hookSaw: Record<string, unknown>[] = [];
let hookAnswer: number | 'hang' = 204;
const hung: ServerResponse[] = [];

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  key = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
  hook = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hookSaw.push(JSON.parse(body) as Record<string, unknown>);
      if (hookAnswer === 'hang') hung.push(res);
      else res.writeHead(hookAnswer).end();
    });
  });
  await new Promise<void>((r) => hook?.listen(0, '127.0.0.1', r));
});

afterEach(async () => {
  await server?.close();
  server = null;
});

afterAll(async () => {
  for (const r of hung) r.destroy();
  await new Promise<void>((r) => (hook ? hook.close(() => r()) : r()));
  rmSync(dir, { recursive: true, force: true });
});

async function start(auth: Record<string, unknown>): Promise<{ base: string; port: number }> {
  server = await serve({
    port: 0,
    httpPort: 0,
    auth: parseAuthSettings(auth, dir),
    streams: [
      { name: 'cam1', source: 'test', width: 160, fps: 10 },
      { name: 'cam2', source: 'test', width: 160, fps: 10 },
    ],
  });
  return { base: httpBase(server), port: server.address().port };
}

function jwt(
  claims: Record<string, unknown>,
  opts: { exp?: string | number; alg?: string } = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: opts.alg ?? 'ES256', kid: 'k1' })
    .setIssuedAt()
    .setIssuer('https://id.test/')
    .setAudience('framecast')
    .setExpirationTime(opts.exp ?? '5m')
    .sign(key);
}

const status = async (url: string, headers: Record<string, string> = {}): Promise<number> => {
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  return res.status;
};

async function nativeRead(
  port: number,
  stream: string,
  token: string,
): Promise<number | 'frames' | 'nothing'> {
  const s = await rawNative(port, encodeHello(token, Date.now(), 2, 0, stream), {
    timeoutMs: 8000,
    until: (m) => m.some((x) => x.type === 'error' || x.type === 'frame'),
  });
  const err = s.messages.find((m): m is Extract<NativeMessage, { type: 'error' }> => m.type === 'error');
  if (err) return err.code;
  return s.messages.some((m) => m.type === 'frame') ? 'frames' : 'nothing';
}

const JWT_AUTH = { jwt: { jwksFile: 'jwks.json', issuer: 'https://id.test/', audience: 'framecast' } };
const READ_CAM1 = { framecast_permissions: [{ action: 'read', streams: ['cam1'] }], sub: 'dana' };

describe('JWT on the transports', () => {
  it('a good token reads what its claim names, as Bearer, ?token= and in the native hello', async () => {
    const { base, port } = await start(JWT_AUTH);
    const t = await jwt(READ_CAM1);
    expect(await status(`${base}/streams/cam1/snapshot.jpg`, { Authorization: `Bearer ${t}` })).toBe(200);
    expect(await status(`${base}/streams/cam1/snapshot.jpg?token=${t}`)).toBe(200);
    expect(await status(`${base}/streams/cam2/snapshot.jpg?token=${t}`)).toBe(403);
    expect(await nativeRead(port, 'cam1', t)).toBe('frames');
    expect(await nativeRead(port, 'cam2', t)).toBe(ErrorCode.Forbidden);
  }, 30_000);

  it('expired, unsigned (alg none), another audience: refused as a wrong token, and logged without it', async () => {
    const refusals: string[] = [];
    const { base, port } = await start(JWT_AUTH);
    server?.on('refused', (_a, r) => refusals.push(r));
    const expired = await jwt(READ_CAM1, { exp: '-10m' });
    const enc = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${enc({ alg: 'none', kid: 'k1' })}.${enc({ ...READ_CAM1, aud: 'framecast', iss: 'https://id.test/' })}.`;
    const other = await new SignJWT(READ_CAM1)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer('https://id.test/')
      .setAudience('someone-else')
      .setExpirationTime('5m')
      .sign(key);
    for (const t of [expired, none, other]) {
      expect(await status(`${base}/streams/cam1/snapshot.jpg?token=${t}`)).toBe(401);
      expect(await nativeRead(port, 'cam1', t)).toBe(ErrorCode.TokenInvalid);
    }
    expect(refusals.some((r) => /JWT: expired/.test(r))).toBe(true);
    expect(refusals.some((r) => /JWT: wrong audience/.test(r))).toBe(true);
    expect(refusals.join('\n')).not.toContain(expired);
  }, 30_000);
});

describe('a JWT remembered after its first check', () => {
  it('is refused once it expires (the memory of verified tokens ends at their exp)', async () => {
    const { base } = await start({ jwt: { ...JWT_AUTH.jwt, clockTolerance: 0 } });
    const t = await jwt(READ_CAM1, { exp: Math.floor(Date.now() / 1000) + 2 });
    expect(await status(`${base}/streams/cam1/snapshot.jpg?token=${t}`)).toBe(200);
    expect(await status(`${base}/streams/cam1/snapshot.jpg?token=${t}`)).toBe(200);
    await until(
      async () => (await status(`${base}/streams/cam1/snapshot.jpg?token=${t}`)) === 401,
      6000,
      'expiry',
    );
  }, 30_000);
});

describe('signed links on the transports', () => {
  it('valid for its stream and actions only, until it expires; the same on native', async () => {
    const { base, port } = await start({ linkSecret: SECRET });
    const link = signLink({ stream: 'cam1', actions: ['read'], expiresAt: Date.now() + 60_000 }, SECRET);
    expect(await status(`${base}/streams/cam1/snapshot.jpg?token=${link}`)).toBe(200);
    const m = openMjpeg(`${base}/streams/cam1/stream.mjpg?token=${link}`);
    await until(() => m.count >= 2, 8000, 'MJPEG frames with a link');
    m.close();
    expect(await status(`${base}/streams/cam2/snapshot.jpg?token=${link}`)).toBe(403);
    expect(await status(`${base}/streams/cam1/recordings?token=${link}`)).toBe(403);
    expect(await nativeRead(port, 'cam1', link)).toBe('frames');
    const expired = signLink({ stream: 'cam1', actions: ['read'], expiresAt: Date.now() - 1 }, SECRET);
    expect(await status(`${base}/streams/cam1/snapshot.jpg?token=${expired}`)).toBe(401);
    expect(await nativeRead(port, 'cam1', expired)).toBe(ErrorCode.TokenInvalid);
    const forged = signLink(
      { stream: 'cam1', actions: ['read'], expiresAt: Date.now() + 60_000 },
      SECRET + 'x',
    );
    expect(await status(`${base}/streams/cam1/snapshot.jpg?token=${forged}`)).toBe(401);
  }, 30_000);
});

describe('POST /api/sign', () => {
  it('who operates a stream signs links for it; they open what they say, for as long as they say', async () => {
    const hash = await hashPassword('pw', 10);
    const { base } = await start({
      linkSecret: SECRET,
      users: {
        ops: { password: hash, permissions: [{ action: 'api', streams: 'cam1' }] },
        viewer: { password: hash, permissions: [{ action: 'read' }] },
      },
    });
    const as = (user: string) => ({
      Authorization: `Basic ${Buffer.from(`${user}:pw`).toString('base64')}`,
      'Content-Type': 'application/json',
    });
    const sign = (user: string, body: unknown) =>
      fetch(`${base}/api/sign`, { method: 'POST', headers: as(user), body: JSON.stringify(body) });
    const ok = await sign('ops', { stream: 'cam1', actions: ['read'], expires: '10m' });
    expect(ok.status).toBe(200);
    const made = (await ok.json()) as { token: string; path: string; expiresAt: string; actions: string[] };
    expect(made.actions).toEqual(['read']);
    expect(Date.parse(made.expiresAt) - Date.now()).toBeGreaterThan(9 * 60_000);
    expect(Date.parse(made.expiresAt) - Date.now()).toBeLessThanOrEqual(10 * 60_000);
    expect(await status(`${base}/streams/cam1/snapshot.jpg?token=${made.token}`)).toBe(200);
    expect(await status(`${base}${made.path}`)).toBe(200);
    expect(await status(`${base}/streams/cam2/snapshot.jpg?token=${made.token}`)).toBe(403);
    // Not an operator of cam2, nor is a viewer of anything.
    expect((await sign('ops', { stream: 'cam2', expires: '10m' })).status).toBe(403);
    expect((await sign('viewer', { stream: 'cam1', expires: '10m' })).status).toBe(403);
    expect((await sign('ops', { stream: 'cam1', expires: '30d' })).status).toBe(400);
    // A link that could use the API could sign links and extend itself: links never carry api.
    expect((await sign('ops', { stream: 'cam1', actions: ['read', 'api'], expires: '1m' })).status).toBe(400);
    const bad = await sign('ops', { stream: 'cam1', actions: ['fly'], expires: '1m' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/^actions: "fly" is not one of read/);
    expect((await sign('ops', { stream: 'nosuch', expires: '1m' })).status).toBe(403);
  }, 30_000);

  it('409 without a link secret', async () => {
    const { base } = await start({
      users: { ops: { password: await hashPassword('pw', 10), permissions: [{ action: 'api' }] } },
    });
    const res = await fetch(`${base}/api/sign`, {
      method: 'POST',
      headers: { Authorization: `Basic ${Buffer.from('ops:pw').toString('base64')}` },
      body: JSON.stringify({ stream: 'cam1', expires: 60 }),
    });
    expect(res.status).toBe(409);
    expect(await res.text()).toMatch(/auth\.linkSecret/);
  }, 30_000);
});

describe('the HTTP hook', () => {
  const url = (): string => `http://127.0.0.1:${(hook?.address() as AddressInfo).port}/auth`;

  it('allows on 2xx, refuses otherwise, is asked with the request and caches its answer', async () => {
    hookSaw.length = 0;
    hookAnswer = 204;
    const { base } = await start({ http: { url: url(), timeout: 1, cache: 30 } });
    const auth = { Authorization: `Basic ${Buffer.from('hooked:pw').toString('base64')}` };
    expect(await status(`${base}/streams/cam1/snapshot.jpg`, auth)).toBe(200);
    expect(await status(`${base}/streams/cam1/snapshot.jpg`, auth)).toBe(200);
    expect(hookSaw).toEqual([
      {
        user: 'hooked',
        password: 'pw',
        token: null,
        ip: '127.0.0.1',
        action: 'read',
        stream: 'cam1',
        protocol: 'http',
      },
    ]);
    hookAnswer = 403;
    expect(await status(`${base}/streams/cam2/snapshot.jpg`, auth)).toBe(401);
  }, 30_000);

  it('what the hook allows is no failed login: more admissions than failedLogins.max from one address', async () => {
    hookSaw.length = 0;
    hookAnswer = 204;
    const { base, port } = await start({
      http: { url: url(), cache: 30 },
      failedLogins: { max: 3, per: 60 },
    });
    const bearer = { Authorization: 'Bearer a-token-only-the-hook-knows' };
    for (let i = 0; i < 6; i++) expect(await status(`${base}/streams/cam1/snapshot.jpg`, bearer)).toBe(200);
    expect(await nativeRead(port, 'cam1', 'a-token-only-the-hook-knows')).toBe('frames');
    // Once by HTTP, once by native: the rest from its cache.
    expect(hookSaw.map((x) => x['protocol'])).toEqual(['http', 'native']);
  }, 30_000);

  it('a hook that hangs refuses at its timeout, and a viewer already admitted keeps its frames', async () => {
    hookAnswer = 204;
    const { base } = await start({ http: { url: url(), timeout: 1, cache: 0 } });
    const auth = { Authorization: `Basic ${Buffer.from('hooked:pw').toString('base64')}` };
    // A viewer the hook admitted watches while the hook later hangs.
    const ac = new AbortController();
    const res = await fetch(`${base}/streams/cam1/stream.mjpg`, { headers: auth, signal: ac.signal });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let bytes = 0;
    const pump = (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        bytes += value?.length ?? 0;
      }
    })();
    hookAnswer = 'hang';
    const t0 = Date.now();
    expect(await status(`${base}/streams/cam2/snapshot.jpg`, auth)).toBe(401);
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(4000);
    const before = bytes;
    await until(() => bytes > before + 5000, 5000, 'the admitted viewer goes on');
    ac.abort();
    await pump;
  }, 30_000);
});

const available = natsOrFail();
const rig = busRig();

describe.skipIf(!available)('users on an edge, from its own config', () => {
  it("the edge applies its auth: section; the origin's stays as it is", async () => {
    rig.nats = await startNats();
    rig.origin = await serve({
      port: 0,
      httpPort: 0,
      streams: [{ name: 'cam1', source: 'test', width: 160, fps: 10 }],
      bus: { url: rig.nats.url },
    });
    const auth = parseAuthSettings(
      {
        users: { eve: { password: await hashPassword('eve-pw', 10), permissions: [{ action: 'read' }] } },
        jwt: JWT_AUTH.jwt,
      },
      dir,
    );
    const e = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: 0, auth });
    rig.edges.push(e);
    const eb = `http://127.0.0.1:${e.server.httpAddress()?.port}`;
    const ep = e.server.address().port;
    const basic = { Authorization: `Basic ${Buffer.from('eve:eve-pw').toString('base64')}` };
    expect(await status(`${eb}/streams/cam1/snapshot.jpg`)).toBe(401);
    expect(await status(`${eb}/streams/cam1/snapshot.jpg`, basic)).toBe(200);
    expect(await nativeRead(ep, 'cam1', 'eve:eve-pw')).toBe('frames');
    expect(await nativeRead(ep, 'cam1', '')).toBe(ErrorCode.TokenRequired);
    expect(await nativeRead(ep, 'cam1', await jwt(READ_CAM1))).toBe('frames');
    // The origin has no auth: open to everyone, as before.
    expect(await status(`${httpBase(rig.origin)}/streams/cam1/snapshot.jpg`)).toBe(200);
  }, 60_000);
});
