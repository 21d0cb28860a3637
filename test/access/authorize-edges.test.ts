/**
 * Access.authorize at its edges (what mutation testing found untested): each action as its
 * permission and as the hook hears it, the server's tokens with `auth:`, verifiers in turn, the
 * verified-password cache, the wait told to a rate-limited client, `record` without `auth:`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Access,
  type AccessRequest,
  type Action,
  type Guarded,
  type TokenVerifier,
} from '../../src/access/access.js';
import { parseAuthSettings, type AuthSettings } from '../../src/access/auth-settings.js';
import { hashPassword } from '../../src/access/password.js';
import type { PermissionAction } from '../../src/access/permissions.js';

let HASH = '';
let SLOW = '';
beforeAll(async () => {
  HASH = await hashPassword('pw', 10);
  SLOW = await hashPassword('pw', 14);
});

const cam: Guarded = { name: 'cam1', readToken: null };
const tokened: Guarded = { name: 'cam2', readToken: 'r2', publishToken: 'p2', annotateToken: 'a2' };

function auth(users: Record<string, PermissionAction[]>, hash = HASH, extra = {}): AuthSettings {
  const u: Record<string, unknown> = {};
  for (const [name, actions] of Object.entries(users))
    u[name] = { password: hash, permissions: actions.map((action) => ({ action })) };
  return parseAuthSettings({ users: u, ...extra }, '/etc/framecast');
}

function req(
  action: Action,
  stream: Guarded | null,
  creds: { token?: string; user?: string; password?: string } = {},
  ip = '127.0.0.1',
): AccessRequest {
  return {
    action,
    name: stream?.name ?? 'nothing',
    stream,
    credentials: { token: creds.token ?? null, user: creds.user ?? null, password: creds.password ?? null },
    ip,
    protocol: 'native',
  };
}

const say = async (a: Access, r: AccessRequest): Promise<string> => {
  const d = await a.authorize(r);
  return d.allowed ? 'allowed' : d.refusal;
};

describe('each action is its own permission', () => {
  it('a user holding exactly one permission may do that action and no other', async () => {
    const perms: PermissionAction[] = ['read', 'playback', 'publish', 'annotate', 'record', 'api', 'metrics'];
    const users: Record<string, PermissionAction[]> = {};
    for (const p of perms) users[p] = [p];
    const a = new Access({ token: null, auth: auth(users) });
    const expected: Record<PermissionAction, Action[]> = {
      read: ['read'],
      playback: ['playback'],
      publish: ['publish'],
      // An analyzer watches (and plays back) what it annotates.
      annotate: ['annotate', 'read', 'playback'],
      record: ['record'],
      // `api` on a stream covers recording it and operating it; server-wide, the API and admin.
      api: ['api', 'admin', 'operate', 'record'],
      metrics: ['metrics'],
    };
    const actions: Action[] = [
      'read',
      'playback',
      'publish',
      'annotate',
      'record',
      'operate',
      'metrics',
      'api',
      'admin',
    ];
    for (const p of perms)
      for (const action of actions) {
        const stream = action === 'metrics' || action === 'api' || action === 'admin' ? null : cam;
        const got = await say(a, {
          ...req(action, stream, { user: p, password: 'pw' }),
          name: stream?.name ?? null,
        });
        expect(`${p} ${action} ${got}`).toBe(
          `${p} ${action} ${expected[p].includes(action) ? 'allowed' : 'forbidden'}`,
        );
      }
  });

  it('the hook hears the permission asked: operate and admin are `api`', async () => {
    const heard: string[] = [];
    const a = new Access({
      token: null,
      auth: auth({}),
      hook: { ask: (r) => (heard.push(`${r.action} ${r.protocol} ${r.stream}`), Promise.resolve(false)) },
    });
    for (const action of ['read', 'playback', 'publish', 'annotate', 'record', 'operate', 'admin'] as const)
      expect(await say(a, req(action, cam))).toBe('token-required');
    expect(heard).toEqual([
      'read native cam1',
      'playback native cam1',
      'publish native cam1',
      'annotate native cam1',
      'record native cam1',
      'api native cam1',
      'api native cam1',
    ]);
  });
});

describe("the server's tokens with auth:", () => {
  const a = (): Access => new Access({ token: 'server', adminToken: 'admin', auth: auth({}) });

  it('the admin token records, operates and administers; it reads nothing', async () => {
    for (const action of ['record', 'operate'] as const)
      expect(await say(a(), req(action, cam, { token: 'admin' }))).toBe('allowed');
    expect(await say(a(), { ...req('admin', null, { token: 'admin' }), name: 'new' })).toBe('allowed');
    expect(await say(a(), req('read', cam, { token: 'admin' }))).toBe('token-invalid');
    expect(await say(a(), req('record', null, { token: 'admin' }))).toBe('unknown-stream');
  });

  it("the server's token opens all but admin and record; on no stream, it is told so", async () => {
    for (const action of ['read', 'playback', 'publish', 'annotate', 'operate'] as const)
      expect(await say(a(), req(action, cam, { token: 'server' }))).toBe('allowed');
    expect(await say(a(), { ...req('metrics', null, { token: 'server' }), name: null })).toBe('allowed');
    expect(await say(a(), req('read', null, { token: 'server' }))).toBe('unknown-stream');
    expect(await say(a(), req('admin', null, { token: 'server' }))).toBe('token-invalid');
    expect(await say(a(), req('record', cam, { token: 'server' }))).toBe('token-invalid');
  });

  it("a stream's tokens open their own actions on their own stream only", async () => {
    const b = new Access({ token: null, auth: auth({}) });
    expect(await say(b, req('read', tokened, { token: 'r2' }))).toBe('allowed');
    expect(await say(b, req('playback', tokened, { token: 'a2' }))).toBe('allowed');
    expect(await say(b, req('annotate', tokened, { token: 'a2' }))).toBe('allowed');
    expect(await say(b, req('annotate', tokened, { token: 'r2' }))).toBe('token-invalid');
    expect(await say(b, req('publish', tokened, { token: 'p2' }))).toBe('allowed');
    expect(await say(b, req('publish', tokened, { token: 'a2' }))).toBe('token-invalid');
    expect(await say(b, req('read', tokened, { token: 'p2' }))).toBe('token-invalid');
    expect(await say(b, req('operate', tokened, { token: 'r2' }))).toBe('token-invalid');
    expect(await say(b, req('read', null, { token: 'r2' }))).toBe('token-invalid');
  });

  it('a real token asked beyond what it opens is refused, but is no failed login (never counted nor logged)', async () => {
    const lines: string[] = [];
    const b = new Access({
      token: 'server',
      adminToken: 'admin',
      auth: auth({}, HASH, { failedLogins: { max: 1, per: 60 } }),
      log: (_ip, l) => lines.push(l),
    });
    for (const t of ['r2', 'p2', 'a2'])
      expect(await say(b, req('operate', tokened, { token: t }))).toBe('token-invalid');
    expect(await say(b, req('record', tokened, { token: 'server' }))).toBe('token-invalid');
    expect(await say(b, req('read', tokened, { token: 'admin' }))).toBe('token-invalid');
    expect(await say(b, req('read', tokened, { token: 'r2' }))).toBe('allowed');
    expect(lines).toEqual([]);
    expect(await say(b, req('operate', tokened, { token: 'guess' }))).toBe('token-invalid');
    expect(await say(b, req('read', tokened, { token: 'r2' }))).toBe('rate-limited');
  });

  it('anonymous may not do, on a stream with its own token for the action, what it may elsewhere', async () => {
    const all = parseAuthSettings(
      {
        anonymous: { permissions: ['read', 'playback', 'annotate', 'publish'].map((action) => ({ action })) },
      },
      '/etc/framecast',
    );
    const b = new Access({ token: null, auth: all });
    const only = (t: Partial<Guarded>): Guarded => ({ name: 'cam3', readToken: null, ...t });
    const table: [Action, Partial<Guarded>, string][] = [
      ['read', {}, 'allowed'],
      ['read', { readToken: 'r' }, 'token-required'],
      ['read', { publishToken: 'p', annotateToken: 'a' }, 'allowed'],
      ['playback', { readToken: 'r' }, 'token-required'],
      ['annotate', {}, 'allowed'],
      ['annotate', { readToken: 'r' }, 'token-required'],
      ['annotate', { annotateToken: 'a' }, 'token-required'],
      ['annotate', { publishToken: 'p' }, 'allowed'],
      ['publish', {}, 'allowed'],
      ['publish', { publishToken: 'p' }, 'token-required'],
      ['publish', { readToken: 'r', annotateToken: 'a' }, 'allowed'],
    ];
    for (const [action, t, expected] of table)
      expect(`${action} ${JSON.stringify(t)} ${await say(b, req(action, only(t)))}`).toBe(
        `${action} ${JSON.stringify(t)} ${expected}`,
      );
    expect(await say(b, { ...req('read', null), name: 'gone' })).toBe('unknown-stream');
  });

  it('an empty token is no token: required, not wrong, and never counted', async () => {
    const b = new Access({ token: null, auth: auth({}, HASH, { failedLogins: { max: 1, per: 60 } }) });
    for (let i = 0; i < 3; i++) expect(await say(b, req('read', cam, { token: '' }))).toBe('token-required');
    expect(b.rateLimited).toBe(0);
  });
});

describe('logins', () => {
  it('verifiers are asked in turn; the first that knows the token decides', async () => {
    const lines: string[] = [];
    const none: TokenVerifier = { identify: () => Promise.resolve(null) };
    const links: TokenVerifier = {
      identify: (t) =>
        Promise.resolve(
          t === 'link-ok'
            ? { ok: true, identity: { name: 'link', permissions: [{ action: 'read', streams: [] }] } }
            : t.startsWith('link')
              ? { ok: false, reason: 'expired' }
              : null,
        ),
    };
    const a = new Access({
      token: null,
      auth: auth({}),
      verifiers: [none, links],
      log: (_ip, l) => lines.push(l),
    });
    expect(await say(a, req('read', cam, { token: 'link-ok' }))).toBe('allowed');
    expect(await say(a, { ...req('read', cam, { token: 'link-ok' }), ip: '10.1.1.1' })).toBe('allowed');
    expect(await say(a, req('publish', cam, { token: 'link-ok' }))).toBe('forbidden');
    expect(await say(a, req('read', cam, { token: 'link-old' }))).toBe('token-invalid');
    expect(await say(a, req('read', cam, { token: ':pw' }))).toBe('token-invalid');
    expect(lines).toEqual([
      'login failed (native, read cam1): a token (expired)',
      'login failed (native, read cam1): a token matching nothing',
    ]);
  });

  it('USER:PASSWORD in a token logs in that user; a wrong one names the user, never the password', async () => {
    const lines: string[] = [];
    const a = new Access({ token: null, auth: auth({ bob: ['read'] }), log: (_ip, l) => lines.push(l) });
    expect(await say(a, req('read', cam, { token: 'bob:pw' }))).toBe('allowed');
    expect(await say(a, req('read', cam, { token: 'bob:nope' }))).toBe('token-invalid');
    expect(await say(a, req('read', cam, { token: 'eve:pw' }))).toBe('token-invalid');
    expect(lines).toEqual([
      'login failed (native, read cam1): user "bob"',
      'login failed (native, read cam1): a token matching nothing',
    ]);
  });

  it('a right password is remembered: the next login skips scrypt; a wrong one is not', async () => {
    const a = new Access({ token: null, auth: auth({ bob: ['read'] }, SLOW) });
    const time = async (password: string, expected: string): Promise<number> => {
      const t0 = performance.now();
      expect(await say(a, req('read', cam, { user: 'bob', password }))).toBe(expected);
      return performance.now() - t0;
    };
    const first = await time('pw', 'allowed');
    expect(first).toBeGreaterThan(5);
    const again = Math.min(await time('pw', 'allowed'), await time('pw', 'allowed'));
    expect(again).toBeLessThan(first / 5);
    const wrong = await time('px', 'token-invalid');
    expect(wrong).toBeGreaterThan(again * 5);
  });

  it('a rate-limited client is told how long to wait; a server without auth: says 1 s', async () => {
    const a = new Access({
      token: null,
      auth: auth({ bob: ['read'] }, HASH, { failedLogins: { max: 2, per: 60 } }),
    });
    expect(a.retryAfterSec('127.0.0.1')).toBe(1);
    for (let i = 0; i < 2; i++)
      expect(await say(a, req('read', cam, { user: 'bob', password: 'x' }))).toBe('token-invalid');
    expect(await say(a, req('read', cam, { user: 'bob', password: 'pw' }))).toBe('rate-limited');
    const wait = a.retryAfterSec('127.0.0.1');
    expect(wait).toBeGreaterThanOrEqual(29);
    expect(wait).toBeLessThanOrEqual(30);
    expect(a.rateLimited).toBe(1);
    expect(new Access({ token: null }).retryAfterSec('127.0.0.1')).toBe(1);
    expect(new Access({ token: null }).rateLimited).toBe(0);
  });
});

describe('without auth:', () => {
  it('what the server offers: logins and API writes', () => {
    expect(new Access({ token: null }).loginsEnabled).toBe(false);
    expect(new Access({ token: null, auth: auth({}) }).loginsEnabled).toBe(true);
    expect(new Access({ token: null }).adminEnabled).toBe(false);
    expect(new Access({ token: null, adminToken: 'x' }).adminEnabled).toBe(true);
    expect(new Access({ token: null, auth: auth({}) }).adminEnabled).toBe(true);
  });

  it('record takes the admin token; without one it is disabled; an unknown name is told only to the server', () => {
    const say2 = (a: Access, s: Guarded | null, t: string | null): string => {
      const d = a.decide('record', s, t);
      return d.allowed ? 'allowed' : d.refusal;
    };
    expect(say2(new Access({ token: null }), cam, 'x')).toBe('disabled');
    const a = new Access({ token: 'server', adminToken: 'admin' });
    expect(say2(a, cam, 'admin')).toBe('allowed');
    expect(say2(a, null, 'admin')).toBe('allowed');
    expect(say2(a, cam, null)).toBe('token-required');
    expect(say2(a, cam, 'server')).toBe('token-invalid');
    expect(say2(a, null, 'server')).toBe('unknown-stream');
    expect(say2(a, null, 'other')).toBe('token-invalid');
  });

  it('seed clients: the token rules; with auth:, anonymous, and never a stream that is not there', () => {
    expect(new Access({ token: null }).anonymousMay('read', cam, 'cam1', '::1')).toBe(true);
    expect(new Access({ token: 'server' }).anonymousMay('read', cam, 'cam1', '::1')).toBe(false);
    const anon = parseAuthSettings({ anonymous: { permissions: [{ action: 'read' }] } }, '/etc/framecast');
    expect(new Access({ token: 'server', auth: anon }).anonymousMay('read', cam, 'cam1', '::1')).toBe(true);
    expect(new Access({ token: null, auth: anon }).anonymousMay('read', null, 'cam1', '::1')).toBe(false);
    expect(new Access({ token: null, auth: auth({}) }).anonymousMay('read', cam, 'cam1', '::1')).toBe(false);
  });
});
