import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FFMPEG, makeTempDir } from '../helpers/fixtures.js';
import { connect, publish, serve, type FramecastServer } from '../../src/index.js';
import { decodeHello, encodeHello, ErrorCode, HelloFlag } from '../../src/protocol/native.js';
import { runPlay } from '../helpers/cli.js';
import { jpegInfo } from '../../src/util/jpeg.js';
import { openMjpeg, type MjpegViewer } from '../helpers/mjpeg.js';
import { nativeShrinkAvailable } from '../../src/encode/native-jpeg.js';

let server: FramecastServer | null = null;
const temp = makeTempDir('framecast-renditions-');
const tmp = temp.dir;
afterAll(() => temp.cleanup());
afterEach(async () => {
  await server?.close();
  server = null;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function start(extra: Record<string, unknown> = {}): Promise<string> {
  server = await serve({
    port: 0,
    httpPort: 0,
    streams: [{ name: 'cam', source: 'test', width: 800, ...extra }],
  });
  return `http://127.0.0.1:${server.httpAddress()?.port}`;
}

interface Rendition {
  width: number;
  quality: number;
  viewers: number;
  encoded: number;
  sharedDecode: number;
  fromRaw: number;
}
const renditionsOf = async (base: string): Promise<Rendition[]> =>
  ((await (await fetch(`${base}/streams/cam/stats`)).json()) as { renditions: Rendition[] }).renditions;

const sizes = (v: MjpegViewer): string[] => [
  ...new Set(v.parts.map((p) => jpegInfo(p.body)).map((i) => `${i?.width}x${i?.height}`)),
];

describe('renditions: any size, encoded once per size', () => {
  it('viewers asking three widths get frames of those sizes, each rendition encoded once per frame for all its viewers', async () => {
    const base = await start();
    const a1 = openMjpeg(`${base}/streams/cam/stream.mjpg?width=320`, { keep: true });
    const a2 = openMjpeg(`${base}/streams/cam/stream.mjpg?width=320`, { keep: true });
    const b = openMjpeg(`${base}/streams/cam/stream.mjpg?width=485&quality=60`, { keep: true });
    const main = openMjpeg(`${base}/streams/cam/stream.mjpg`, { keep: true });
    // Both renditions running (each has encoded a frame): from here on, every frame is decoded once for both.
    let early: Rendition[] = [];
    for (let waited = 0; waited < 15_000; waited += 100) {
      early = await renditionsOf(base);
      if (early.length === 2 && early.every((r) => r.encoded > 0)) break;
      await sleep(100);
    }
    // Two seconds of frames for each (longer on a loaded machine, up to 15 s).
    for (let waited = 0; waited < 15_000 && [a1, a2, b, main].some((v) => v.count < 40); waited += 200)
      await sleep(200);
    const live = await renditionsOf(base);
    for (const v of [a1, a2, b, main]) v.close();
    expect(sizes(a1)).toEqual(['320x180']);
    expect(sizes(a2)).toEqual(['320x180']);
    // 485 snaps down to the ladder (multiples of 16): 480.
    expect(sizes(b)).toEqual(['480x270']);
    expect(sizes(main)).toEqual(['800x450']);
    expect(live.map((r) => `${r.width}/${r.quality}/${r.viewers}`).sort()).toEqual(['320/80/2', '480/60/1']);
    // Two viewers of 320 px got the same encoded bytes (one encode, shared).
    const bySeq = new Map(a1.parts.map((p) => [p.headers['x-framecast-seq'], p.body]));
    const shared = a2.parts.filter((p) => bySeq.get(p.headers['x-framecast-seq'])?.equals(p.body));
    expect(shared.length).toBeGreaterThan(20);
    // Encodes of the 320 rendition: no more than the stream's frames in that time (once per frame).
    const r320 = live.find((r) => r.width === 320) as Rendition;
    expect(r320.encoded).toBeGreaterThan(20);
    expect(r320.encoded).toBeLessThanOrEqual(a1.parts.length + 5);
    // Since both ran, each rendition's frames were shrunk from the stream's raw frames, never decoded
    // (without the native encoder: from the decode they shared), one frame in flight at either sample aside.
    for (const r of live) {
      const e = early.find((x) => x.width === r.width) as Rendition;
      expect(r.encoded - e.encoded).toBeGreaterThan(20);
      if (nativeShrinkAvailable()) {
        expect(r.fromRaw - e.fromRaw).toBeGreaterThanOrEqual(r.encoded - e.encoded - 2);
        expect(r.sharedDecode - e.sharedDecode).toBeLessThanOrEqual(2);
      } else expect(r.sharedDecode - e.sharedDecode).toBeGreaterThanOrEqual(r.encoded - e.encoded - 2);
    }
    await sleep(300);
    expect(await renditionsOf(base)).toEqual([]); // stopped after its last viewer
  }, 20_000);

  it('fps=5 gets about five of the newest frames a second, in order', async () => {
    const base = await start();
    const v = openMjpeg(`${base}/streams/cam/stream.mjpg?fps=5`, { keep: true });
    const all = openMjpeg(`${base}/streams/cam/stream.mjpg`, { keep: true });
    for (let waited = 0; waited < 15_000 && v.count < 10; waited += 200) await sleep(200);
    v.close();
    all.close();
    const seqs = v.parts.map((p) => Number(p.headers['x-framecast-seq']));
    expect(seqs.length).toBeGreaterThanOrEqual(10);
    expect(seqs.slice(1).every((s, i) => s > (seqs[i] as number))).toBe(true);
    // Never faster than 5 a second (capture times at least 180 ms apart), while the stream runs at 30.
    const t = v.parts.map((p) => Number(p.headers['x-timestamp']) * 1000);
    expect(Math.min(...t.slice(1).map((x, i) => x - (t[i] as number)))).toBeGreaterThanOrEqual(180);
    expect(all.count).toBeGreaterThan(3 * v.count);
  }, 20_000);

  it('bounded: a flood of distinct sizes never makes more than maxRenditions encoders, and snapshots of 1000 widths encode at most that per frame', async () => {
    const base = await start({ maxRenditions: 3 });
    const viewers = Array.from({ length: 30 }, (_, i) =>
      openMjpeg(`${base}/streams/cam/stream.mjpg?width=${100 + i * 20}`, { keep: true }),
    );
    await sleep(1500);
    const live = await renditionsOf(base);
    for (const v of viewers) v.close();
    expect(live.length).toBeLessThanOrEqual(3);
    const widths = new Set(viewers.flatMap((v) => sizes(v).map((s) => Number(s.split('x')[0]))));
    expect(widths.size).toBeLessThanOrEqual(3);
    const snaps = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        fetch(`${base}/streams/cam/snapshot.jpg?width=${16 + i}`).then(async (r) => ({
          status: r.status,
          info: jpegInfo(Buffer.from(await r.arrayBuffer())),
          // A frame is its seq and capture time (seqs start again with each transmission).
          seq: `${r.headers.get('x-framecast-seq')}@${r.headers.get('x-timestamp')}`,
        })),
      ),
    );
    expect(snaps.filter((s) => s.status !== 200).map((s) => s.status)).toEqual([]);
    // Per frame, at most three sizes were made (widths from 800 up are the stream's own frame).
    const perFrame = new Map<string, Set<number>>();
    for (const s of snaps.filter((x) => (x.info?.width ?? 0) < 800)) {
      const set = perFrame.get(s.seq ?? '') ?? new Set<number>();
      set.add(s.info?.width ?? 0);
      perFrame.set(s.seq ?? '', set);
    }
    expect([...perFrame.values()].filter((set) => set.size > 3).map((set) => [...set])).toEqual([]);
  }, 30_000);

  it('snapshot.jpg?width= answers from the newest frame at that size', async () => {
    const base = await start();
    const r = await fetch(`${base}/streams/cam/snapshot.jpg?width=320&quality=50`);
    expect(r.status).toBe(200);
    expect(jpegInfo(Buffer.from(await r.arrayBuffer()))).toMatchObject({ width: 320, height: 180 });
  }, 20_000);

  it('a bad value is 400 with a message', async () => {
    const base = await start();
    const get = async (q: string): Promise<[number, string]> => {
      const r = await fetch(`${base}/streams/cam/stream.mjpg?${q}`);
      return [r.status, (await r.text()).trim()];
    };
    expect(await get('width=abc')).toEqual([400, 'width must be an integer from 16 to 16384, got "abc"']);
    expect((await get('width=-1'))[0]).toBe(400);
    expect(await get('fps=0')).toEqual([400, 'fps must be a number from 0.1 to 1000, got "0"']);
    expect(await get('quality=500')).toEqual([400, 'quality must be an integer from 1 to 100, got "500"']);
    expect((await fetch(`${base}/streams/cam/snapshot.jpg?width=1.5`)).status).toBe(400);
  }, 20_000);
});

