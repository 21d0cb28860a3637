import net from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { connect, publish, serve, type FramecastServer } from '../../src/index.js';
import {
  decodeHello,
  encodeError,
  encodeHello,
  encodePreamble,
  ErrorCode,
  HelloFlag,
} from '../../src/protocol/native.js';
import { runPlay } from '../helpers/cli.js';
import { FFMPEG, makeTempDir } from '../helpers/fixtures.js';
import { openMjpeg, type Part } from '../helpers/mjpeg.js';

let tmp: { dir: string; cleanup: () => void };
let server: FramecastServer | null = null;
beforeAll(() => {
  tmp = makeTempDir('framecast-rec-native-');
});
afterAll(() => tmp.cleanup());
afterEach(async () => {
  await server?.close();
  server = null;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('native playback hello (bytes)', () => {
  it('flag 0x20 adds start and speed after the name; old hellos are byte for byte as before', () => {
    const t = Date.UTC(2026, 11, 7, 3);
    const h = encodeHello('tok', 1.5, undefined, HelloFlag.Ack, 'cam', { start: t, speed: 4 });
    expect(h[4]).toBe(2);
    expect(h[5]).toBe(HelloFlag.Ack | HelloFlag.Playback);
    expect(h.length).toBe(16 + 3 + 1 + 3 + 16);
    expect(h.readDoubleBE(h.length - 16)).toBe(t);
    expect(h.readDoubleBE(h.length - 8)).toBe(4);
    const r = decodeHello(h);
    expect(r).toMatchObject({
      status: 'ok',
      consumed: h.length,
      hello: { stream: 'cam', playback: { start: t, speed: 4 } },
    });
    // Without playback: the version-1 and version-2 hellos of before.
    expect(encodeHello('tok', 1.5, undefined, 0, null).length).toBe(19);
    expect(decodeHello(encodeHello('tok', 1.5, undefined, 0, 'cam'))).toMatchObject({
      hello: { playback: null },
    });
    // Cut before its playback block: incomplete, not an error.
    expect(decodeHello(h.subarray(0, h.length - 1))).toEqual({ status: 'incomplete' });
    // A speed out of range or a start that is no time: bad hello.
    const bad = Buffer.from(h);
    bad.writeDoubleBE(100, bad.length - 8);
    expect(decodeHello(bad)).toMatchObject({ status: 'error', code: ErrorCode.BadHello });
    bad.writeDoubleBE(4, bad.length - 8);
    bad.writeDoubleBE(NaN, bad.length - 16);
    expect(decodeHello(bad)).toMatchObject({ status: 'error', code: ErrorCode.BadHello });
    expect(() => encodeHello('', 0, undefined, 0, 'cam', { start: t, speed: 0 })).toThrow(RangeError);
  });
});

describe('playing a recording back over the native protocol', () => {
  it('the library and `framecast play --at` get the recorded frames (bytes, seq, capture time), then END eof', async () => {
    server = await serve({
      port: 0,
      httpPort: 0,
      recordPath: join(tmp.dir, 'a'),
      adminToken: 'admin-secret-1234',
      streams: [{ name: 'cam', source: 'test', width: 160, record: true, recordSegmentDuration: 1 }],
    });
    const base = `http://127.0.0.1:${server.httpAddress()?.port}`;
    const live = openMjpeg(`${base}/streams/cam/stream.mjpg`, { keep: true });
    await sleep(2200);
    live.close();
    const seen = live.parts.slice(1, -1);
    const first = seen[0] as Part;
    // X-Timestamp is rounded to the microsecond: a microsecond later is at or after the frame itself.
    const start = Number(first.headers['x-timestamp']) * 1000 + 0.001;
    const addr = `127.0.0.1:${server.address().port}/cam`;
    const got: { seq: number; capturedAt: number | null; jpeg: Buffer }[] = [];
    const stream = connect(addr, { playback: { start, speed: 8 } });
    for await (const f of stream) {
      got.push({ seq: f.seq, capturedAt: f.capturedAt, jpeg: f.jpeg });
      // The recording goes on while we play it: stop at what the live viewer saw.
      if (got.length > seen.length + 40) break;
    }
    const bySeq = new Map(got.map((g) => [g.seq, g]));
    for (const p of seen) {
      const g = bySeq.get(Number(p.headers['x-framecast-seq']));
      expect(g?.jpeg.equals(p.body)).toBe(true);
      expect(((g?.capturedAt ?? 0) / 1000).toFixed(6)).toBe(p.headers['x-timestamp']);
    }
    expect(got[0]?.seq).toBe(Number(first.headers['x-framecast-seq']));
    // Recording stopped: a playback runs to the recording's end, every frame, then END eof.
    const off = await fetch(`${base}/api/streams/cam/record`, {
      method: 'DELETE',
      headers: { Authorization: 'Bearer admin-secret-1234' },
    });
    expect(off.status).toBe(200);
    // The recorder closes its segment after the API has answered: the listing is read until it holds still.
    type Listing = { spans: { start: string; frames: number }[] };
    const read = async (): Promise<Listing> =>
      (await (await fetch(`${base}/streams/cam/recordings`)).json()) as Listing;
    let listing = await read();
    for (let i = 0; i < 20; i++) {
      await sleep(150);
      const again = await read();
      if (JSON.stringify(again) === JSON.stringify(listing)) break;
      listing = again;
    }
    const whole = connect(addr, {
      playback: { start: Date.parse(listing.spans[0]?.start ?? ''), speed: 16 },
    });
    let count = 0;
    for await (const _ of whole) count++;
    expect(count).toBe(listing.spans[0]?.frames);
    expect(whole.ended?.reason).toBe('eof');
    // The CLI: `framecast play --at TIME --speed X`.
    const play = await runPlay(addr, [
      '--at',
      new Date(start).toISOString(),
      '--speed',
      '16',
      '--view',
      'none',
    ]);
    expect(play.code).toBe(0);
    expect(play.summary?.frames).toBeGreaterThanOrEqual(seen.length);
  }, 30_000);

  it('a time after the whole recording is ERROR NoRecording, named (a time before it plays from its first frame)', async () => {
    server = await serve({
      port: 0,
      recordPath: join(tmp.dir, 'b'),
      streams: [{ name: 'cam', source: 'test', width: 160, record: true }],
    });
    await sleep(800);
    const port = server.address().port;
    // The whole answer, byte for byte: PREAMBLE (version 2), then ERROR NoRecording naming the time.
    const answer = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () =>
        s.write(encodeHello('', Date.now(), undefined, 0, 'cam', { start: Date.UTC(2030, 0, 1), speed: 1 })),
      );
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
      s.on('close', () => resolve(buf));
      s.on('error', reject);
    });
    expect(answer.toString('latin1')).toBe(
      Buffer.concat([
        encodePreamble(2),
        encodeError(ErrorCode.NoRecording, 'no recording of cam at or after 2030-01-01T00:00:00.000Z'),
      ]).toString('latin1'),
    );
    // The library turns it into an error naming it.
    const stream = connect(`127.0.0.1:${port}/cam`, { playback: { start: Date.UTC(2030, 0, 1) } });
    await expect(
      (async () => {
        for await (const _ of stream) void _;
      })(),
    ).rejects.toThrow(/no recording of cam/);
  }, 20_000);
});

