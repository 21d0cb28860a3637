import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/index.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { openMjpeg } from '../helpers/mjpeg.js';
import { killTracked, sleep } from '../helpers/processes.js';
import { envFiles, envHook, outDirs, until } from './support.js';

let server: FramecastServer | null = null;
const closers: (() => void)[] = [];
const tmp = makeTempDir('framecast-hooks-events-');
const outDir = outDirs(tmp.dir);
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  await server?.close();
  server = null;
});
afterAll(async () => {
  await killTracked();
  tmp.cleanup();
});

describe('stream events of recordings and renditions', () => {
  it('segmentComplete carries the closed segment: its file, times and frames; the recorder is no demand', async () => {
    const dir = outDir();
    server = await serve({
      port: 0,
      httpPort: 0,
      recordPath: join(dir, 'rec'),
      streams: [{ name: 'cam', source: 'test', width: 160, fps: 10, record: true, recordSegmentDuration: 1 }],
      hooks: [envHook(dir, ['segmentComplete', 'demandStart', 'viewerJoined'])],
    });
    await until(() => envFiles(dir).has('segmentComplete'), 20_000);
    const seg = envFiles(dir).get('segmentComplete')?.[0] ?? {};
    expect(seg.FRAMECAST_STREAM).toBe('cam');
    expect(seg.FRAMECAST_SEGMENT_PATH).toMatch(/\.mkv$/);
    expect(existsSync(seg.FRAMECAST_SEGMENT_PATH ?? '')).toBe(true);
    expect(Number(seg.FRAMECAST_SEGMENT_FRAMES)).toBeGreaterThan(0);
    expect(Number(seg.FRAMECAST_SEGMENT_BYTES)).toBeGreaterThan(0);
    const start = Date.parse(seg.FRAMECAST_SEGMENT_START ?? '');
    const end = Date.parse(seg.FRAMECAST_SEGMENT_END ?? '');
    expect(end).toBeGreaterThanOrEqual(start);
    expect(end - start).toBeLessThan(5000);
    expect(envFiles(dir).has('demandStart')).toBe(false);
    expect(envFiles(dir).has('viewerJoined')).toBe(false);
  }, 30_000);

  it("a viewer of another size (a rendition) is a viewer too; the rendition's encoder is not", async () => {
    const dir = outDir();
    server = await serve({
      port: 0,
      httpPort: 0,
      streams: [{ name: 'cam', source: 'test', width: 320, fps: 10 }],
      hooks: [envHook(dir, ['viewerJoined', 'viewerLeft'])],
    });
    const mjpeg = openMjpeg(
      `http://127.0.0.1:${server.httpAddress()?.port}/streams/cam/stream.mjpg?width=160`,
      {
        keep: true,
      },
    );
    closers.push(() => mjpeg.close());
    await until(() => mjpeg.parts.length >= 3 && envFiles(dir).has('viewerJoined'), 20_000);
    mjpeg.close();
    await until(() => envFiles(dir).has('viewerLeft'));
    await sleep(300);
    const joined = envFiles(dir).get('viewerJoined') ?? [];
    expect(joined).toHaveLength(1);
    expect(joined[0]?.FRAMECAST_PROTOCOL).toBe('mjpeg');
    const left = envFiles(dir).get('viewerLeft') ?? [];
    expect(left).toHaveLength(1);
    expect(left[0]?.FRAMECAST_VIEWER_ID).toBe(joined[0]?.FRAMECAST_VIEWER_ID);
    expect(Number(left[0]?.FRAMECAST_FRAMES_SENT)).toBeGreaterThanOrEqual(3);
    expect(Number(left[0]?.FRAMECAST_SECONDS)).toBeGreaterThanOrEqual(0);
  }, 30_000);
});
