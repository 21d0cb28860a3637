import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edge } from '../../src/app/edge.js';
import { connect, serve } from '../../src/index.js';
import { decodeRecMessage, encodeRecFrame, parseRecRequest } from '../../src/bus/recording-messages.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { MultipartReader, openMjpeg, type Part } from '../helpers/mjpeg.js';
import { startNats } from '../helpers/nats.js';
import { makeJpeg } from '../helpers/native.js';
import { sleep } from '../helpers/processes.js';
import { busRig, natsOrFail } from './support.js';
import { connect as natsConnect, createInbox } from '@nats-io/transport-node';

// Recordings through an edge: what the origin recorded is listed, shown and played back at the edge,
// at the same addresses, the edge asking the origin over the bus (docs/PROTOCOL.md, "Bus").

const available = natsOrFail();
const rig = busRig();
let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = makeTempDir('framecast-bus-rec-');
});
afterAll(() => tmp.cleanup());

const ADMIN = 'admin-secret-1234';
const SECRET = 'bus-secret-0123456789';

/** The parts of a finite MJPEG response (a playback). */
async function mjpegParts(url: string): Promise<{ status: number; parts: Part[]; text: string }> {
  const res = await fetch(url);
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) return { status: res.status, parts: [], text: body.toString() };
  const m = /boundary=([^;\s]+)/.exec(res.headers.get('content-type') ?? '');
  const parts: Part[] = [];
  new MultipartReader(m?.[1] ?? '').push(body, (p) => parts.push(p));
  return { status: 200, parts, text: '' };
}

const get = async (url: string): Promise<{ status: number; body: Buffer; headers: Headers }> => {
  const r = await fetch(url);
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()), headers: r.headers };
};

/** An origin recording `cam` for ~2 s (a live viewer's frames kept), then stopped; an edge of it. */
async function recorded(
  secret?: string,
  maxPayload?: number,
): Promise<{ origin: string; edge: string; edgePort: number; seen: Part[] }> {
  rig.nats = await startNats(maxPayload ? { maxPayload } : {});
  const bus = { url: rig.nats.url, ...(secret ? { secret } : {}) };
  rig.origin = await serve({
    port: 0,
    httpPort: 0,
    adminToken: ADMIN,
    recordPath: join(tmp.dir, `r${Date.now()}`),
    streams: [{ name: 'cam', source: 'test', width: 160, record: true, recordSegmentDuration: 1 }],
    bus,
  });
  const e = await edge({ bus, port: 0, httpPort: 0, streams: ['cam'] });
  rig.edges.push(e);
  const origin = `http://127.0.0.1:${rig.origin.httpAddress()?.port}`;
  const live = openMjpeg(`${origin}/streams/cam/stream.mjpg`, { keep: true });
  await sleep(2200);
  live.close();
  // Stopped: the listing no longer grows, so the origin's and the edge's can be compared.
  const off = await fetch(`${origin}/api/streams/cam/record`, {
    method: 'DELETE',
    headers: { Authorization: `Bearer ${ADMIN}` },
  });
  expect(off.status).toBe(200);
  await sleep(300);
  return {
    origin,
    edge: `http://127.0.0.1:${e.server.httpAddress()?.port}`,
    edgePort: e.server.address().port,
    seen: live.parts.slice(1, -1),
  };
}

const iso = (p: Part, plusMs = 0): string =>
  new Date(Number(p.headers['x-timestamp']) * 1000 + plusMs).toISOString();

describe('recording messages on the bus (bytes)', () => {
  it('a frame round-trips with its metadata and annotations; requests are checked and clamped', async () => {
    const jpeg = await makeJpeg(16, 8);
    const f = {
      seq: 7,
      capturedAt: 1765076400123.25,
      width: 16,
      height: 8,
      jpeg,
      meta: Buffer.from('{"a":1}'),
      annotations: [
        {
          analyzer: 'motion',
          seq: 7,
          t: 1765076400123.25,
          receivedAt: 1765076400200,
          json: Buffer.from('[1]'),
        },
      ],
    };
    expect(decodeRecMessage(encodeRecFrame(f))).toEqual({ k: 'frame', frame: f });
    expect(decodeRecMessage(Buffer.from('nonsense'))).toBeNull();
    expect(
      parseRecRequest(
        'frames',
        Buffer.from('{"start":1,"end":null,"after":null,"max":1000000,"maxBytes":0}'),
      ),
    ).toEqual({
      verb: 'frames',
      req: { start: 1, end: null, after: null, max: 64, maxBytes: 1 },
    });
    expect(parseRecRequest('at', Buffer.from('{"t":"now"}'))).toBeNull();
    expect(parseRecRequest('at', Buffer.alloc(2000, 32))).toBeNull();
  });
});