describe('renditions over the native protocol', () => {
  it('hello flag 0x40 asks for a width, quality and rate; `framecast play --width` too; a bad view is ERROR 1', async () => {
    const h = encodeHello('', 1, undefined, 0, 'cam', null, { width: 320, quality: 50, fps: 5 });
    expect(h[5]).toBe(HelloFlag.View);
    expect(decodeHello(h)).toMatchObject({
      status: 'ok',
      hello: { view: { width: 320, quality: 50, fps: 5 } },
    });
    const bad = Buffer.from(h);
    bad.writeUInt16BE(8, bad.length - 8);
    expect(decodeHello(bad)).toMatchObject({ status: 'error', code: ErrorCode.BadHello });
    const base = await start();
    const addr = `127.0.0.1:${server?.address().port}/cam`;
    const got: { width: number; t: number }[] = [];
    for await (const f of connect(addr, { view: { width: 320, fps: 5 } })) {
      got.push({ width: f.width, t: f.capturedAt ?? 0 });
      if (got.length >= 8) break;
    }
    expect(new Set(got.map((g) => g.width))).toEqual(new Set([320]));
    const gaps = got.slice(1).map((g, i) => g.t - (got[i]?.t ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThan(150); // about 200 ms apart: 5 fps
    const play = await runPlay(addr, [
      '--width',
      '480',
      '--frames',
      '3',
      '--view',
      'none',
      '--save-dir',
      join(tmp, 'p'),
    ]);
    expect(play.code).toBe(0);
    expect(jpegInfo(readFileSync(join(tmp, 'p', 'frame-000001.jpg')))).toMatchObject({
      width: 480,
      height: 270,
    });
    void base;
  }, 30_000);
});

describe('renditions of a publisher stream', () => {
  it("a program's JPEGs (passthrough) are made smaller for a viewer that asks, with their seq and capture time", async () => {
    server = await serve({
      port: 0,
      httpPort: 0,
      streams: [{ name: 'cam', source: 'publisher' }],
    });
    const base = `http://127.0.0.1:${server.httpAddress()?.port}`;
    const jpeg = execFileSync(FFMPEG, [
      ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720', '-frames:v', '1'],
      ...['-f', 'image2pipe', '-c:v', 'mjpeg', '-'],
    ]);
    const pub = publish(`127.0.0.1:${server.address().port}/cam`);
    const v = openMjpeg(`${base}/streams/cam/stream.mjpg?width=320`, { keep: true });
    const main = openMjpeg(`${base}/streams/cam/stream.mjpg`, { keep: true });
    for (let i = 0; i < 60 && v.count < 10; i++) {
      await pub.ready();
      pub.publish(jpeg);
      await sleep(50);
    }
    pub.close();
    v.close();
    main.close();
    const own = v.parts.filter((p) => jpegInfo(p.body)?.width !== 800); // NO SIGNAL pictures aside
    expect(own.length).toBeGreaterThanOrEqual(5);
    expect(new Set(own.map((p) => `${jpegInfo(p.body)?.width}x${jpegInfo(p.body)?.height}`))).toEqual(
      new Set(['320x180']),
    );
    // The main-size viewer got the publisher's bytes untouched; the rendition's frames carry its seqs.
    const mainSeqs = new Set(
      main.parts.filter((p) => p.body.equals(jpeg)).map((p) => p.headers['x-framecast-seq']),
    );
    expect(own.every((p) => mainSeqs.has(p.headers['x-framecast-seq']))).toBe(true);
  }, 30_000);
});
