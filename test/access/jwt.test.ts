import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { JwtVerifier, looksLikeJwt, MAX_JWT_BYTES, type JwtSettings } from '../../src/access/jwt.js';

interface Pair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

async function pair(alg: string, kid: string): Promise<Pair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

const PERMS = [{ action: 'read', streams: ['cam*'] }, { action: 'playback' }];
const now = (): number => Math.floor(Date.now() / 1000);

function sign(
  key: Pair,
  opts: {
    alg?: string;
    claims?: Record<string, unknown>;
    exp?: number;
    nbf?: number;
    aud?: string;
    iss?: string;
  },
): Promise<string> {
  const claims = opts.claims ?? { framecast_permissions: PERMS };
  const j = new SignJWT(claims)
    .setProtectedHeader({ alg: opts.alg ?? 'ES256', kid: key.jwk.kid! })
    .setSubject('alice')
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? now() + 600);
  if (opts.nbf !== undefined) j.setNotBefore(opts.nbf);
  if (opts.aud !== undefined) j.setAudience(opts.aud);
  if (opts.iss !== undefined) j.setIssuer(opts.iss);
  return j.sign(key.privateKey);
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

let dir: string;
let es: Pair; // kid k1
let rs: Pair; // kid r1
let impostor: Pair; // kid k1 too: a key the server does not have
let fileSettings: JwtSettings;

beforeAll(async () => {
  es = await pair('ES256', 'k1');
  rs = await pair('RS256', 'r1');
  impostor = await pair('ES256', 'k1');
  dir = mkdtempSync(join(tmpdir(), 'fc-jwt-'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [es.jwk, rs.jwk] }));
  fileSettings = {
    jwks: { file: join(dir, 'jwks.json') },
    claim: 'framecast_permissions',
    clockToleranceSec: 30,
    audience: 'framecast',
    issuer: 'https://idp.example',
  };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.useRealTimers());

const good = { aud: 'framecast', iss: 'https://idp.example' };

