/**
 * A stream's readToken is a viewer's key: it watches that stream, it never stops the transmission
 * for everyone and never learns the other viewers' addresses (issue "Every way in checked the same",
 * item 6.1).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/app/serve.js';
import type { StatsReport } from '../../src/transports/http/stats.js';
import { httpBase, openWs, until } from '../http/support.js';
import { sleep } from '../helpers/processes.js';

let server: FramecastServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const SERVER = 'server-secret';
const READ = 'viewer-secret';
const ADMIN = 'admin-secret';

async function start(token: string | null): Promise<string> {
  server = await serve({
    port: 0,
    httpPort: 0,
    token: token ?? undefined,
    adminToken: ADMIN,
    streams: [{ name: 'cam', source: 'test', width: 160, readToken: READ }],
  });
  return httpBase(server);
}

const stop = (base: string, token: string): Promise<Response> =>
  fetch(`${base}/streams/cam/transmission/stop?token=${token}`, { method: 'POST' });

/** A WebSocket viewer of cam (with the read token) that has received its first frames. */
async function watching(base: string): Promise<ReturnType<typeof openWs>> {
  const v = openWs(`${base.replace('http', 'ws')}/streams/cam/ws?token=${READ}`);
  await v.opened;
  await until(() => v.count >= 2, 8000, 'first frames');
  return v;
}

describe('POST /streams/NAME/transmission/stop', () => {
  it('a read token is refused (403) and the transmission goes on', async () => {
    const base = await start(SERVER);
    const v = await watching(base);
    const res = await stop(base, READ);
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/server's token/);
    const before = v.count;
    await sleep(400);
    expect(v.count).toBeGreaterThan(before);
    expect(v.ws.readyState).toBe(v.ws.OPEN);
    // The server's token still stops it, for everyone.
    const ok = await stop(base, SERVER);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ stopped: true });
    expect(await v.closed).toEqual({ code: 1000, reason: 'stopped' });
  });

  it('the admin token stops it too', async () => {
    const base = await start(SERVER);
    const v = await watching(base);
    const res = await stop(base, ADMIN);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ stopped: true });
    expect((await v.closed).reason).toBe('stopped');
  });

  it('without a server token, a read token still cannot stop a stream it only watches', async () => {
    const base = await start(null);
    const v = await watching(base);
    expect((await stop(base, READ)).status).toBe(403);
    await sleep(300);
    expect(v.ws.readyState).toBe(v.ws.OPEN);
    expect(await (await stop(base, ADMIN)).json()).toEqual({ stopped: true });
    await v.closed;
  });
});

describe('GET /streams/NAME/stats', () => {
  it("a read token gets the stream's figures without any client's address", async () => {
    const base = await start(SERVER);
    const v = await watching(base);
    await sleep(1100); // one sampling interval, so the figures are there
    const res = await fetch(`${base}/streams/cam/stats?token=${READ}`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const s = JSON.parse(text) as StatsReport;
    expect(s.clients).toHaveLength(1);
    expect(s.clients[0]?.protocol).toBe('ws');
    expect(s.clients[0]?.framesSent).toBeGreaterThan(0);
    expect(s.clients[0]?.address).toBe('(hidden)');
    expect(text).not.toContain('127.0.0.1');
    // The server's token shows them.
    const full = (await (await fetch(`${base}/streams/cam/stats?token=${SERVER}`)).json()) as StatsReport;
    expect(full.clients[0]?.address).toMatch(/^127\.0\.0\.1:\d+$/);
    // And the server's /stats stays the server token's alone.
    expect((await fetch(`${base}/stats?token=${READ}`)).status).toBe(401);
    v.ws.close();
  });
});
