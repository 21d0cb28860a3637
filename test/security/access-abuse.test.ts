/**
 * An attacker's probe of the failed-login limit and of what a login's timing tells (issue "Access
 * for a team", point 7 "Abuse"): guesses sent all at once, an IPv6 client rotating its own /64, a
 * v4-mapped address, users only the HTTP hook knows, unknown user names against known ones.
 * Decisions only (Access.authorize, as every transport asks it), no sockets.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Access, type AccessRequest, type AuthHookAsk, type Guarded } from '../../src/access/access.js';
import { parseAuthSettings } from '../../src/access/auth-settings.js';
import { hashPassword } from '../../src/access/password.js';

let FAST = '';
let SLOW = '';
beforeAll(async () => {
  FAST = await hashPassword('right', 10);
  SLOW = await hashPassword('right', 14);
});

const cam: Guarded = { name: 'cam1', readToken: null };

function access(max: number, hash = FAST, hook: AuthHookAsk['ask'] | null = null): Access {
  return new Access({
    token: null,
    auth: parseAuthSettings(
      {
        users: { alice: { password: hash, permissions: [{ action: 'read' }] } },
        failedLogins: { max, per: 3600 },
      },
      '/etc/framecast',
    ),
    hook: hook ? { ask: hook } : null,
  });
}

function login(user: string, password: string, ip = '127.0.0.1'): AccessRequest {
  return {
    action: 'read',
    name: 'cam1',
    stream: cam,
    credentials: { token: null, user, password },
    ip,
    protocol: 'http',
  };
}

const say = async (a: Access, r: AccessRequest): Promise<string> => {
  const d = await a.authorize(r);
  return d.allowed ? 'allowed' : d.refusal;
};

describe('the failed-login limit under attack', () => {
  it('guesses sent at once are counted at once: at most `max` are checked, the right one among them too late', async () => {
    const a = access(3);
    const guesses = Array.from({ length: 30 }, (_, i) => login('alice', i === 29 ? 'right' : `guess${i}`));
    const said = await Promise.all(guesses.map((g) => say(a, g)));
    expect(said.filter((s) => s === 'token-invalid').length).toBeLessThanOrEqual(3);
    expect(said.filter((s) => s === 'rate-limited').length).toBeGreaterThanOrEqual(27);
    // The right password, sent after 29 wrong ones from the same address, was never checked.
    expect(said[29]).toBe('rate-limited');
  });

  it('an IPv6 client cannot rotate the addresses of its own /64 to guess on', async () => {
    const a = access(3);
    for (let i = 1; i <= 3; i++)
      expect(await say(a, login('alice', 'x', `2001:db8:1:2::${i}`))).toBe('token-invalid');
    expect(await say(a, login('alice', 'right', '2001:db8:1:2:ffff:1:2:3'))).toBe('rate-limited');
    expect(await say(a, login('alice', 'right', '2001:0db8:0001:0002::abcd'))).toBe('rate-limited');
    // Another /64 is another client.
    expect(await say(a, login('alice', 'right', '2001:db8:1:3::1'))).toBe('allowed');
  });

  it('a v4-mapped address is its IPv4 address (a dual-stack socket gives either)', async () => {
    const a = access(2);
    expect(await say(a, login('alice', 'x', '192.0.2.7'))).toBe('token-invalid');
    expect(await say(a, login('alice', 'x', '::ffff:192.0.2.7'))).toBe('token-invalid');
    expect(await say(a, login('alice', 'right', '192.0.2.7'))).toBe('rate-limited');
    expect(await say(a, login('alice', 'right', '::ffff:192.0.2.7'))).toBe('rate-limited');
  });

  it('a user the hook knows logs in as often as it likes: an allowed login is no failure', async () => {
    const hook: AuthHookAsk['ask'] = (r) => Promise.resolve(r.user === 'carol' && r.password === 'hers');
    const a = access(3, FAST, hook);
    for (let i = 0; i < 10; i++) expect(await say(a, login('carol', 'hers'))).toBe('allowed');
    // Failures through the hook still count.
    for (let i = 0; i < 3; i++) expect(await say(a, login('carol', `no${i}`))).toBe('token-invalid');
    expect(await say(a, login('carol', 'hers'))).toBe('rate-limited');
  });
  it('a known login refused a permission is no failure: it never blocks its own address', async () => {
    const a = access(2);
    const publish = { ...login('alice', 'right'), action: 'publish' } as const;
    for (let i = 0; i < 5; i++) expect(await say(a, publish)).toBe('forbidden');
    expect(await say(a, { ...login('alice', 'right'), name: 'gone', stream: null })).toBe('unknown-stream');
    expect(await say(a, login('alice', 'x'))).toBe('token-invalid');
    expect(await say(a, login('alice', 'right'))).toBe('allowed');
  });
});

describe("what a login's timing tells", () => {
  it('an unknown user costs a password check as a known one does (no user enumeration by timing)', async () => {
    const a = access(100_000, SLOW);
    const time = async (user: string): Promise<number> => {
      const t0 = performance.now();
      expect(await say(a, login(user, `wrong-${Math.random()}`))).toBe('token-invalid');
      return performance.now() - t0;
    };
    const median = (xs: number[]): number =>
      [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i++) {
      known.push(await time('alice'));
      unknown.push(await time(`nobody${i}`));
    }
    // scrypt at ln=14 takes tens of milliseconds; a table look-up, microseconds.
    expect(median(known)).toBeGreaterThan(5);
    expect(median(unknown)).toBeGreaterThan(median(known) / 3);
  });

  it('over native, USER:PASSWORD with an unknown user also costs a password check', async () => {
    const a = access(100_000, SLOW);
    const time = async (token: string): Promise<number> => {
      const t0 = performance.now();
      const d = await a.authorize({ ...login('x', 'y'), credentials: { token, user: null, password: null } });
      expect(d).toEqual({ allowed: false, refusal: 'token-invalid' });
      return performance.now() - t0;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i++) {
      known.push(await time(`alice:wrong${i}`));
      unknown.push(await time(`nobody${i}:wrong`));
    }
    known.sort((x, y) => x - y);
    unknown.sort((x, y) => x - y);
    expect(known[2]).toBeGreaterThan(5);
    expect(unknown[2] as number).toBeGreaterThan((known[2] as number) / 3);
  });
});

describe('many logins at once', () => {
  it('password checks wait in a bounded line: beyond it a login is refused at once as rate-limited', async () => {
    const a = access(100_000);
    const said = await Promise.all(
      Array.from({ length: 400 }, (_, i) => say(a, login('alice', 'wrong', `10.0.${i >> 8}.${i & 255}`))),
    );
    const checked = said.filter((s) => s === 'token-invalid').length;
    // Two checks run at once, 256 wait; the rest are told to come back (HTTP 429, native ERROR 18).
    expect(checked).toBeLessThanOrEqual(2 + 256);
    expect(said.filter((s) => s === 'rate-limited').length).toBe(400 - checked);
    // The line drained: a login goes through again.
    expect(await say(a, login('alice', 'right', '10.9.9.9'))).toBe('allowed');
  });
});

describe('the failed-login log line', () => {
  it('a stream name from the request (/list?path=) cannot forge a second line or hold the secret', async () => {
    const lines: string[] = [];
    const a = new Access({
      token: null,
      auth: parseAuthSettings({ users: { alice: { password: FAST, permissions: [] } } }, '/etc/framecast'),
      log: (ip, line) => lines.push(`${ip} ${line}`),
    });
    const name = 'x\n127.0.0.1 admin logged in\r' + 'y'.repeat(300);
    await a.authorize({ ...login('alice', 'sekrit-pw'), name, stream: null });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/[\r\n]/);
    expect((lines[0] as string).length).toBeLessThan(200);
    expect(lines[0]).not.toContain('sekrit');
  });
});