describe('JwtVerifier with a JWKS file', () => {
  it('allows a good token with its permissions, subject and expiry', async () => {
    const exp = now() + 600;
    const r = await new JwtVerifier(fileSettings).verify(await sign(es, { ...good, exp }));
    expect(r).toEqual({
      ok: true,
      identity: {
        name: 'jwt:alice',
        permissions: [
          { action: 'read', streams: ['cam*'] },
          { action: 'playback', streams: [] },
        ],
      },
      expiresAt: exp * 1000,
    });
    const rsa = await new JwtVerifier(fileSettings).verify(await sign(rs, { ...good, alg: 'RS256' }));
    expect(rsa.ok).toBe(true);
  });

  it('refuses each bad token with its reason', async () => {
    const v = new JwtVerifier(fileSettings);
    const reason = async (token: Promise<string> | string): Promise<string> => {
      const r = await v.verify(await token);
      return r.ok ? 'ALLOWED' : r.reason;
    };
    const payload = { sub: 'alice', aud: 'framecast', iss: 'https://idp.example', exp: now() + 600 };
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...payload, framecast_permissions: PERMS })}.`;
    expect(await reason(none)).toBe('algorithm not allowed');
    // HS256 keyed with the public key's bytes (the classic RS/HS confusion) or any secret.
    const spki = new TextEncoder().encode(await exportSPKI(rs.publicKey));
    const hs = new SignJWT({ ...payload, framecast_permissions: PERMS }).setProtectedHeader({
      alg: 'HS256',
      kid: 'r1',
    });
    expect(await reason(hs.sign(spki))).toBe('algorithm not allowed');
    expect(await reason(hs.sign(new TextEncoder().encode('x'.repeat(32))))).toBe('algorithm not allowed');
    expect(await reason(sign(es, { ...good, exp: now() - 120 }))).toBe('expired');
    expect(await reason(sign(es, { ...good, nbf: now() + 120 }))).toBe('not yet valid');
    expect(await reason(sign(es, { ...good, aud: 'other' }))).toBe('wrong audience');
    expect(await reason(sign(es, { aud: 'framecast' }))).toBe('wrong issuer');
    expect(await reason(sign(es, { ...good, iss: 'https://evil.example' }))).toBe('wrong issuer');
    expect(await reason(sign(impostor, good))).toBe('bad signature');
    const stranger = await pair('ES256', 'k9');
    expect(await reason(sign(stranger, good))).toBe('unknown key');
    expect(
      await reason(sign(es, { ...good, claims: { framecast_permissions: [{ action: 'fly' }] } })),
    ).toMatch(/^bad claim framecast_permissions\[0\]\.action: must be one of read, /);
    expect(await reason(sign(es, { ...good, claims: { framecast_permissions: 'read' } }))).toMatch(
      /^bad claim framecast_permissions: /,
    );
    expect(await reason(sign(es, { ...good, claims: { perms: PERMS } }))).toBe(
      'missing claim framecast_permissions',
    );
    expect(await reason('not.a.jwt')).toBe('malformed');
    expect(await reason('x'.repeat(MAX_JWT_BYTES + 1))).toBe('too long');
  });

  it('accepts a token expired within the clock tolerance, not beyond it', async () => {
    const v = new JwtVerifier(fileSettings);
    expect((await v.verify(await sign(es, { ...good, exp: now() - 10 }))).ok).toBe(true);
    expect((await v.verify(await sign(es, { ...good, nbf: now() + 10 }))).ok).toBe(true);
    const strict = new JwtVerifier({ ...fileSettings, clockToleranceSec: 0 });
    expect(await strict.verify(await sign(es, { ...good, exp: now() - 10 }))).toEqual({
      ok: false,
      reason: 'expired',
    });
  });

  it('refuses an algorithm outside the configured list', async () => {
    const v = new JwtVerifier({ ...fileSettings, algorithms: ['ES256'] });
    expect(await v.verify(await sign(rs, { ...good, alg: 'RS256' }))).toEqual({
      ok: false,
      reason: 'algorithm not allowed',
    });
    expect(() => new JwtVerifier({ ...fileSettings, algorithms: ['HS256'] })).toThrow(RangeError);
    expect(() => new JwtVerifier({ ...fileSettings, algorithms: ['none'] })).toThrow(RangeError);
  });

  it('names subject-less tokens jwt and caps long subjects', async () => {
    const v = new JwtVerifier(fileSettings);
    const anon = await new SignJWT({ framecast_permissions: PERMS, ...good })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .sign(es.privateKey);
    const r = await v.verify(anon);
    expect(r.ok && r.identity.name).toBe('jwt');
    expect(r.ok && r.expiresAt).toBe(null);
    const long = await new SignJWT({ framecast_permissions: PERMS, ...good, sub: 'a'.repeat(500) })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .sign(es.privateKey);
    const l = await v.verify(long);
    expect(l.ok && l.identity.name).toBe(`jwt:${'a'.repeat(64)}`);
  });

  it('re-reads the file when it changes (after the check interval)', async () => {
    const path = join(dir, 'rot.json');
    writeFileSync(path, JSON.stringify({ keys: [es.jwk] }));
    const v = new JwtVerifier({ ...fileSettings, jwks: { file: path } });
    const k2 = await pair('ES256', 'k2');
    const token = await sign(k2, good);
    expect(await v.verify(token)).toEqual({ ok: false, reason: 'unknown key' });
    writeFileSync(path, JSON.stringify({ keys: [es.jwk, k2.jwk] }));
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 5000 });
    const fresh = await sign(k2, { ...good, exp: now() + 600 });
    expect((await v.verify(fresh)).ok).toBe(true);
    // A broken rewrite keeps the keys already read.
    writeFileSync(path, '{"keys": [');
    vi.setSystemTime(Date.now() + 5000);
    expect((await v.verify(await sign(k2, { ...good, exp: now() + 600 }))).ok).toBe(true);
  });

  it('throws one clear line for an unusable file', () => {
    expect(() => new JwtVerifier({ ...fileSettings, jwks: { file: join(dir, 'nope.json') } })).toThrow(
      /^jwks file .*nope\.json: no such file$/,
    );
    writeFileSync(join(dir, 'bad.json'), '{"keys": 3}');
    expect(() => new JwtVerifier({ ...fileSettings, jwks: { file: join(dir, 'bad.json') } })).toThrow(
      /bad\.json: not a JSON Web Key Set$/,
    );
  });

  it('looksLikeJwt tells JWT shapes from other tokens', async () => {
    expect(looksLikeJwt(await sign(es, good))).toBe(true);
    expect(looksLikeJwt(`${b64({ alg: 'none' })}.${b64({})}.`)).toBe(true);
    expect(looksLikeJwt('s3cret-token')).toBe(false);
    expect(looksLikeJwt('fcl1.abc.def')).toBe(false);
    expect(looksLikeJwt(`${b64({ typ: 'JWT' })}.${b64({})}.sig`)).toBe(false);
  });
});

describe('JwtVerifier with a remote JWKS', () => {
  let server: Server;
  let jwks: { keys: JWK[] };
  let status = 200;
  let big = false;
  let fetches = 0;
  let url: string;

  beforeAll(async () => {
    jwks = { keys: [es.jwk] };
    server = createServer((_req, res) => {
      fetches++;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(big ? { ...jwks, pad: 'x'.repeat(1100 * 1024) } : jwks));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('verifies with fetched keys, caches them, and picks up a rotated key by its new kid', async () => {
    jwks = { keys: [es.jwk] };
    fetches = 0;
    const v = new JwtVerifier({ ...fileSettings, jwks: { url }, refreshCooldownSec: 0 });
    expect((await v.verify(await sign(es, good))).ok).toBe(true);
    expect((await v.verify(await sign(es, good))).ok).toBe(true);
    expect(fetches).toBe(1);
    const k2 = await pair('ES256', 'k2');
    jwks = { keys: [es.jwk, k2.jwk] };
    const r = await v.verify(await sign(k2, good));
    expect(r.ok && r.identity.name).toBe('jwt:alice');
    expect(fetches).toBe(2);
  });

  it('refetches for an unknown kid at most once per cooldown', async () => {
    jwks = { keys: [es.jwk] };
    fetches = 0;
    const v = new JwtVerifier({ ...fileSettings, jwks: { url } });
    expect((await v.verify(await sign(es, good))).ok).toBe(true);
    const stranger = await pair('ES256', 'zz');
    for (let i = 0; i < 5; i++)
      expect(await v.verify(await sign(stranger, good))).toEqual({ ok: false, reason: 'unknown key' });
    expect(fetches).toBe(1);
  });

  it('refuses with keys unavailable when the provider fails', async () => {
    status = 500;
    try {
      const v = new JwtVerifier({ ...fileSettings, jwks: { url } });
      expect(await v.verify(await sign(es, good))).toEqual({ ok: false, reason: 'keys unavailable' });
    } finally {
      status = 200;
    }
    expect(() => new JwtVerifier({ ...fileSettings, jwks: { url: 'file:///etc/jwks' } })).toThrow(TypeError);
  });

  it('refuses a JWKS answer over 1 MiB', async () => {
    big = true;
    try {
      const v = new JwtVerifier({ ...fileSettings, jwks: { url } });
      expect(await v.verify(await sign(es, good))).toEqual({ ok: false, reason: 'keys unavailable' });
    } finally {
      big = false;
    }
  });
});
