import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/index.js';
import { Frame } from '../../src/hub/frame.js';
import { RecordingStore } from '../../src/record/recording-store.js';
import { SegmentWriter } from '../../src/record/segment-writer.js';
import { FFMPEG, makeTempDir } from '../helpers/fixtures.js';

let tmp: { dir: string; cleanup: () => void };
let server: FramecastServer | null = null;
let jpeg: Buffer;
beforeAll(() => {
  tmp = makeTempDir('framecast-retention-');
  jpeg = execFileSync(FFMPEG, [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90', '-frames:v', '1'],
    ...['-f', 'image2pipe', '-c:v', 'mjpeg', '-'],
  ]);
});
afterAll(() => tmp.cleanup());
afterEach(async () => {
  await server?.close();
  server = null;
});

const HOUR = 3600_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Old segments in `dir`, one per start time, 10 frames each (as a past run of the server left them). */
async function oldSegments(dir: string, starts: number[]): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const store = await RecordingStore.load(dir, 'x');
  const names: string[] = [];
  for (const t0 of starts) {
    const f = (i: number): Frame =>
      new Frame({ seq: i + 1, width: 160, height: 90, capturedAt: t0 + i * 100, encodedAt: t0, jpeg });
    const w = await SegmentWriter.create(dir, 'x', f(0));
    for (let i = 0; i < 10; i++) w.append(f(i));
    await store.added(await w.close());
    names.push(w.name);
  }
  return names;
}

const files = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.mkv'));

describe('retention', () => {
  it('by age (recordDeleteAfter): segments older than it go, oldest first; newer ones and the one being written stay', async () => {
    const root = join(tmp.dir, 'age');
    const now = Date.now();
    const old = await oldSegments(join(root, 'cam'), [now - 50 * HOUR, now - 30 * HOUR, now - 2 * HOUR]);
    server = await serve({
      port: 0,
      recordPath: root,
      streams: [{ name: 'cam', source: 'test', width: 160, record: true, recordDeleteAfter: '1d' }],
    });
    const deleted: [string, string][] = [];
    server.on('record-deleted', (_s, info, why) => deleted.push([info.name, why]));
    await sleep(600);
    await server.recordings?.retain();
    expect(deleted).toEqual([
      [old[0], 'age'],
      [old[1], 'age'],
    ]);
    const left = files(join(root, 'cam'));
    expect(left).toContain(`${old[2]}.mkv`);
    expect(left).not.toContain(`${old[0]}.mkv`);
    expect(left.length).toBe(2); // the 2-hour-old one, and the one being written now
    expect(existsSync(join(root, 'cam', `${old[0]}.idx`))).toBe(false);
  }, 20_000);

  it('by size: a stream over its recordMaxBytes, then the server over its recordMaxBytes, lose their oldest first', async () => {
    const root = join(tmp.dir, 'size');
    const now = Date.now();
    const a = await oldSegments(join(root, 'a'), [now - 5 * HOUR, now - 4 * HOUR, now - 3 * HOUR]);
    const b = await oldSegments(join(root, 'b'), [now - 6 * HOUR, now - 2 * HOUR]);
    const one = (await RecordingStore.load(join(root, 'a'), 'a')).closed[0]?.bytes ?? 0;
    expect(one).toBeGreaterThan(1024);
    server = await serve({
      port: 0,
      recordPath: root,
      // Stream a keeps at most two old segments' worth; the server at most three segments in all.
      recordMaxBytes: Math.floor(3.5 * one),
      streams: [
        { name: 'a', source: 'test', width: 160, recordMaxBytes: Math.floor(2.5 * one) },
        { name: 'b', source: 'test', width: 160 },
      ],
    });
    const deleted: [string, string, string][] = [];
    server.on('record-deleted', (s, info, why) => deleted.push([s, info.name, why]));
    // Nothing records: retention still applies to what is on disk once the stores are loaded.
    await server.recordings?.store('a');
    await server.recordings?.store('b');
    await server.recordings?.retain();
    expect(deleted).toEqual([
      ['a', a[0], 'stream-size'],
      ['b', b[0], 'server-size'],
    ]);
    expect(files(join(root, 'a')).sort()).toEqual([`${a[1]}.mkv`, `${a[2]}.mkv`]);
    expect(files(join(root, 'b'))).toEqual([`${b[1]}.mkv`]);
  }, 20_000);
});

