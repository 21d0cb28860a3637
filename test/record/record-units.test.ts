import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Frame } from '../../src/hub/frame.js';
import { mkvBlockHeader, mkvCluster, vint } from '../../src/record/matroska.js';
import { RecordingStore, type RecordedFrame } from '../../src/record/recording-store.js';
import { frameAtOrBefore, parseIndex } from '../../src/record/segment-index.js';
import { segmentFileName } from '../../src/record/segment-name.js';
import { SegmentWriter } from '../../src/record/segment-writer.js';
import { StreamRecorder } from '../../src/record/stream-recorder.js';
import type { Hub } from '../../src/hub/hub.js';
import type { Annotation } from '../../src/meta/annotations.js';
import { parseBytes, parseDuration } from '../../src/util/units.js';
import { FFMPEG, makeTempDir } from '../helpers/fixtures.js';

/** `n` distinct small JPEGs (160x90) from ffmpeg's test pattern. */
function jpegs(n: number): Buffer[] {
  const all = execFileSync(FFMPEG, [
    ...['-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=160x90:rate=30`],
    ...['-frames:v', String(n), '-q:v', '5', '-f', 'image2pipe', '-c:v', 'mjpeg', '-'],
  ]);
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 2; i < all.length - 1; i++)
    if (all[i] === 0xff && all[i + 1] === 0xd9) {
      out.push(all.subarray(start, i + 2));
      start = i + 2;
      i++;
    }
  expect(out).toHaveLength(n);
  return out;
}

let tmp: { dir: string; cleanup: () => void };
let images: Buffer[];
const T0 = Date.UTC(2026, 11, 7, 3, 0, 0, 123) + 0.25;

beforeAll(() => {
  tmp = makeTempDir('framecast-record-');
  images = jpegs(40);
});
afterAll(() => tmp.cleanup());

let n = 0;
function dir(): string {
  const d = join(tmp.dir, `d${n++}`);
  execFileSync('mkdir', ['-p', d]);
  return d;
}

function frame(i: number, t: number, meta: string | null = null): Frame {
  return new Frame({
    seq: i + 1,
    width: 160,
    height: 90,
    capturedAt: t,
    encodedAt: t + 1,
    jpeg: images[i % images.length] as Buffer,
    meta: meta === null ? null : Buffer.from(meta),
  });
}

/** Writes `count` frames at irregular intervals (variable frame rate); returns their times. */
async function writeSegment(
  d: string,
  count: number,
  meta = false,
): Promise<{ w: SegmentWriter; times: number[] }> {
  const times: number[] = [];
  let t = T0;
  for (let i = 0; i < count; i++) {
    times.push(t);
    t += i % 3 === 0 ? 33 : i % 3 === 1 ? 41 : 2600; // a gap past a cluster now and then
  }
  const w = await SegmentWriter.create(d, 'cam', frame(0, times[0] as number));
  for (let i = 0; i < count; i++)
    expect(w.append(frame(i, times[i] as number, meta ? `{"i":${i},"label":"é"}` : null))).toBe(true);
  return { w, times };
}

function ffprobeFrames(path: string): { count: number; pts: number[] } {
  const out = execFileSync('ffprobe', [
    ...['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=pts_time', '-of', 'csv=p=0', path],
  ]).toString();
  const pts = out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => Number(l));
  return { count: pts.length, pts };
}

describe('Matroska bytes', () => {
  it('vint: the shortest EBML size, all-ones reserved', () => {
    expect([...vint(0)]).toEqual([0x80]);
    expect([...vint(126)]).toEqual([0xfe]);
    expect([...vint(127)]).toEqual([0x40, 0x7f]); // 0xff would mean "unknown"
    expect([...vint(16382)]).toEqual([0x7f, 0xfe]);
    expect([...vint(16383)]).toEqual([0x20, 0x3f, 0xff]);
    expect(() => vint(-1)).toThrow(RangeError);
  });

  it('a block timestamp outside an int16 is refused, not wrapped', () => {
    expect(() => mkvBlockHeader(10, 32768)).toThrow(RangeError);
    expect(mkvBlockHeader(10, -1).readInt16BE(3)).toBe(-1);
    expect([...mkvCluster(0).subarray(0, 4)]).toEqual([0x1f, 0x43, 0xb6, 0x75]);
  });
});