describe.skipIf(!available)('recordings through an edge', () => {
  it("listing, /list, snapshot at a time, MJPEG playback, export and native playback on the edge are the origin's", async () => {
    const { origin, edge: at, edgePort, seen } = await recorded();
    expect(seen.length).toBeGreaterThan(20);
    // The listing: the same JSON (the recorder's `since` of a stopped recorder is the time of asking).
    const listing = async (base: string): Promise<Record<string, unknown>> => {
      const r = await get(`${base}/streams/cam/recordings`);
      expect(r.status).toBe(200);
      const j = JSON.parse(r.body.toString()) as { recording: Record<string, unknown> | null };
      delete j.recording?.since;
      return j;
    };
    const fromOrigin = await listing(origin);
    expect((fromOrigin.spans as unknown[]).length).toBe(1);
    expect(await listing(at)).toEqual(fromOrigin);
    // MediaMTX's /list: the same spans, each url on the server asked.
    const list = async (base: string): Promise<string> =>
      (await get(`${base}/list?path=cam`)).body.toString().replaceAll(base, 'BASE');
    expect(await list(at)).toBe(await list(origin));
    // The frame at a time: the same bytes and headers.
    const mid = seen[10] as Part;
    const snapAt = `/streams/cam/snapshot.jpg?at=${iso(mid, 0.9)}`;
    const [a, b] = [await get(origin + snapAt), await get(at + snapAt)];
    expect(b.status).toBe(200);
    expect(b.body.equals(a.body)).toBe(true);
    expect(b.body.equals(mid.body)).toBe(true);
    expect(b.headers.get('x-framecast-seq')).toBe(mid.headers['x-framecast-seq']);
    expect(b.headers.get('x-timestamp')).toBe(mid.headers['x-timestamp']);
    // MJPEG playback from the first frame the live viewer saw: the same frames, seqs and times.
    const play = `/streams/cam/playback.mjpg?start=${iso(seen[0] as Part)}&speed=16`;
    const [pa, pb] = [await mjpegParts(origin + play), await mjpegParts(at + play)];
    expect(pb.status).toBe(200);
    expect(pb.parts.length).toBe(pa.parts.length);
    expect(pb.parts.length).toBeGreaterThan(seen.length - 2);
    pb.parts.forEach((p, i) => {
      const o = pa.parts[i] as Part;
      expect(p.body.equals(o.body)).toBe(true);
      expect(p.headers['x-framecast-seq']).toBe(o.headers['x-framecast-seq']);
      expect(p.headers['x-timestamp']).toBe(o.headers['x-timestamp']);
    });
    // An export of a range: the very same Matroska bytes.
    const exp = `/streams/cam/export.mkv?start=${iso(seen[0] as Part)}&end=${iso(seen[20] as Part)}`;
    const [ea, eb] = [await get(origin + exp), await get(at + exp)];
    expect(eb.status).toBe(200);
    expect(eb.headers.get('content-type')).toBe('video/x-matroska');
    expect(eb.body.equals(ea.body)).toBe(true);
    // Native playback from the edge (as `framecast play --at`): every frame, then END eof.
    // The same start as the MJPEG playback's (a whole ms: the frame before the live viewer's first too).
    const start = Date.parse(iso(seen[0] as Part));
    const stream = connect(`127.0.0.1:${edgePort}/cam`, { playback: { start, speed: 8 } });
    const got: { seq: number; capturedAt: number | null; jpeg: Buffer }[] = [];
    for await (const f of stream) got.push({ seq: f.seq, capturedAt: f.capturedAt, jpeg: f.jpeg });
    expect(stream.ended?.reason).toBe('eof');
    expect(got.length).toBe(pa.parts.length);
    got.forEach((g, i) => {
      const o = pa.parts[i] as Part;
      expect(g.jpeg.equals(o.body)).toBe(true);
      expect(String(g.seq)).toBe(o.headers['x-framecast-seq']);
      expect(((g.capturedAt ?? 0) / 1000).toFixed(6)).toBe(o.headers['x-timestamp']);
    });
    // No recording there: the origin's own 404s, and the native ERROR NoRecording.
    for (const path of [
      '/streams/cam/snapshot.jpg?at=2099-01-01T00:00:00Z',
      '/streams/cam/playback.mjpg?start=2099-01-01T00:00:00Z',
      '/streams/cam/snapshot.jpg?at=2001-01-01T00:00:00Z',
    ]) {
      const [x, y] = [await get(origin + path), await get(at + path)];
      expect([y.status, y.body.toString()]).toEqual([404, x.body.toString()]);
    }
    expect((await get(`${at}/streams/nope/recordings`)).status).toBe(404);
    const none = connect(`127.0.0.1:${edgePort}/cam`, { playback: { start: Date.UTC(2099, 0, 1) } });
    await expect(
      (async () => {
        for await (const _ of none) void _;
      })(),
    ).rejects.toThrow(/no recording of cam at or after 2099-01-01T00:00:00.000Z/);
  }, 40_000);

  it('with a bus secret the origin signs its answers (in parts over a small max_payload) and the edge takes them; an edge with another secret drops them (504)', async () => {
    // 2 kB: every frame goes in signed parts of 1 kB.
    const { origin, edge: at, seen } = await recorded(SECRET, 2048);
    expect((seen[5] as Part).body.length).toBeGreaterThan(1024);
    const play = `/streams/cam/playback.mjpg?start=${iso(seen[0] as Part)}&speed=16`;
    const [pa, pb] = [await mjpegParts(origin + play), await mjpegParts(at + play)];
    expect(pb.parts.map((p) => p.body.toString('base64'))).toEqual(
      pa.parts.map((p) => p.body.toString('base64')),
    );
    const mid = seen[5] as Part;
    const snapAt = `/streams/cam/snapshot.jpg?at=${iso(mid, 0.5)}`;
    const b = await get(at + snapAt);
    expect(b.status).toBe(200);
    expect(b.body.equals((await get(origin + snapAt)).body)).toBe(true);
    expect(rig.edges[0]?.dropped()).toEqual({ unsigned: 0, forged: 0, replayed: 0, stale: 0 });
    const other = await edge({
      bus: { url: rig.nats?.url ?? '', secret: 'another-secret-0123456789' },
      port: 0,
      httpPort: 0,
      streams: ['cam'],
      // It hears no announcement it trusts, so the stream opens to its own token only.
      token: 'edge-token-0123456789',
      onNotice: () => {},
    });
    rig.edges.push(other);
    const c = await fetch(`http://127.0.0.1:${other.server.httpAddress()?.port}${snapAt}`, {
      headers: { Authorization: 'Bearer edge-token-0123456789' },
    }).then(async (r) => ({ status: r.status, body: Buffer.from(await r.arrayBuffer()) }));
    expect(c.status).toBe(504);
    expect(c.body.toString()).toMatch(/no origin of cam answered on the bus within 5 s/);
    expect(other.dropped().forged).toBeGreaterThan(0);
  }, 40_000);

  it('a flood of requests: an origin serves 8 at once with 64 waiting (503 beyond), takes 400 at once and 200 a second (429 beyond); a bad request is a 400; another stream is not answered', async () => {
    rig.nats = await startNats();
    rig.origin = await serve({
      port: 0,
      httpPort: null,
      recordPath: join(tmp.dir, 'flood'),
      streams: [{ name: 'cam', source: 'test', width: 160 }],
      bus: { url: rig.nats.url },
    });
    const nc = await natsConnect({ servers: rig.nats.url });
    try {
      const inbox = createInbox();
      const answers: Record<string, unknown>[] = [];
      nc.subscribe(inbox, {
        callback: (_e, m) => {
          const n = Buffer.from(m.data).readUInt32BE(0);
          answers.push(
            JSON.parse(
              Buffer.from(m.data)
                .subarray(4, 4 + n)
                .toString(),
            ) as Record<string, unknown>,
          );
        },
      });
      for (let i = 0; i < 600; i++)
        nc.publish('framecast.rec.cam.at', JSON.stringify({ t: Date.UTC(2001, 0, 1) }), { reply: inbox });
      nc.publish('framecast.rec.cam.at', '{"t":"soon"}', { reply: inbox });
      nc.publish('framecast.rec.other.at', JSON.stringify({ t: 0 }), { reply: inbox });
      await nc.flush();
      for (let i = 0; i < 100 && answers.length < 601; i++) await sleep(50);
      await sleep(300);
      expect(answers.length).toBe(601);
      const count = (k: string, status?: number): number =>
        answers.filter((a) => a.k === k && (status === undefined || a.status === status)).length;
      // Published in one go: the first 72 are served (8 at once, 64 waiting), the rest of the first
      // 400 find the line full, and the other 200 are over the rate (give or take its refill).
      const served = count('end');
      const busy = count('error', 503);
      const limited = count('error', 429);
      expect(served + busy + limited).toBe(600);
      expect(served).toBeGreaterThanOrEqual(72);
      expect(busy).toBeGreaterThan(0);
      expect(served + busy).toBeLessThan(480);
      expect(limited).toBeGreaterThan(120);
      expect(answers.filter((a) => a.k === 'error' && a.status === 400)).toHaveLength(1);
    } finally {
      await nc.close();
    }
  }, 20_000);
});