describe('retention, at its bounds', () => {
  it('by age: a segment goes once its last frame is older than recordDeleteAfter, not its first', async () => {
    const root = join(tmp.dir, 'age-bounds');
    const base = Date.now() - 50 * HOUR;
    const old = await oldSegments(join(root, 'cam'), [base, base + 10 * HOUR]);
    server = await serve({
      port: 0,
      recordPath: root,
      streams: [{ name: 'cam', source: 'test', width: 160, recordDeleteAfter: '1d' }],
    });
    const store = await server.recordings?.store('cam');
    const [first, second] = store?.closed ?? [];
    const deleted: string[] = [];
    server.on('record-deleted', (_s, info) => deleted.push(info.name));
    const DAY = 24 * HOUR;
    // Its last frame exactly recordDeleteAfter old: kept.
    await server.recordings?.retain((first?.end ?? 0) + DAY);
    expect(deleted).toEqual([]);
    await server.recordings?.retain((first?.end ?? 0) + DAY + 1);
    expect(deleted).toEqual([old[0]]);
    // The cut-off inside the second segment (its first frame older, its last newer): it stays.
    await server.recordings?.retain((second?.start ?? 0) + 500 + DAY);
    expect(deleted).toEqual([old[0]]);
    expect(files(join(root, 'cam'))).toEqual([`${old[1]}.mkv`]);
  }, 20_000);

  it('by size: exactly at recordMaxBytes (stream and server) nothing goes', async () => {
    const root = join(tmp.dir, 'size-bounds');
    const now = Date.now();
    await oldSegments(join(root, 'a'), [now - 5 * HOUR, now - 4 * HOUR]);
    await oldSegments(join(root, 'b'), [now - 3 * HOUR]);
    const bytesOf = async (s: string): Promise<number> =>
      (await RecordingStore.load(join(root, s), s)).closed.reduce((n, i) => n + i.bytes, 0);
    const a = await bytesOf('a');
    const b = await bytesOf('b');
    server = await serve({
      port: 0,
      recordPath: root,
      recordMaxBytes: a + b,
      streams: [
        { name: 'a', source: 'test', width: 160, recordMaxBytes: a },
        { name: 'b', source: 'test', width: 160 },
      ],
    });
    const deleted: string[] = [];
    server.on('record-deleted', (_s, info) => deleted.push(info.name));
    await server.recordings?.store('a');
    await server.recordings?.store('b');
    await server.recordings?.retain();
    expect(deleted).toEqual([]);
    expect(files(join(root, 'a')).length + files(join(root, 'b')).length).toBe(3);
  }, 20_000);

  it('everything expired and over every cap: every closed segment goes, the one being written stays', async () => {
    const root = join(tmp.dir, 'all');
    const now = Date.now();
    const old = await oldSegments(join(root, 'cam'), [now - 3 * HOUR, now - 2 * HOUR]);
    server = await serve({
      port: 0,
      recordPath: root,
      recordMaxBytes: 1024,
      streams: [
        {
          name: 'cam',
          source: 'test',
          width: 160,
          record: true,
          recordDeleteAfter: '1d',
          recordMaxBytes: 1024,
        },
      ],
    });
    const deleted: string[] = [];
    server.on('record-deleted', (_s, info) => deleted.push(info.name));
    const store = await server.recordings?.store('cam');
    for (let i = 0; i < 100 && !store?.segments().some((s) => s.live); i++) await sleep(50);
    const live = store?.segments().find((s) => s.live)?.info.name;
    expect(live).toBeDefined();
    await server.recordings?.retain(now + 10 * 24 * HOUR);
    expect(deleted).toEqual(old);
    expect(files(join(root, 'cam'))).toEqual([`${live}.mkv`]);
    expect(store?.segments().map((s) => s.info.name)).toEqual([live]);
  }, 20_000);
});