describe('a recorded segment', () => {
  it('ffprobe counts every frame at its capture time (ms), ffmpeg decodes each, the JPEGs are the very bytes', async () => {
    const d = dir();
    const { w, times } = await writeSegment(d, 12);
    const info = await w.close();
    expect(info).toMatchObject({ frames: 12, width: 160, height: 90, start: T0, end: times[11] });
    const mkv = join(d, `${info.name}.mkv`);
    expect(info.name).toBe('2026-12-07_03-00-00-123');
    const { count, pts } = ffprobeFrames(mkv);
    expect(count).toBe(12);
    expect(pts.map((p) => Math.round(p * 1000))).toEqual(times.map((t) => Math.round(t - T0)));
    // Every frame decodes.
    const decoded = execFileSync(FFMPEG, [
      ...['-v', 'error', '-i', mkv, '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'gray', '-'],
    ]);
    expect(decoded.length).toBe(12 * 160 * 90);
    // Stream copy out of it gives back the very JPEGs.
    const copied = execFileSync(FFMPEG, ['-v', 'error', '-i', mkv, '-c', 'copy', '-f', 'mjpeg', '-']);
    expect(copied.equals(Buffer.concat(images.slice(0, 12)))).toBe(true);
    // The duration was written when the segment closed.
    const dur = execFileSync('ffprobe', [
      '-v',
      'error',
      '-show_entries',
      'format=duration',
      '-of',
      'csv=p=0',
      mkv,
    ]);
    expect(Number(dur.toString())).toBeCloseTo(((times[11] as number) - T0) / 1000, 2);
  });

  it('the index gives each frame at its offset, with its metadata byte for byte', async () => {
    const d = dir();
    const { w, times } = await writeSegment(d, 5, true);
    const info = await w.close();
    const idx = parseIndex(readFileSync(join(d, `${info.name}.idx`)));
    const mkv = readFileSync(join(d, `${info.name}.mkv`));
    expect(idx.frames.map((f) => f.t)).toEqual(times);
    for (const [i, f] of idx.frames.entries()) {
      expect(mkv.subarray(f.offset, f.offset + f.length).equals(images[i] as Buffer)).toBe(true);
      expect(f.meta?.toString()).toBe(`{"i":${i},"label":"é"}`);
    }
    expect(frameAtOrBefore(idx.frames, T0 - 1)).toBe(-1);
    expect(frameAtOrBefore(idx.frames, (times[2] as number) + 0.5)).toBe(2);
    expect(frameAtOrBefore(idx.frames, times[4] as number)).toBe(4);
  });

  it('a file cut in the middle of a frame (SIGKILL) is repaired at load: every whole frame kept, then decodable', async () => {
    const d = dir();
    const { w } = await writeSegment(d, 10, true);
    const name = w.name;
    await w.close();
    const mkvPath = join(d, `${name}.mkv`);
    const idxPath = join(d, `${name}.idx`);
    const idx = parseIndex(readFileSync(idxPath));
    const f7 = idx.frames[7];
    // Cut inside frame 8 (index 7), and the index after frame 5 (the index lags the video).
    truncateSync(mkvPath, (f7?.offset ?? 0) + 100);
    const lines = readFileSync(idxPath, 'utf8').split('\n');
    writeFileSync(idxPath, lines.slice(0, 6).join('\n') + '\n' + (lines[6] ?? '').slice(0, 10));
    const notes: string[] = [];
    const store = await RecordingStore.load(d, 'cam', notes);
    expect(store.closed).toHaveLength(1);
    expect(store.closed[0]?.frames).toBe(7);
    expect(notes.join()).toMatch(
      /recovered after an unclean stop \(7 frames, \d+ bytes of a cut frame removed, 2 frames indexed from the video\)/,
    );
    expect(ffprobeFrames(mkvPath).count).toBe(7);
    // The cut frame's bytes are gone: the file ends where the last whole frame ends.
    const f6 = idx.frames[6];
    expect(statSync(mkvPath).size).toBe((f6?.offset ?? 0) + (f6?.length ?? 0));
    const back: RecordedFrame[] = [];
    for await (const f of store.frames(0)) back.push(f);
    expect(back.map((f) => f.jpeg.equals(images[back.indexOf(f)] as Buffer))).toEqual(Array(7).fill(true));
    // Frames indexed from the video lost their metadata (it lives in the index only); the others kept it.
    expect(back.map((f) => f.meta !== null)).toEqual([true, true, true, true, true, false, false]);
    // A second load finds it in the catalog, as repaired.
    const again = await RecordingStore.load(d, 'cam');
    expect(again.closed).toEqual(store.closed);
  });

  it('finds the segment and frame of a time among many (binary search), and the frame at or before it', async () => {
    const d = dir();
    const starts: number[] = [];
    for (let s = 0; s < 5; s++) {
      const t0 = T0 + s * 10_000;
      starts.push(t0);
      const w = await SegmentWriter.create(d, 'cam', frame(0, t0));
      for (let i = 0; i < 3; i++) w.append(frame(s * 3 + i, t0 + i * 100));
      await w.close();
    }
    const store = await RecordingStore.load(d, 'cam');
    expect(store.closed.map((s) => s.start)).toEqual(starts);
    expect(await store.frameAt(T0 - 1)).toBeNull();
    expect((await store.frameAt(T0 + 20_150))?.seq).toBe(8); // segment 2, its second frame (image 7)
    expect((await store.frameAt(T0 + 20_150))?.jpeg.equals(images[7] as Buffer)).toBe(true);
    // In the gap after a segment's end (more than 1 s): nothing was recorded then.
    expect(await store.frameAt(T0 + 25_000)).toBeNull();
    const from: number[] = [];
    for await (const f of store.frames(T0 + 30_050, T0 + 40_100)) from.push(f.capturedAt - T0);
    expect(from).toEqual([30_000, 30_100, 30_200, 40_000, 40_100]);
  });

  it('remove() deletes both files and the catalog forgets the segment', async () => {
    const d = dir();
    const { w } = await writeSegment(d, 3);
    const info = await w.close();
    const store = await RecordingStore.load(d, 'cam');
    const listed = store.closed[0];
    expect(listed).toEqual(info);
    await store.remove(listed as typeof info);
    expect(readdirSync(d).filter((f) => f.endsWith('.mkv') || f.endsWith('.idx'))).toEqual([]);
    expect((await RecordingStore.load(d, 'cam')).closed).toEqual([]);
    expect(statSync(join(d, 'catalog.ndjson')).size).toBe(0);
  });
});

describe('the recorder', () => {
  it('files an annotation that comes while its segment is being opened (after the frames, not lost)', async () => {
    const d = dir();
    const store = await RecordingStore.load(d, 'cam');
    const hub = { join: () => {}, leave: () => {} } as unknown as Hub;
    const rec = new StreamRecorder(hub, store, 1000, {
      failed: () => {},
      resumed: () => {},
      segment: () => {},
    });
    const note = (seq: number, t: number): Annotation => ({
      analyzer: 'detector',
      seq,
      capturedAt: t,
      receivedAt: t + 5,
      json: Buffer.from(`{"objects":[],"seq":${seq}}`),
    });
    // The first frame opens a segment (files are created asynchronously); its annotation comes at once.
    rec.offer(frame(0, T0));
    rec.annotation(note(1, T0));
    // A frame past the segment's length opens the next one: the same again.
    rec.offer(frame(1, T0 + 40));
    await new Promise((r) => setTimeout(r, 100));
    rec.offer(frame(2, T0 + 1100));
    rec.annotation(note(2, T0 + 40));
    rec.annotation(note(3, T0 + 1100));
    await rec.stop();
    const segs = store.segments();
    expect(segs).toHaveLength(2);
    const filed = [];
    for (const ref of segs) filed.push(...(await store.index(ref)).annotations.map((a) => a.seq));
    expect(filed).toEqual([1, 2, 3]);
  });
});

describe('units', () => {
  it('durations and sizes as written in a config file', () => {
    expect(parseDuration('7d')).toBe(7 * 86400);
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration(' 10m ')).toBe(600);
    expect(parseDuration('500ms')).toBe(0.5);
    expect(parseDuration('7 days')).toBeNull();
    expect(parseDuration('-1s')).toBeNull();
    expect(parseBytes('500MB')).toBe(500e6);
    expect(parseBytes('2GiB')).toBe(2 * 2 ** 30);
    expect(parseBytes('1.5kb')).toBe(1500);
    expect(parseBytes('ten')).toBeNull();
    expect(segmentFileName(Date.UTC(2026, 0, 2, 3, 4, 5, 6))).toBe('2026-01-02_03-04-05-006');
  });
});

