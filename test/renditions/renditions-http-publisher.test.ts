import sharp from 'sharp';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/index.js';
import { jpegInfo } from '../../src/util/jpeg.js';
import { FFMPEG } from '../helpers/fixtures.js';
import { openMjpeg, type MjpegViewer } from '../helpers/mjpeg.js';
import { killTracked, sleep, spawnTracked, waitExit } from '../helpers/processes.js';

let server: FramecastServer | null = null;
const viewers: MjpegViewer[] = [];
afterEach(async () => {
  for (const v of viewers.splice(0)) v.close();
  await server?.close();
  server = null;
});
afterAll(killTracked);

interface StatsRendition {
  width: number;
  viewers: number;
  encoded: number;
  sharedDecode: number;
}

/** A part's frame: seq and capture time (seqs start again with each transmission). */
const frameId = (p: MjpegViewer['parts'][number]): string =>
  `${p.headers['x-framecast-seq']}@${p.headers['x-timestamp']}`;

describe('renditions of a stream published over HTTP', () => {
  it("ffmpeg POSTing 640x360 JPEGs: viewers at width=320 and width=160 get the publisher's frames at those sizes, one decode per frame for both", async () => {
    server = await serve({
      port: 0,
      httpPort: 0,
      streams: [{ name: 'cam', source: 'publisher', publishToken: 'pub-secret-1' }],
    });
    const http = `http://127.0.0.1:${server.httpAddress()?.port}`;
    const open = (q: string): MjpegViewer => {
      const v = openMjpeg(`${http}/streams/cam/stream.mjpg${q}`, { keep: true });
      viewers.push(v);
      return v;
    };
    const [v320, v160, main] = [open('?width=320'), open('?width=160'), open('')];
    const ff = spawnTracked(FFMPEG, [
      ...['-hide_banner', '-v', 'error', '-nostdin', '-re', '-f', 'lavfi'],
      ...['-i', 'testsrc2=size=640x360:rate=15', '-t', '20', '-f', 'mpjpeg', '-method', 'POST'],
      `${http}/streams/cam/publish?token=pub-secret-1`,
    ]);
    // The publisher's frames (640 px at the main size; NO SIGNAL pictures have another width).
    const published = (): Set<string> =>
      new Set(main.parts.filter((p) => jpegInfo(p.body)?.width === 640).map(frameId));
    const ofPublisher = (v: MjpegViewer): MjpegViewer['parts'] => {
      const ids = published();
      return v.parts.filter((p) => ids.has(frameId(p)));
    };
    for (let waited = 0; waited < 30_000; waited += 100) {
      if (ofPublisher(v320).length >= 15 && ofPublisher(v160).length >= 15) break;
      await sleep(100);
    }
    const stats = (await (await fetch(`${http}/streams/cam/stats`)).json()) as {
      renditions: StatsRendition[];
    };
    for (const v of viewers) v.close();
    ff.kill('SIGTERM');
    await waitExit(ff, 10_000);

    for (const [v, size] of [
      [v320, '320x180'],
      [v160, '160x90'],
    ] as const) {
      const mine = ofPublisher(v);
      expect(mine.length).toBeGreaterThanOrEqual(15);
      // Decoded: the picture is the size asked for, every one of them.
      const infos = await Promise.all(
        mine.map((p) => sharp(p.body).raw().toBuffer({ resolveWithObject: true })),
      );
      expect(new Set(infos.map((d) => `${d.info.width}x${d.info.height}`))).toEqual(new Set([size]));
    }
    const byWidth = new Map(stats.renditions.map((r) => [r.width, r]));
    expect([...byWidth.keys()].sort((a, b) => a - b)).toEqual([160, 320]);
    for (const r of byWidth.values()) {
      expect(r.viewers).toBe(1);
      expect(r.encoded).toBeGreaterThanOrEqual(15);
      // Both running: all but the first frames came from the decode the two shared.
      expect(r.sharedDecode).toBeGreaterThanOrEqual(r.encoded - 10);
    }
  }, 60_000);
});
