import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  AuthHook,
  HOOK_MAX_IN_FLIGHT,
  type AuthHookRequest,
  type AuthHookSettings,
} from '../../src/access/auth-hook.js';

interface Seen {
  method: string;
  contentType: string | undefined;
  body: string;
}

let server: Server;
let url: string;
let seen: Seen[];
/** What the test server does with each request (after reading its body). */
let reply: (res: ServerResponse, body: string) => void;
const held: ServerResponse[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', contentType: req.headers['content-type'], body });
      reply(res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => {
  seen = [];
  reply = (res) => res.writeHead(204).end();
});
afterEach(() => {
  vi.useRealTimers();
  for (const res of held.splice(0)) if (!res.writableEnded) res.writeHead(200).end();
});

const req: AuthHookRequest = {
  user: 'alice',
  password: 'pa55word',
  token: 'tok-123',
  ip: '127.0.0.1',
  action: 'read',
  stream: 'cam',
  protocol: 'http',
};
const settings = (more: Partial<AuthHookSettings> = {}): AuthHookSettings => ({
  url,
  timeoutMs: 2000,
  cacheMs: 0,
  ...more,
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('AuthHook', () => {
  it('POSTs the request as JSON, exactly the documented body', async () => {
    const hook = new AuthHook(settings());
    expect(await hook.ask({ ...req, stream: null, user: null, password: null })).toBe(true);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.method).toBe('POST');
    expect(seen[0]!.contentType).toBe('application/json');
    expect(seen[0]!.body).toBe(
      '{"user":null,"password":null,"token":"tok-123","ip":"127.0.0.1","action":"read","stream":null,"protocol":"http"}',
    );
  });

  it('allows on 200 and 204, refuses on 401, 403 and 500', async () => {
    for (const [status, allowed] of [
      [200, true],
      [204, true],
      [401, false],
      [403, false],
      [500, false],
    ] as const) {
      reply = (res) => res.writeHead(status).end('body');
      const hook = new AuthHook(settings());
      expect(await hook.ask(req), `status ${status}`).toBe(allowed);
    }
    expect(seen).toHaveLength(5);
  });

  it('refuses when the hook never answers, within timeoutMs', async () => {
    reply = (res) => held.push(res);
    const lines: string[] = [];
    const hook = new AuthHook(settings({ timeoutMs: 200 }), (l) => lines.push(l));
    const t0 = Date.now();
    expect(await hook.ask(req)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(200 + 1500);
    expect(hook.stats).toEqual({ asked: 1, cached: 0, allowed: 0, refused: 1, failed: 1 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^auth hook http:\/\/127\.0\.0\.1:\d+\/auth failed: no answer in 200 ms, refused read cam/,
    );
    expect(lines[0]).not.toContain('pa55word');
    expect(lines[0]).not.toContain('tok-123');
    // A second failure within the log interval is counted, not logged.
    expect(await hook.ask({ ...req, stream: 'other' })).toBe(false);
    expect(hook.stats.failed).toBe(2);
    expect(lines).toHaveLength(1);
  });

  it('refuses (fails closed) when nothing listens', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const hook = new AuthHook(settings({ url: `http://127.0.0.1:${port}/` }));
    expect(await hook.ask(req)).toBe(false);
    expect(hook.stats.failed).toBe(1);
  });

  it('caches answers per request: one request for two identical asks, another for another stream', async () => {
    const hook = new AuthHook(settings({ cacheMs: 5000 }));
    expect(await hook.ask(req)).toBe(true);
    expect(await hook.ask(req)).toBe(true);
    expect(seen).toHaveLength(1);
    expect(await hook.ask({ ...req, stream: 'cam2' })).toBe(true);
    expect(seen).toHaveLength(2);
    reply = (res) => res.writeHead(403).end();
    expect(await hook.ask({ ...req, password: 'wrong' })).toBe(false);
    expect(await hook.ask({ ...req, password: 'wrong' })).toBe(false);
    expect(seen).toHaveLength(3);
    expect(hook.stats).toEqual({ asked: 5, cached: 2, allowed: 3, refused: 2, failed: 0 });
  });

  it('asks again once the cached answer expires, and never caches a failure', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const hook = new AuthHook(settings({ cacheMs: 1000 }));
    expect(await hook.ask(req)).toBe(true);
    vi.advanceTimersByTime(900);
    expect(await hook.ask(req)).toBe(true);
    expect(seen).toHaveLength(1);
    vi.advanceTimersByTime(200);
    reply = (res) => res.writeHead(500).end();
    expect(await hook.ask(req)).toBe(false);
    expect(seen).toHaveLength(2);
    reply = (res) => res.writeHead(200).end();
    expect(await hook.ask(req)).toBe(true);
    expect(seen).toHaveLength(3);
  });

  it('keeps at most maxEntries answers, dropping the oldest', async () => {
    const hook = new AuthHook(settings({ cacheMs: 60_000, maxEntries: 2 }));
    for (const s of ['a', 'b', 'c']) await hook.ask({ ...req, stream: s });
    expect(hook.cacheSize).toBe(2);
    await hook.ask({ ...req, stream: 'c' });
    expect(seen).toHaveLength(3);
    await hook.ask({ ...req, stream: 'a' });
    expect(seen).toHaveLength(4);
  });

  it('shares one request among concurrent identical asks', async () => {
    reply = (res) => held.push(res);
    const hook = new AuthHook(settings({ cacheMs: 0 }));
    const asks = Array.from({ length: 5 }, () => hook.ask(req));
    await until(() => held.length === 1);
    held[0]!.writeHead(200).end();
    expect(await Promise.all(asks)).toEqual([true, true, true, true, true]);
    expect(seen).toHaveLength(1);
    expect(hook.stats).toEqual({ asked: 5, cached: 4, allowed: 5, refused: 0, failed: 0 });
  });

  it(`refuses at once beyond ${HOOK_MAX_IN_FLIGHT} requests in flight`, async () => {
    reply = (res) => held.push(res);
    const hook = new AuthHook(settings({ timeoutMs: 10_000 }));
    const asks = Array.from({ length: HOOK_MAX_IN_FLIGHT }, (_, i) => hook.ask({ ...req, stream: `s${i}` }));
    expect(await hook.ask({ ...req, stream: 'one-too-many' })).toBe(false);
    expect(hook.stats.failed).toBe(1);
    await until(() => held.length === HOOK_MAX_IN_FLIGHT);
    for (const res of held) res.writeHead(204).end();
    expect((await Promise.all(asks)).every((a) => a)).toBe(true);
  });

  it('refuses bad settings', () => {
    expect(() => new AuthHook(settings({ url: 'ftp://x/' }))).toThrow(TypeError);
    expect(() => new AuthHook(settings({ url: 'http://u:p@127.0.0.1/' }))).toThrow(/user or password/);
    expect(() => new AuthHook(settings({ timeoutMs: 0 }))).toThrow(RangeError);
    expect(() => new AuthHook(settings({ cacheMs: -1 }))).toThrow(RangeError);
  });
});
