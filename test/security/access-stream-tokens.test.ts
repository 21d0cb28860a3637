/**
 * A stream's own token with an `auth:` section whose `anonymous` may read every stream (issue "Access
 * for a team", point 6): the token still closes its stream to requests without credentials, on HTTP,
 * native and seed TCP alike (and so on an edge, where the token is the origin's salted digest).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Access, type Guarded } from '../../src/access/access.js';
import { parseAuthSettings } from '../../src/access/auth-settings.js';
import { edge } from '../../src/app/edge.js';
import { serve, type FramecastServer } from '../../src/app/serve.js';
import { encodeHello, ErrorCode } from '../../src/protocol/native.js';
import type { NativeMessage } from '../../src/protocol/native-parser.js';
import { rawNative } from '../helpers/native.js';
import { startNats } from '../helpers/nats.js';
import { busRig, natsOrFail } from '../bus/support.js';
import { httpBase, until } from '../http/support.js';

let server: FramecastServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const OPEN_TO_ALL = { anonymous: { permissions: [{ action: 'read' }, { action: 'playback' }] } };

const status = async (url: string): Promise<number> => {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status;
};

async function nativeRead(port: number, stream: string, token: string): Promise<number | 'frames'> {
  const s = await rawNative(port, encodeHello(token, Date.now(), 2, 0, stream), {
    timeoutMs: 8000,
    until: (m) => m.some((x) => x.type === 'error' || x.type === 'frame'),
  });
  const err = s.messages.find((m): m is Extract<NativeMessage, { type: 'error' }> => m.type === 'error');
  return err ? err.code : 'frames';
}

describe("a stream's token under `anonymous` that may read every stream", () => {
  it('anonymous requests do not get past a readToken; the token and open streams work', () => {
    const a = new Access({ token: null, auth: parseAuthSettings(OPEN_TO_ALL, '/etc/framecast') });
    const locked: Guarded = { name: 'vault', readToken: 'vault-read' };
    const open: Guarded = { name: 'lobby', readToken: null };
    expect(a.anonymousMay('read', locked, 'vault', '127.0.0.1')).toBe(false);
    expect(a.anonymousMay('read', open, 'lobby', '127.0.0.1')).toBe(true);
  });

  it('over HTTP and native: 401 / ERROR 3 without the token, served with it', async () => {
    server = await serve({
      port: 0,
      httpPort: 0,
      auth: parseAuthSettings(OPEN_TO_ALL, '/etc/framecast'),
      streams: [
        { name: 'lobby', source: 'test', width: 160, fps: 10 },
        { name: 'vault', source: 'test', width: 160, fps: 10, readToken: 'vault-read' },
      ],
    });
    const base = httpBase(server);
    const port = server.address().port;
    expect(await status(`${base}/streams/lobby/snapshot.jpg`)).toBe(200);
    expect(await status(`${base}/streams/vault/snapshot.jpg`)).toBe(401);
    expect(await status(`${base}/streams/vault/recordings`)).toBe(401);
    expect(await status(`${base}/streams/vault/snapshot.jpg?token=vault-read`)).toBe(200);
    expect(await nativeRead(port, 'vault', '')).toBe(ErrorCode.TokenRequired);
    expect(await nativeRead(port, 'vault', 'vault-read')).toBe('frames');
    expect(await nativeRead(port, 'lobby', '')).toBe('frames');
  }, 60_000);
});

describe("a stream's readToken viewer on the dashboard", () => {
  it('polling /stats (which also asks whether it may operate) is no failed login: no 429, no log line', async () => {
    server = await serve({
      port: 0,
      httpPort: 0,
      auth: parseAuthSettings({ failedLogins: { max: 3, per: 3600 } }, '/etc/framecast'),
      streams: [{ name: 'vault', source: 'test', width: 160, fps: 10, readToken: 'vault-read' }],
    });
    const refused: string[] = [];
    server.on('refused', (_a: string, reason: string) => refused.push(reason));
    const base = httpBase(server);
    for (let i = 0; i < 6; i++)
      expect(await status(`${base}/streams/vault/stats?token=vault-read`)).toBe(200);
    expect(await status(`${base}/streams/vault/snapshot.jpg?token=vault-read`)).toBe(200);
    expect(refused.filter((r) => r.includes('login failed'))).toEqual([]);
  }, 60_000);
});

const available = natsOrFail();
const rig = busRig();

describe.skipIf(!available)("an edge's anonymous and the origin's readToken", () => {
  it("the origin's token (its digest on the bus) still closes the stream on an edge whose anonymous reads all", async () => {
    rig.nats = await startNats();
    rig.origin = await serve({
      port: 0,
      httpPort: 0,
      streams: [
        { name: 'lobby', source: 'test', width: 160, fps: 10 },
        { name: 'vault', source: 'test', width: 160, fps: 10, readToken: 'vault-read' },
      ],
      bus: { url: rig.nats.url },
    });
    const auth = parseAuthSettings(OPEN_TO_ALL, '/etc/framecast');
    const e = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: 0, auth });
    rig.edges.push(e);
    const eb = `http://127.0.0.1:${e.server.httpAddress()?.port}`;
    const ep = e.server.address().port;
    await until(
      async () => (await status(`${eb}/streams/vault/snapshot.jpg?token=vault-read`)) === 200,
      20_000,
    );
    expect(await status(`${eb}/streams/lobby/snapshot.jpg`)).toBe(200);
    expect(await status(`${eb}/streams/vault/snapshot.jpg`)).toBe(401);
    expect(await nativeRead(ep, 'vault', '')).toBe(ErrorCode.TokenRequired);
    expect(await nativeRead(ep, 'vault', 'vault-read')).toBe('frames');
  }, 60_000);
});
