/**
 * GET /streams/NAME/recordings/activity: the annotations filed with a recording, counted per time
 * bucket from the segments' indexes (for the viewer's timeline). An analyzer annotates the frames of
 * one second in the middle of a recording; the counts per second are exactly those, zero around.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/index.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { openMjpeg } from '../helpers/mjpeg.js';
import { postAnnotation } from '../meta/http-support.js';

let tmp: { dir: string; cleanup: () => void };
let server: FramecastServer | null = null;
beforeAll(() => {
  tmp = makeTempDir('framecast-rec-activity-');
});
afterAll(() => tmp.cleanup());
afterEach(async () => {
  await server?.close();
  server = null;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Activity {
  start: string | null;
  end: string | null;
  bucket: number | null;
  counts: number[];
  partial: boolean;
}

describe('annotation activity of a recording', () => {
  it('counts the annotations filed with the recording per bucket of capture time', async () => {
    server = await serve({
      port: 0,
      httpPort: 0,
      recordPath: join(tmp.dir, 'rec'),
      streams: [{ name: 'cam', source: 'test', width: 160, record: true, recordSegmentDuration: 1 }],
    });
    const base = `http://127.0.0.1:${server.httpAddress()?.port}`;
    const get = async (q: string): Promise<[number, Activity | string]> => {
      const r = await fetch(`${base}/streams/cam/recordings/activity${q}`);
      return [r.status, r.status === 200 ? ((await r.json()) as Activity) : (await r.text()).trim()];
    };
    // Nothing annotated yet.
    const [status0, empty] = await get('');
    expect(status0).toBe(200);
    expect((empty as Activity).counts.every((c) => c === 0)).toBe(true);

    const live = openMjpeg(`${base}/streams/cam/stream.mjpg`, { keep: true });
    await sleep(1500);
    // The analyzer: every frame of one second, from a whole second on.
    const from = Math.ceil(Date.now() / 1000) * 1000 + 200;
    await sleep(from - Date.now());
    const accepted: number[] = []; // capture times (ms) of the annotated frames
    const posts: Promise<void>[] = [];
    const done = new Set<string>();
    while (Date.now() < from + 1000) {
      for (const p of live.parts) {
        const seq = p.headers['x-framecast-seq'] as string;
        if (done.has(seq)) continue;
        done.add(seq);
        const t = Number(p.headers['x-timestamp']) * 1000;
        if (t < from - 100) continue;
        posts.push(
          postAnnotation(`${base}/streams/cam/annotations`, {
            analyzer: 'detector',
            seq: Number(seq),
            data: { objects: [{ box: [1, 2, 3, 4], label: 'x' }] },
          }).then((r) => {
            if (r.status === 202) accepted.push(t);
          }),
        );
      }
      await sleep(20);
    }
    await Promise.all(posts);
    await sleep(2500);
    live.close();
    expect(accepted.length).toBeGreaterThan(15);

    // Per second, three seconds either side: exactly the annotations of each second.
    const first = Math.floor(Math.min(...accepted) / 1000) * 1000;
    const start = first - 3000;
    const end = first + 6000;
    const [status, act] = await get(
      `?start=${new Date(start).toISOString()}&end=${new Date(end).toISOString()}&buckets=9`,
    );
    expect(status).toBe(200);
    const a = act as Activity;
    expect(a.bucket).toBe(1);
    expect(a.start).toBe(new Date(start).toISOString());
    expect(a.partial).toBe(false);
    const expected = new Array<number>(9).fill(0);
    for (const t of accepted) {
      const i = Math.floor((t - start) / 1000);
      expected[i] = (expected[i] as number) + 1;
    }
    expect(a.counts).toEqual(expected);
    expect(a.counts.slice(0, 3)).toEqual([0, 0, 0]);

    // The whole recording in the default 200 buckets: every annotation once.
    const [, whole] = await get('');
    expect((whole as Activity).counts).toHaveLength(200);
    expect((whole as Activity).counts.reduce((x, y) => x + y, 0)).toBe(accepted.length);

    // Bad input: a clear 400.
    expect(await get('?buckets=0')).toEqual([400, 'buckets must be a whole number from 1 to 2000, got "0"']);
    expect((await get('?start=yesterday'))[0]).toBe(400);
  }, 30_000);
});
