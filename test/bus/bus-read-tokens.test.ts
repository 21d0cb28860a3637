import { describe, expect, it } from 'vitest';
import { edge } from '../../src/app/edge.js';
import { serve, type FramecastServer } from '../../src/index.js';
import { encodeHello, ErrorCode } from '../../src/protocol/native.js';
import type { NativeMessage } from '../../src/protocol/native-parser.js';
import { openMjpeg } from '../helpers/mjpeg.js';
import { rawNative } from '../helpers/native.js';
import { startNats } from '../helpers/nats.js';
import { busRig, natsOrFail, sized, until, viewer } from './support.js';

const available = natsOrFail();

const rig = busRig();

const TOKEN = 'r3ad-only-this';

/** The ERROR code a native viewer of `stream` gets with `token`, or 'frames' when it is served. */
async function answer(port: number, stream: string, token: string): Promise<number | 'frames' | 'nothing'> {
  const s = await rawNative(port, encodeHello(token, Date.now(), 2, 0, stream), {
    timeoutMs: 8000,
    until: (m) => m.some((x) => x.type === 'error' || (x.type === 'frame' && x.width === 160)),
  });
  const err = s.messages.find((m): m is Extract<NativeMessage, { type: 'error' }> => m.type === 'error');
  if (err) return err.code;
  return s.messages.some((m) => m.type === 'frame') ? 'frames' : 'nothing';
}

async function status(url: string): Promise<{ status: number; type: string | null; bytes: number }> {
  const res = await fetch(url);
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get('content-type'), bytes: body.length };
}

async function startOrigin(url: string): Promise<FramecastServer> {
  return serve({
    port: 0,
    httpPort: null,
    streams: [
      { name: 'locked', source: 'test', width: 160, readToken: TOKEN },
      { name: 'open', source: 'test', width: 160 },
    ],
    bus: { url },
  });
}

describe.skipIf(!available)("NATS frame bus: a stream's readToken holds on edges", () => {
  it('native viewers: the same ERROR codes as on the origin, frames with the token, open streams stay open', async () => {
    rig.nats = await startNats();
    rig.origin = await startOrigin(rig.nats.url);
    const e = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: null });
    rig.edges.push(e);
    const op = rig.origin.address().port;
    const ep = e.server.address().port;
    for (const port of [op, ep]) {
      expect(await answer(port, 'locked', '')).toBe(ErrorCode.TokenRequired);
      expect(await answer(port, 'locked', 'wrong')).toBe(ErrorCode.TokenInvalid);
      expect(await answer(port, 'locked', TOKEN)).toBe('frames');
      expect(await answer(port, 'open', '')).toBe('frames');
    }
    // The edge's own server token still opens every stream; then the open stream needs a token too.
    const guarded = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: null, token: 'edge-wide' });
    rig.edges.push(guarded);
    const gp = guarded.server.address().port;
    expect(await answer(gp, 'locked', 'edge-wide')).toBe('frames');
    expect(await answer(gp, 'locked', TOKEN)).toBe('frames');
    expect(await answer(gp, 'open', '')).toBe(ErrorCode.TokenRequired);
  }, 60_000);

  it('MJPEG and snapshot on the edge: 401 without the token, 200 with ?token=', async () => {
    rig.nats = await startNats();
    rig.origin = await startOrigin(rig.nats.url);
    const e = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: 0 });
    rig.edges.push(e);
    const base = `http://127.0.0.1:${e.server.httpAddress()?.port}/streams`;
    expect((await status(`${base}/locked/snapshot.jpg`)).status).toBe(401);
    expect((await status(`${base}/locked/snapshot.jpg?token=wrong`)).status).toBe(401);
    expect((await status(`${base}/locked/stream.mjpg`)).status).toBe(401);
    const snap = await status(`${base}/locked/snapshot.jpg?token=${TOKEN}`);
    expect(snap).toMatchObject({ status: 200, type: 'image/jpeg' });
    expect(snap.bytes).toBeGreaterThan(500);
    expect((await status(`${base}/open/snapshot.jpg`)).status).toBe(200);
    // The API shows that tokens are set, never them nor the digest (nor the edge's publish token).
    const api = await fetch(`http://127.0.0.1:${e.server.httpAddress()?.port}/api/streams/locked`);
    const text = await api.text();
    expect(JSON.parse(text)).toMatchObject({ readToken: '(set)', publishToken: '(set)' });
    const digest = e.server.streams.get('locked')?.config.readTokenDigest;
    expect(digest?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(text).not.toContain(digest?.sha256);
    expect(text).not.toContain(e.server.streams.get('locked')?.config.publishToken);
    const m = openMjpeg(`${base}/locked/stream.mjpg?token=${TOKEN}`);
    expect((await m.headers)['content-type']).toMatch(/multipart\/x-mixed-replace/);
    await until(() => m.count >= 5);
    m.close();
  }, 60_000);

  it('edge --streams learns the token before serving; without a bus secret a changed token locks the stream there', async () => {
    rig.nats = await startNats();
    rig.origin = await startOrigin(rig.nats.url);
    const o = rig.origin;
    const e = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: null, streams: ['locked'] });
    rig.edges.push(e);
    const ep = e.server.address().port;
    // Asked at start, the origin's answer came before the edge served anyone.
    expect(await answer(ep, 'locked', '')).toBe(ErrorCode.TokenRequired);
    const v = viewer(ep, 'locked', TOKEN);
    await until(() => sized(v, 160).length >= 5);
    const locked = o.streams.get('locked')?.config;
    const open = o.streams.get('open')?.config;
    if (!locked || !open) throw new Error('streams missing');
    await o.applyStreams([{ ...locked, readToken: 'the-new-one' }, open]);
    await until(() => v.ended !== null, 5000);
    expect(v.ended).toBe('removed');
    expect(await answer(ep, 'locked', TOKEN)).toBe(ErrorCode.TokenInvalid);
    // Any peer could have announced the new digest: it opens nothing until the edge restarts.
    expect(await answer(ep, 'locked', 'the-new-one')).toBe(ErrorCode.TokenInvalid);
    const again = await edge({ bus: { url: rig.nats.url }, port: 0, httpPort: null, streams: ['locked'] });
    rig.edges.push(again);
    expect(await answer(again.server.address().port, 'locked', 'the-new-one')).toBe('frames');
  }, 60_000);
});
