/**
 * Access.authorize with an `auth:` section: users, anonymous, address ranges, tokens that keep
 * working, verifiers (JWT, links), the HTTP hook, failed logins per address. Decisions only, no sockets.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Access, type AccessRequest, type Action, type Guarded } from '../../src/access/access.js';
import { AuthSettingsError, parseAuthSettings, type AuthSettings } from '../../src/access/auth-settings.js';
import { LoginLimiter } from '../../src/access/login-limiter.js';
import { hashPassword, parsePasswordHash, verifyPassword } from '../../src/access/password.js';
import { parsePermissions, permits, streamMatches } from '../../src/access/permissions.js';

let HASH = '';
beforeAll(async () => {
  HASH = await hashPassword('pw', 10);
});

const cam: Guarded = { name: 'cam1', readToken: null };
const locked: Guarded = { name: 'cam2', readToken: 'stream-read', publishToken: 'stream-pub' };

function settings(extra: Record<string, unknown> = {}): AuthSettings {
  return parseAuthSettings(
    {
      users: {
        alice: { password: HASH, permissions: [{ action: 'read', streams: 'cam*' }] },
        lan: { password: HASH, ips: ['192.168.0.0/16', '::1'], permissions: [{ action: 'read' }] },
        ops: { password: HASH, permissions: [{ action: 'api' }] },
      },
      ...extra,
    },
    '/etc/framecast',
  );
}

function req(
  action: Action,
  stream: Guarded | null,
  creds: { token?: string; user?: string; password?: string } = {},
  ip = '127.0.0.1',
  name: string | null = stream?.name ?? null,
): AccessRequest {
  return {
    action,
    name,
    stream,
    credentials: { token: creds.token ?? null, user: creds.user ?? null, password: creds.password ?? null },
    ip,
    protocol: 'http',
  };
}

const say = async (a: Access, r: AccessRequest): Promise<string> => {
  const d = await a.authorize(r);
  return d.allowed ? 'allowed' : d.refusal;
};

describe('permissions', () => {
  it('globs match whole names with * and ?, nothing else is special', () => {
    expect(streamMatches(['cam*'], 'cam12')).toBe(true);
    expect(streamMatches(['cam*'], 'xcam1')).toBe(false);
    expect(streamMatches(['cam?'], 'cam1')).toBe(true);
    expect(streamMatches(['cam?'], 'cam12')).toBe(false);
    expect(streamMatches(['a.b'], 'axb')).toBe(false);
    expect(streamMatches([], 'anything')).toBe(true);
  });

  it('a permission on some streams does not cover a server-wide action; * does', () => {
    const some = parsePermissions([{ action: 'metrics', streams: 'cam*' }], 'p');
    expect(permits(some, 'metrics', null)).toBe(false);
    const all = parsePermissions([{ action: 'metrics', streams: '*' }], 'p');
    expect(permits(all, 'metrics', null)).toBe(true);
    expect(permits(all, 'read', 'cam1')).toBe(false);
  });

  it('refuses bad lists with the path of the bad part', () => {
    expect(() => parsePermissions([{ action: 'fly' }], 'x')).toThrow(/x\[0\]\.action: must be one of read/);
    expect(() => parsePermissions([{ action: 'read', streams: ['a/b'] }], 'x')).toThrow(
      /x\[0\]\.streams\[0\]/,
    );
    expect(() => parsePermissions([{ action: 'read', who: 1 }], 'x')).toThrow(/x\[0\]\.who: unknown field/);
    expect(() => parsePermissions({}, 'x')).toThrow(/x: must be a list/);
    expect(() => parsePermissions(Array(257).fill({ action: 'read' }), 'x')).toThrow(/at most 256/);
  });
});

describe('passwords', () => {
  it('hash and verify: the right password only; the hash string is checked with its ranges', async () => {
    const p = parsePasswordHash(HASH);
    if (typeof p === 'string') throw new Error(p);
    expect(await verifyPassword(p, 'pw')).toBe(true);
    expect(await verifyPassword(p, 'pw ')).toBe(false);
    expect(parsePasswordHash('pw')).toMatch(/framecast hash-password/);
    expect(parsePasswordHash(HASH.replace('ln=10', 'ln=30'))).toMatch(/ln must be from 10 to 20/);
    expect(parsePasswordHash(HASH.replace('r=8', 'r=0'))).toMatch(/r must be/);
  });
});

describe('auth settings', () => {
  it('errors name the field: a plain password, a bad range, an unknown key, a short link secret', () => {
    const bad = (v: unknown): string => {
      try {
        parseAuthSettings(v, '/');
        return 'ok';
      } catch (err) {
        expect(err).toBeInstanceOf(AuthSettingsError);
        return (err as Error).message;
      }
    };
    expect(bad({ users: { al: { password: 'hunter2' } } })).toMatch(
      /^auth\.users\.al\.password: must be a hash/,
    );
    expect(bad({ users: { al: { password: HASH, ips: ['10.0.0.0/33'] } } })).toMatch(
      /auth\.users\.al\.ips\[0\]/,
    );
    expect(bad({ users: { 'a b': { password: HASH } } })).toMatch(/a user name is/);
    expect(bad({ nope: 1 })).toMatch(/^auth\.nope: unknown setting/);
    expect(bad({ linkSecret: 'short' })).toMatch(/at least 32 bytes/);
    expect(bad({ jwt: { jwks: 'ftp://x' } })).toMatch(/auth\.jwt\.jwks: must be an http/);
    expect(bad({ jwt: { issuer: 'x' } })).toMatch(/exactly one of jwks/);
    // The secret is never echoed.
    expect(bad({ linkSecret: 'short-secret-value' })).not.toContain('short-secret-value');
  });

  it('defaults: a JWKS file resolved against the config directory, the claim, the hook times', () => {
    const s = parseAuthSettings(
      { jwt: { jwksFile: 'keys.json' }, http: { url: 'http://127.0.0.1:1/auth' } },
      '/etc/fc',
    );
    expect(s.jwt).toEqual({
      jwks: { file: '/etc/fc/keys.json' },
      claim: 'framecast_permissions',
      clockToleranceSec: 30,
    });
    expect(s.http).toEqual({ url: 'http://127.0.0.1:1/auth', timeoutMs: 2000, cacheMs: 5000 });
    expect(s.failedLogins).toEqual({ max: 10, perMs: 60_000 });
  });
});

describe('Access.authorize with users', () => {
  it('a user reads what their patterns name; other streams are forbidden; no login is token-required', async () => {
    const a = new Access({ token: null, auth: settings() });
    expect(await say(a, req('read', cam, { user: 'alice', password: 'pw' }))).toBe('allowed');
    expect(
      await say(a, req('read', { name: 'lobby', readToken: null }, { user: 'alice', password: 'pw' })),
    ).toBe('forbidden');
    expect(await say(a, req('publish', cam, { user: 'alice', password: 'pw' }))).toBe('forbidden');
    expect(await say(a, req('read', cam, { user: 'alice', password: 'bad' }))).toBe('token-invalid');
    expect(await say(a, req('read', cam, { user: 'nobody', password: 'pw' }))).toBe('token-invalid');
    // With auth:, a stream without tokens is no longer open to everyone: anonymous has no permissions.
    expect(await say(a, req('read', cam))).toBe('token-required');
  });

  it('USER:PASSWORD as a token (the native hello) is a login', async () => {
    const a = new Access({ token: null, auth: settings() });
    expect(await say(a, req('read', cam, { token: 'alice:pw' }))).toBe('allowed');
    expect(await say(a, req('read', cam, { token: 'alice:pw2' }))).toBe('token-invalid');
    expect(await say(a, req('read', cam, { token: 'not-a-user:pw' }))).toBe('token-invalid');
  });

  it("address ranges: a user's permissions hold only from them (IPv4, IPv6, v4-mapped)", async () => {
    const a = new Access({ token: null, auth: settings() });
    const lan = { user: 'lan', password: 'pw' };
    expect(await say(a, req('read', cam, lan, '192.168.3.4'))).toBe('allowed');
    expect(await say(a, req('read', cam, lan, '::ffff:192.168.3.4'))).toBe('allowed');
    expect(await say(a, req('read', cam, lan, '::1'))).toBe('allowed');
    expect(await say(a, req('read', cam, lan, '10.1.1.1'))).toBe('forbidden');
  });

  it('anonymous permissions, with their own address ranges', async () => {
    const a = new Access({
      token: null,
      auth: settings({ anonymous: { ips: ['127.0.0.0/8'], permissions: [{ action: 'metrics' }] } }),
    });
    expect(await say(a, req('metrics', null, {}, '127.0.0.1'))).toBe('allowed');
    expect(await say(a, req('metrics', null, {}, '10.0.0.1'))).toBe('token-required');
    expect(a.anonymousMay('read', cam, 'cam1', '127.0.0.1')).toBe(false);
  });

  it("today's tokens keep opening what they opened", async () => {
    const a = new Access({ token: 'server', adminToken: 'admin', auth: settings() });
    expect(await say(a, req('read', locked, { token: 'stream-read' }))).toBe('allowed');
    expect(await say(a, req('playback', locked, { token: 'stream-read' }))).toBe('allowed');
    expect(await say(a, req('publish', locked, { token: 'stream-pub' }))).toBe('allowed');
    expect(await say(a, req('publish', locked, { token: 'stream-read' }))).toBe('token-invalid');
    expect(await say(a, req('read', cam, { token: 'server' }))).toBe('allowed');
    expect(await say(a, req('metrics', null, { token: 'server' }))).toBe('allowed');
    expect(await say(a, req('admin', null, { token: 'admin' }, '127.0.0.1', 'x'))).toBe('allowed');
    expect(await say(a, req('admin', null, { token: 'server' }, '127.0.0.1', 'x'))).toBe('token-invalid');
    expect(await say(a, req('read', null, { token: 'server' }, '127.0.0.1', 'nosuch'))).toBe(
      'unknown-stream',
    );
  });

  it('api covers writing a stream (admin), operating it and recording it; metrics is its own', async () => {
    const a = new Access({ token: null, auth: settings() });
    const ops = { user: 'ops', password: 'pw' };
    expect(await say(a, req('admin', null, ops, '127.0.0.1', 'new'))).toBe('allowed');
    expect(await say(a, req('operate', cam, ops))).toBe('allowed');
    expect(await say(a, req('record', cam, ops))).toBe('allowed');
    expect(await say(a, req('api', null, ops))).toBe('allowed');
    expect(await say(a, req('metrics', null, ops))).toBe('forbidden');
    expect(await say(a, req('read', cam, ops))).toBe('forbidden');
  });

  it('verifiers: a token they know is an identity; one they refuse is token-invalid', async () => {
    const a = new Access({
      token: null,
      auth: settings(),
      verifiers: [
        {
          identify: (t) =>
            Promise.resolve(
              t === 'good.jwt'
                ? {
                    ok: true,
                    identity: { name: 'jwt:x', permissions: [{ action: 'read', streams: ['cam1'] }] },
                  }
                : t === 'bad.jwt'
                  ? { ok: false, reason: 'expired' }
                  : null,
            ),
        },
      ],
    });
    expect(await say(a, req('read', cam, { token: 'good.jwt' }))).toBe('allowed');
    expect(await say(a, req('publish', cam, { token: 'good.jwt' }))).toBe('forbidden');
    expect(await say(a, req('read', cam, { token: 'bad.jwt' }))).toBe('token-invalid');
  });

  it('the HTTP hook is asked last, with the request as it came, and can allow', async () => {
    const asked: unknown[] = [];
    const a = new Access({
      token: null,
      auth: settings(),
      hook: {
        ask: (r) => {
          asked.push(r);
          return Promise.resolve(r.user === 'hooked');
        },
      },
    });
    expect(await say(a, req('read', cam, { user: 'hooked', password: 'x' }))).toBe('allowed');
    expect(await say(a, req('read', cam, { user: 'alice', password: 'pw' }))).toBe('allowed');
    expect(asked).toEqual([
      {
        user: 'hooked',
        password: 'x',
        token: null,
        ip: '127.0.0.1',
        action: 'read',
        stream: 'cam1',
        protocol: 'http',
      },
    ]);
    expect(await say(a, req('publish', cam, { user: 'alice', password: 'pw' }))).toBe('forbidden');
  });

  it('failed logins from one address are limited; others and anonymous requests go on', async () => {
    const lines: string[] = [];
    const a = new Access({
      token: null,
      auth: settings({ failedLogins: { max: 3, per: 60 }, anonymous: { permissions: [{ action: 'read' }] } }),
      log: (ip, line) => lines.push(`${ip} ${line}`),
    });
    for (let i = 0; i < 3; i++)
      expect(await say(a, req('read', cam, { user: 'alice', password: `guess${i}` }))).toBe('token-invalid');
    // The right password no longer helps from that address, for a while; it is not even checked.
    expect(await say(a, req('read', cam, { user: 'alice', password: 'pw' }))).toBe('rate-limited');
    expect(await say(a, req('read', cam, { token: 'anything' }))).toBe('rate-limited');
    expect(a.retryAfterSec('127.0.0.1')).toBeGreaterThan(0);
    expect(await say(a, req('read', cam, { user: 'alice', password: 'pw' }, '10.0.0.2'))).toBe('allowed');
    expect(await say(a, req('read', cam))).toBe('allowed');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^127\.0\.0\.1 login failed \(http, read cam1\): user "alice"$/);
    expect(lines.join('\n')).not.toContain('guess');
  });
});

describe('LoginLimiter', () => {
  it('forgives one failure per perMs/max', () => {
    const l = new LoginLimiter(2, 1000);
    l.failed('a', 0);
    l.failed('a', 0);
    expect(l.blocked('a', 0)).toBe(true);
    expect(l.retryAfterMs('a', 0)).toBe(500);
    expect(l.blocked('a', 499)).toBe(true);
    expect(l.blocked('a', 501)).toBe(false);
    expect(l.blocked('b', 0)).toBe(false);
    expect(l.blockedTotal).toBe(2);
  });

  it('forgets the oldest address beyond its bound', () => {
    const l = new LoginLimiter(1, 60_000, 2);
    l.failed('a', 0);
    l.failed('b', 0);
    l.failed('c', 0);
    expect(l.blocked('a', 0)).toBe(false);
    expect(l.blocked('c', 0)).toBe(true);
  });
});
