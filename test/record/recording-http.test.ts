import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/index.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { liveGaps } from './support.js';
import { frameJpeg, frameSeq, recordWs } from '../meta/http-support.js';
import { WebSocket } from 'ws';
import { MultipartReader, openMjpeg, type Part } from '../helpers/mjpeg.js';

let tmp: { dir: string; cleanup: () => void };
let server: FramecastServer | null = null;
beforeAll(() => {
  tmp = makeTempDir('framecast-rec-http-');
});
afterAll(() => tmp.cleanup());
afterEach(async () => {
  await server?.close();
  server = null;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let n = 0;

async function start(
  extra: Record<string, unknown> = {},
  opts: Record<string, unknown> = {},
): Promise<{
  base: string;
  dir: string;
}> {
  const root = join(tmp.dir, `r${n++}`);
  server = await serve({
    port: 0,
    httpPort: 0,
    recordPath: root,
    streams: [{ name: 'cam', source: 'test', width: 160, record: true, recordSegmentDuration: 1, ...extra }],
    ...opts,
  });
  return { base: `http://127.0.0.1:${server.httpAddress()?.port}`, dir: join(root, 'cam') };
}

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

interface Listing {
  spans: { start: string; end: string; frames: number; segments: number }[];
  recording: { state: string; framesWritten: number } | null;
}

describe('recording a stream and playing it back over HTTP', () => {
  it('records the very JPEGs and capture times live viewers got; segments open in ffprobe; playback, snapshot at a time and export give them back', async () => {
    const { base, dir } = await start();
    const live = openMjpeg(`${base}/streams/cam/stream.mjpg`, { keep: true });
    // About 2.5 s of frames (longer on a loaded machine: until the viewer has 70).
    for (let waited = 0; waited < 20_000 && live.count < 70; waited += 100) await sleep(100);
    live.close();
    await sleep(300);
    const listing = (await (await fetch(`${base}/streams/cam/recordings`)).json()) as Listing;
    expect(listing.recording?.state).toBe('recording');
    // One span, unless the loaded machine held the source back over 2 s (a gap splits a span).
    expect(listing.spans.length).toBeGreaterThanOrEqual(1);
    expect(listing.spans.reduce((n, s) => n + s.segments, 0)).toBeGreaterThanOrEqual(2);
    // Closed segments: ffprobe counts exactly the frames the catalog lists.
    const catalog = readdirSync(dir).filter((f) => f.endsWith('.mkv'));
    expect(catalog.length).toBeGreaterThanOrEqual(2);
    const lines = execFileSync('cat', [join(dir, 'catalog.ndjson')])
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { name: string; frames: number });
    for (const seg of lines) {
      const count = execFileSync('ffprobe', [
        ...['-v', 'error', '-count_frames', '-select_streams', 'v:0'],
        ...['-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', join(dir, `${seg.name}.mkv`)],
      ]);
      expect(Number(count.toString())).toBe(seg.frames);
    }
    // Every frame a live viewer got is in the recording, byte for byte, at its capture time.
    const seen = live.parts.slice(1, -1);
    expect(seen.length).toBeGreaterThan(30);
    const firstTs = Number(seen[0]?.headers['x-timestamp']);
    const startIso = new Date(Math.floor(firstTs * 1000)).toISOString();
    const back = await mjpegParts(`${base}/streams/cam/playback.mjpg?start=${startIso}&speed=16`);
    expect(back.status).toBe(200);
    const bySeq = new Map(back.parts.map((p) => [p.headers['x-framecast-seq'], p]));
    for (const p of seen) {
      const r = bySeq.get(p.headers['x-framecast-seq']);
      expect(r?.body.equals(p.body)).toBe(true);
      expect(r?.headers['x-timestamp']).toBe(p.headers['x-timestamp']);
    }
    // Playback holds consecutive seqs (every frame was written).
    const seqs = back.parts.map((p) => Number(p.headers['x-framecast-seq']));
    expect(seqs.slice(1).every((s, i) => s === (seqs[i] as number) + 1)).toBe(true);
    // The frame at a time: the one captured at or just before it.
    const mid = seen[10] as Part;
    // Whole milliseconds in the query: the next millisecond after the frame, before the one after it.
    const at = new Date(Math.ceil(Number(mid.headers['x-timestamp']) * 1000) + 1).toISOString();
    const snap = await fetch(`${base}/streams/cam/snapshot.jpg?at=${at}`);
    // A span's start exactly as the listing prints it (cut to the millisecond) finds its first frame.
    const first = await fetch(`${base}/streams/cam/snapshot.jpg?at=${listing.spans[0]?.start ?? ''}`);
    expect(first.status).toBe(200);
    expect(snap.status).toBe(200);
    expect(snap.headers.get('x-framecast-seq')).toBe(mid.headers['x-framecast-seq']);
    expect(Buffer.from(await snap.arrayBuffer()).equals(mid.body)).toBe(true);
    // An export of a range: a Matroska file ffprobe reads, holding that range's frames.
    const endIso = new Date(Number(seen[20]?.headers['x-timestamp']) * 1000).toISOString();
    const exp = await fetch(`${base}/streams/cam/export.mkv?start=${startIso}&end=${endIso}`);
    expect(exp.status).toBe(200);
    expect(exp.headers.get('content-type')).toBe('video/x-matroska');
    const file = join(tmp.dir, `export${n}.mkv`);
    writeFileSync(file, Buffer.from(await exp.arrayBuffer()));
    const frames = execFileSync('ffprobe', [
      ...['-v', 'error', '-count_frames', '-select_streams', 'v:0'],
      ...['-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file],
    ]);
    expect(Number(frames.toString())).toBe(21);
    // MediaMTX's /list shape.
    const list = (await (await fetch(`${base}/list?path=cam`)).json()) as {
      start: string;
      duration: number;
      url: string;
    }[];
    // As many spans as the listing (more if a stall of the loaded machine split one since).
    expect(list.length).toBeGreaterThanOrEqual(listing.spans.length);
    expect(list.reduce((n, x) => n + x.duration, 0)).toBeGreaterThan(1.5);
    expect(list[0]?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/streams\/cam\/export\.mkv\?start=/);
  }, 30_000);

  it('bad input: clear 4xx with a message; names and paths never leave the recordings folder', async () => {
    const { base } = await start();
    await sleep(1500);
    const get = async (path: string): Promise<[number, string]> => {
      const r = await fetch(`${base}${path}`);
      return [r.status, (await r.text()).trim()];
    };
    expect(await get('/streams/cam/snapshot.jpg?at=yesterday')).toEqual([
      400,
      'at must be an ISO 8601 time with its zone (e.g. 2026-12-07T03:00:00Z), got "yesterday"',
    ]);
    expect((await get('/streams/cam/snapshot.jpg?at=2026-13-45T99:00:00Z'))[0]).toBe(400);
    expect(await get('/streams/cam/playback.mjpg')).toEqual([
      400,
      'start is required (ISO 8601, e.g. 2026-12-07T03:00:00Z)',
    ]);
    expect(await get('/streams/cam/export.mkv?start=2026-12-07T03:00:00Z&end=2026-12-07T02:00:00Z')).toEqual([
      400,
      'start (2026-12-07T03:00:00.000Z) is after end (2026-12-07T02:00:00.000Z)',
    ]);
    expect((await get('/streams/cam/playback.mjpg?start=2026-12-07T03:00:00Z&speed=1000'))[0]).toBe(400);
    expect(
      await get('/streams/cam/playback.mjpg?start=2020-01-01T00:00:00Z&end=2020-01-02T00:00:00Z'),
    ).toEqual([404, 'no recording of cam from 2020-01-01T00:00:00.000Z to 2020-01-02T00:00:00.000Z']);
    expect(await get('/streams/cam/snapshot.jpg?at=2020-01-01T00:00:00Z')).toEqual([
      404,
      'no recording of cam at 2020-01-01T00:00:00.000Z',
    ]);
    expect((await get('/streams/..%2F..%2Fetc/recordings'))[0]).toBe(404);
    expect((await get('/list?path=../../etc'))[0]).toBe(404);
    expect((await get('/list?path=cam&start=nope'))[0]).toBe(400);
  }, 20_000);

  it('start and stop over the API: a live viewer counts consecutive frames throughout, the stream never restarts', async () => {
    const { base, dir } = await start({ record: false }, { adminToken: 'admin-secret-1234' });
    const live = openMjpeg(`${base}/streams/cam/stream.mjpg`, { keep: true });
    for (let waited = 0; waited < 15_000 && live.count < 10; waited += 100) await sleep(100);
    const auth = { Authorization: 'Bearer admin-secret-1234' };
    expect((await fetch(`${base}/api/streams/cam/record`, { method: 'POST' })).status).toBe(401);
    const on = await fetch(`${base}/api/streams/cam/record`, { method: 'POST', headers: auth });
    expect(on.status).toBe(200);
    expect(((await on.json()) as { record: boolean }).record).toBe(true);
    const recorded = async (): Promise<Listing> =>
      (await (await fetch(`${base}/streams/cam/recordings`)).json()) as Listing;
    const frames = (l: Listing): number => l.spans.reduce((n, x) => n + x.frames, 0);
    // Recording for a while (at least 30 frames, however loaded the machine).
    for (let waited = 0; waited < 15_000 && frames(await recorded()) < 30; waited += 200) await sleep(200);
    const off = await fetch(`${base}/api/streams/cam/record`, { method: 'DELETE', headers: auth });
    expect(((await off.json()) as { record: boolean }).record).toBe(false);
    await sleep(500);
    const stopped = await recorded();
    await sleep(800);
    live.close();
    const seqs = live.parts.map((p) => Number(p.headers['x-framecast-seq']));
    expect(seqs.length).toBeGreaterThan(40);
    expect(liveGaps(seqs)).toBeLessThanOrEqual(15);
    const listing = await recorded();
    expect(listing.recording?.state).toBe('stopped');
    expect(frames(listing)).toBeGreaterThanOrEqual(30);
    // Stopped means stopped: nothing more was written while the live viewer went on.
    expect(frames(listing)).toBe(frames(stopped));
    expect(seqs.length).toBeGreaterThan(frames(listing));
    expect(readdirSync(dir).some((f) => f.endsWith('.mkv'))).toBe(true);
    expect((await fetch(`${base}/api/streams/nope/record`, { method: 'POST', headers: auth })).status).toBe(
      404,
    );
  }, 20_000);
});

describe('WebSocket playback', () => {
  it('/streams/NAME/ws?start=&end=&speed= plays the recording as live WebSocket frames, then closes; a bad time is 400 before the upgrade', async () => {
    const { base } = await start();
    // Once a span of a second and a half is recorded (longer on a loaded machine).
    let listing: Listing = { spans: [], recording: null };
    for (let waited = 0; waited < 15_000; waited += 250) {
      await sleep(250);
      listing = (await (await fetch(`${base}/streams/cam/recordings`)).json()) as Listing;
      const first = listing.spans[0];
      if (first && Date.parse(first.end) - Date.parse(first.start) > 1500) break;
    }
    const span = listing.spans[0];
    expect(span).toBeDefined();
    const wsBase = base.replace('http:', 'ws:');
    const end = new Date(Date.parse(span?.start ?? '') + 1000).toISOString();
    const r = recordWs(`${wsBase}/streams/cam/ws?start=${span?.start}&end=${end}&speed=8`);
    await r.opened;
    await new Promise<void>((resolve) => r.ws.once('close', () => resolve()));
    const frames = r.messages.flatMap((m) => ('binary' in m ? [m.binary] : []));
    const seqs = frames.map(frameSeq);
    // About a second of 30 fps, every frame, in order.
    expect(seqs.length).toBeGreaterThanOrEqual(25);
    expect(seqs.slice(1).every((s, i) => s === (seqs[i] as number) + 1)).toBe(true);
    // The listing's start is cut to the millisecond: the first frame is the one at or before 1 ms later.
    const at = new Date(Date.parse(span?.start ?? '') + 1).toISOString();
    const snap = await fetch(`${base}/streams/cam/snapshot.jpg?at=${at}`);
    expect(Buffer.from(await snap.arrayBuffer()).equals(frameJpeg(frames[0] as Buffer))).toBe(true);
    const bad = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${wsBase}/streams/cam/ws?start=nope`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => undefined);
    });
    expect(bad).toBe(400);
  }, 20_000);
});