describe('segments being written and closing', () => {
  it('a playback that crosses segments while they close reads every frame, in order, whichever closes first', async () => {
    const d = dir();
    const store = await RecordingStore.load(d, 'cam');
    const a = await SegmentWriter.create(d, 'cam', frame(0, T0));
    store.opened(a);
    for (let i = 0; i < 3; i++) a.append(frame(i, T0 + i * 10));
    const b = await SegmentWriter.create(d, 'cam', frame(3, T0 + 1000));
    store.opened(b);
    for (let i = 3; i < 6; i++) b.append(frame(i, T0 + 1000 + i * 10));
    const seqs: number[] = [];
    const it = store.frames(T0);
    seqs.push((await it.next()).value?.seq as number);
    // The newer segment closes before the older one: the list keeps its order, nothing is skipped.
    await store.added(await b.close(), b);
    seqs.push((await it.next()).value?.seq as number);
    await store.added(await a.close(), a);
    for await (const f of it) seqs.push(f.seq);
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6]);
    expect(store.segments().map((s) => s.live)).toEqual([null, null]);
    expect(store.closed.map((s) => s.frames)).toEqual([3, 3]);
    expect(store.oldestClosed()?.start).toBe(T0);
  });
});

describe('nothing outside the recordings folder is read', () => {
  it('a segment name that is a symbolic link (to a file elsewhere) is skipped and named, never opened; a stream folder that is a link is refused', async () => {
    const d = dir();
    const { w } = await writeSegment(d, 3);
    await w.close();
    const outside = join(tmp.dir, 'secret.txt');
    writeFileSync(outside, 'not a recording');
    symlinkSync(outside, join(d, '2026-12-07_04-00-00-000.mkv'));
    const notes: string[] = [];
    const store = await RecordingStore.load(d, 'cam', notes);
    expect(store.closed.map((s) => s.name)).toEqual([w.name]);
    expect(notes.join('\n')).toMatch(/2026-12-07_04-00-00-000\.mkv: skipped \(.*ELOOP/);
    expect(readFileSync(outside, 'utf8')).toBe('not a recording');
    const linked = join(tmp.dir, 'linked-stream');
    symlinkSync(d, linked);
    await expect(RecordingStore.load(linked, 'cam')).rejects.toThrow(/is not a directory/);
  });
});