describe('metadata and annotations in a recording', () => {
  it('a playback carries each frame metadata byte for byte and the annotations analyzers sent, tagged with their frame', async () => {
    server = await serve({
      port: 0,
      httpPort: 0,
      recordPath: join(tmp.dir, 'meta'),
      streams: [{ name: 'cam', source: 'publisher', record: true, recordSegmentDuration: 1 }],
    });
    const port = server.address().port;
    const base = `http://127.0.0.1:${server.httpAddress()?.port}`;
    const jpeg = execFileSync(FFMPEG, [
      ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90', '-frames:v', '1'],
      ...['-f', 'image2pipe', '-c:v', 'mjpeg', '-'],
    ]);
    const pub = publish(`127.0.0.1:${port}/cam`);
    const sentMeta = new Map<number, string>();
    const start = Date.now();
    const times: number[] = [];
    const annotated: number[] = [];
    for (let i = 0; i < 40; i++) {
      await pub.ready();
      const t = Date.now() + 0.25;
      times.push(t);
      pub.publish(jpeg, { meta: { i, label: `frame ${i}`, é: true }, capturedAt: t });
      await sleep(30);
      // An analyzer annotates every fifth frame, by its capture time, once the server has it.
      if (i % 5 === 0) {
        const res = await fetch(`${base}/streams/cam/annotations`, {
          method: 'POST',
          body: JSON.stringify({ analyzer: 'det', capturedAt: t, data: { objects: [], n: i } }),
        });
        if (res.status === 202) annotated.push(i);
      }
    }
    expect(annotated.length).toBeGreaterThanOrEqual(6);
    await sleep(300);
    pub.close();
    // An analyzer annotates some of the frames it saw (their seqs as a viewer got them).
    const live = (await (await fetch(`${base}/streams/cam/recordings`)).json()) as {
      spans: { start: string; frames: number }[];
    };
    expect(live.spans[0]?.frames).toBeGreaterThanOrEqual(40);
    const got: { seq: number; meta: unknown }[] = [];
    const annotations: { seq: number; data: unknown }[] = [];
    const stream = connect(`127.0.0.1:${port}/cam`, {
      playback: { start, speed: 16 },
      meta: true,
      annotations: true,
    });
    stream.onAnnotation((a) => annotations.push({ seq: a.seq, data: a.data }));
    for await (const f of stream) {
      got.push({ seq: f.seq, meta: f.meta });
      // The recording also holds the NO SIGNAL pictures around the publisher: stop at its last frame.
      if ((f.meta as { i?: number } | null)?.i === 39 || got.length > 80) break;
    }
    const metas = got.map((g) => g.meta as { i?: number } | null).filter((m) => m && m.i !== undefined);
    expect(metas.map((m) => m?.i)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(metas[7]).toEqual({ i: 7, label: 'frame 7', é: true });
    // Each annotation comes with the frame it was made for (the frame whose metadata says i = n).
    const seqOf = new Map(got.map((g) => [(g.meta as { i?: number } | null)?.i, g.seq]));
    expect(annotations.map((a) => (a.data as { n: number }).n)).toEqual(annotated);
    for (const a of annotations) expect(a.seq).toBe(seqOf.get((a.data as { n: number }).n));
    void sentMeta;
  }, 30_000);
});

describe('then live', () => {
  it('a playback with thenLive goes on with the live stream at the recording end (framecast play --then-live)', async () => {
    server = await serve({
      port: 0,
      recordPath: join(tmp.dir, 'then-live'),
      streams: [{ name: 'cam', source: 'test', width: 160, record: true }],
    });
    // Once a second is recorded (longer on a loaded machine), play from its start.
    let start = 0;
    for (let waited = 0; waited < 15_000; waited += 200) {
      await sleep(200);
      const segs = (await server.recordings?.store('cam'))?.segments() ?? [];
      const first = segs[0]?.info;
      if (first && Date.now() - first.start > 1500) {
        start = first.start + 1;
        break;
      }
    }
    const stream = connect(`127.0.0.1:${server.address().port}/cam`, {
      playback: { start, speed: 4 },
      thenLive: true,
    });
    const ages: number[] = [];
    for await (const f of stream) {
      ages.push(Date.now() - (f.capturedAt ?? 0));
      if (ages.length >= 90) break;
    }
    // First the past (frames over a second old), then live frames (fresh), in one loop.
    expect(ages[0]).toBeGreaterThan(800);
    // Live again: fresh frames (the freshest of the last 20 under half a second old, even on a loaded machine).
    expect(Math.min(...ages.slice(-20))).toBeLessThan(500);
    expect(stream.ended).toBeNull();
    expect(
      (await runPlay(`127.0.0.1:${server.address().port}/cam`, ['--then-live', '--view', 'none'])).stderr,
    ).toContain('--then-live only applies with --at');
  }, 20_000);
});
