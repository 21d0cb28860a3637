import {
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Hub } from '../../src/hub/hub.js';
import { Frame } from '../../src/hub/frame.js';
import { scanMkv } from '../../src/record/matroska-scan.js';
import { RecordingStore, type RecordedFrame } from '../../src/record/recording-store.js';
import { parseIndex } from '../../src/record/segment-index.js';
import type { SegmentInfo } from '../../src/record/segment-name.js';
import { SegmentWriter } from '../../src/record/segment-writer.js';
import { RETRY_MS, StreamRecorder } from '../../src/record/stream-recorder.js';
import { makeTempDir } from '../helpers/fixtures.js';

const T0 = Date.UTC(2026, 11, 7, 3, 0, 0, 0);

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = makeTempDir('framecast-store-');
});
afterAll(() => tmp.cleanup());

let n = 0;
function dir(): string {
  const d = join(tmp.dir, `d${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
}

/** Bytes standing for frame `i`'s JPEG (the store never decodes them). */
const jpeg = (i: number): Buffer => Buffer.from(`\xff\xd8 frame ${i} \xff\xd9`, 'latin1');

function frame(i: number, t: number): Frame {
  return new Frame({ seq: i + 1, width: 8, height: 6, capturedAt: t, encodedAt: t, jpeg: jpeg(i) });
}

/** A closed segment of `count` frames 100 ms apart from `t0`, listed in `store` when given. */
async function segment(d: string, t0: number, count: number, store?: RecordingStore): Promise<SegmentInfo> {
  const w = await SegmentWriter.create(d, 'cam', frame(0, t0));
  for (let i = 0; i < count; i++) w.append(frame(i, t0 + i * 100));
  const info = await w.close();
  await store?.added(info, null);
  return info;
}

describe('RecordingStore and path safety', () => {
  it('a link or a folder named like a segment is left alone (a note says so); the rest loads', async () => {
    const d = dir();
    const outside = join(tmp.dir, 'outside.txt');
    writeFileSync(outside, 'not a recording');
    const good = await segment(d, T0, 3);
    symlinkSync(outside, join(d, '2026-12-07_04-00-00-000.mkv'));
    mkdirSync(join(d, '2026-12-07_05-00-00-000.mkv'));
    const notes: string[] = [];
    const store = await RecordingStore.load(d, 'cam', notes);
    expect(store.closed.map((s) => s.name)).toEqual([good.name]);
    expect(notes.filter((m) => m.includes('2026-12-07_04-00-00-000.mkv'))).toHaveLength(1);
    expect(notes.filter((m) => m.includes('2026-12-07_05-00-00-000.mkv'))).toHaveLength(1);
    expect(readFileSync(outside, 'utf8')).toBe('not a recording');
    expect(readdirSync(d).sort()).toContain('2026-12-07_04-00-00-000.mkv');
    expect((await store.frameAt(T0 + 150))?.jpeg.equals(jpeg(1))).toBe(true);
  });

  it('never writes through a link planted at the catalog or at a file it writes then renames', async () => {
    const d = dir();
    const outside = join(tmp.dir, `outside-${n}.txt`);
    writeFileSync(outside, 'precious');
    // A segment cut by a crash: not in the catalog, its index behind (rebuilt through NAME.idx.tmp).
    const cut = await segment(d, T0, 4);
    const idxPath = join(d, `${cut.name}.idx`);
    const lines = readFileSync(idxPath, 'utf8').split('\n');
    writeFileSync(idxPath, lines.slice(0, 3).join('\n') + '\n');
    symlinkSync(outside, join(d, `${cut.name}.idx.tmp`));
    symlinkSync(outside, join(d, 'catalog.ndjson.tmp'));
    const store = await RecordingStore.load(d, 'cam');
    expect(store.closed.map((s) => s.frames)).toEqual([4]);
    expect(readFileSync(outside, 'utf8')).toBe('precious');
    // The catalog itself a link: load writes a catalog of its own in its place.
    const e = dir();
    await segment(e, T0, 2);
    symlinkSync(outside, join(e, 'catalog.ndjson'));
    const other = await RecordingStore.load(e, 'cam');
    expect(lstatSync(join(e, 'catalog.ndjson')).isFile()).toBe(true);
    expect(readFileSync(outside, 'utf8')).toBe('precious');
    // A link planted later: a closed segment is refused, not appended to its target.
    unlinkSync(join(e, 'catalog.ndjson'));
    symlinkSync(outside, join(e, 'catalog.ndjson'));
    await expect(segment(e, T0 + 10_000, 2, other)).rejects.toThrow(/ELOOP/);
    await expect(other.remove(other.closed[0] as SegmentInfo)).rejects.toThrow(/ELOOP/);
    expect(readFileSync(outside, 'utf8')).toBe('precious');
  });
});

/** Every frame `store` plays from the start. */
async function all(store: RecordingStore): Promise<RecordedFrame[]> {
  const out: RecordedFrame[] = [];
  for await (const f of store.frames(0)) out.push(f);
  return out;
}

/** The Duration (ms) written in a .mkv. */
function durationOf(path: string): number {
  const buf = readFileSync(path);
  return buf.readDoubleBE(scanMkv(buf).durationOffset as number);
}

describe('recovery of a segment left by a killed process (not in the catalog)', () => {
  it('whole files, never closed: the Duration is written, every frame kept with its metadata', async () => {
    const d = dir();
    const w = await SegmentWriter.create(d, 'cam', frame(0, T0));
    for (let i = 0; i < 4; i++)
      w.append(new Frame({ ...frame(i, T0 + i * 100), meta: Buffer.from(`{"i":${i}}`) }));
    await w.flushed();
    const mkv = join(d, `${w.name}.mkv`);
    // The index is written on its own: wait for its last line.
    while (parseIndex(readFileSync(join(d, `${w.name}.idx`))).frames.length < 4)
      await new Promise((r) => setTimeout(r, 5));
    const idxBefore = readFileSync(join(d, `${w.name}.idx`));
    expect(durationOf(mkv)).toBe(0); // as a killed process leaves it
    const store = await RecordingStore.load(d, 'cam');
    expect(store.closed).toMatchObject([{ frames: 4, start: T0, end: T0 + 300 }]);
    expect(durationOf(mkv)).toBe(300);
    expect(readFileSync(join(d, `${w.name}.idx`)).equals(idxBefore)).toBe(true);
    expect((await all(store)).map((f) => f.meta?.toString())).toEqual([
      '{"i":0}',
      '{"i":1}',
      '{"i":2}',
      '{"i":3}',
    ]);
    await w.close();
  });

  it('the index behind the video: the missing frames are indexed from it, seq and times going on', async () => {
    const d = dir();
    const t0 = T0 + 0.25; // DateUTC in the .mkv holds whole ms: the index's start is the exact one
    const times = [t0, t0 + 100.4, t0 + 100.45, t0 + 300, t0 + 400];
    const w = await SegmentWriter.create(d, 'cam', frame(0, t0));
    for (const [i, t] of times.entries()) w.append(frame(i, t));
    w.annotate({ analyzer: 'det', seq: 1, capturedAt: t0, receivedAt: t0 + 5, json: Buffer.from('{"a":1}') });
    const info = await w.close();
    // Head, frames 1 and 2, the annotation, then nothing: frames 3..5 are only in the .mkv.
    const idxPath = join(d, `${info.name}.idx`);
    const lines = readFileSync(idxPath, 'utf8').split('\n');
    writeFileSync(idxPath, [lines[0], lines[1], lines[2], lines[6], ''].join('\n'));
    const store = await RecordingStore.load(d, 'cam');
    const back = await all(store);
    expect(back.map((f) => f.seq)).toEqual([1, 2, 3, 4, 5]);
    // Rebuilt times: the segment's start plus the block's whole ms, never before the frame before.
    expect(back.map((f) => f.capturedAt)).toEqual([t0, t0 + 100.4, t0 + 100.4, t0 + 300, t0 + 400]);
    expect(back.map((f) => f.jpeg.equals(jpeg(f.seq - 1)))).toEqual([true, true, true, true, true]);
    expect(back[0]?.annotations.map((a) => a.json.toString())).toEqual(['{"a":1}']);
    expect(store.closed).toMatchObject([{ frames: 5, start: t0, end: t0 + 400, width: 8, height: 6 }]);
  });

  it('no index at all: every frame from the video, the size from its track', async () => {
    const d = dir();
    const info = await segment(d, T0, 3);
    unlinkSync(join(d, `${info.name}.idx`));
    const store = await RecordingStore.load(d, 'cam');
    expect(store.closed).toMatchObject([{ frames: 3, start: T0, end: T0 + 200, width: 8, height: 6 }]);
    expect((await all(store)).map((f) => [f.seq, f.capturedAt - T0])).toEqual([
      [1, 0],
      [2, 100],
      [3, 200],
    ]);
  });

  it('the video cut inside its last frame, the index whole: that frame leaves the index too', async () => {
    const d = dir();
    const info = await segment(d, T0, 5);
    const mkv = join(d, `${info.name}.mkv`);
    const last = parseIndex(readFileSync(join(d, `${info.name}.idx`))).frames[4];
    truncateSync(mkv, (last?.offset ?? 0) + 3);
    const store = await RecordingStore.load(d, 'cam');
    expect(store.closed[0]?.frames).toBe(4);
    expect((await all(store)).map((f) => f.seq)).toEqual([1, 2, 3, 4]);
    expect(parseIndex(readFileSync(join(d, `${info.name}.idx`))).frames).toHaveLength(4);
    expect(durationOf(mkv)).toBe(300);
  });

  it('no whole frame: both files deleted, a note says so', async () => {
    const d = dir();
    const w = await SegmentWriter.create(d, 'cam', frame(0, T0));
    w.append(frame(0, T0));
    await w.close();
    const first = parseIndex(readFileSync(join(d, `${w.name}.idx`))).frames[0];
    truncateSync(join(d, `${w.name}.mkv`), (first?.offset ?? 0) + 2);
    const notes: string[] = [];
    const store = await RecordingStore.load(d, 'cam', notes);
    expect(store.closed).toEqual([]);
    expect(notes).toEqual([`${join(d, w.name)}.mkv: no whole frame, deleted`]);
    expect(readdirSync(d).filter((f) => f !== 'catalog.ndjson')).toEqual([]);
  });
});

describe('the catalog across restarts', () => {
  it('lines in any order (segments close out of order): listed by start, and found by time', async () => {
    const d = dir();
    const infos = [
      await segment(d, T0, 2),
      await segment(d, T0 + 10_000, 2),
      await segment(d, T0 + 20_000, 2),
    ];
    writeFileSync(join(d, 'catalog.ndjson'), [2, 0, 1].map((i) => JSON.stringify(infos[i]) + '\n').join(''));
    const store = await RecordingStore.load(d, 'cam');
    expect(store.closed.map((s) => s.start - T0)).toEqual([0, 10_000, 20_000]);
    expect((await store.frameAt(T0 + 10_150))?.jpeg.equals(jpeg(1))).toBe(true);
  });

  it('a line cut by a crash is dropped and the catalog written anew, so the next line is not glued to it', async () => {
    const d = dir();
    const a = await segment(d, T0, 2);
    const b = await segment(d, T0 + 10_000, 2);
    // The crash cut a del line (its segment's files already gone).
    writeFileSync(
      join(d, 'catalog.ndjson'),
      JSON.stringify(a) + '\n' + JSON.stringify(b) + '\n' + '{"del":"2026-12-07_02-',
    );
    const store = await RecordingStore.load(d, 'cam');
    expect(store.closed.map((s) => s.name)).toEqual([a.name, b.name]);
    const text = readFileSync(join(d, 'catalog.ndjson'), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(
      text
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as SegmentInfo).name),
    ).toEqual([a.name, b.name]);
    await segment(d, T0 + 20_000, 2, store);
    const again: string[] = [];
    expect((await RecordingStore.load(d, 'cam', again)).closed).toHaveLength(3);
    expect(again).toEqual([]); // nothing to recover: every line whole
  });

  it('del lines are compacted away; a segment whose files are gone (deleted by hand) is dropped', async () => {
    const d = dir();
    const store = await RecordingStore.load(d, 'cam');
    const a = await segment(d, T0, 2, store);
    const b = await segment(d, T0 + 10_000, 2, store);
    const c = await segment(d, T0 + 20_000, 2, store);
    await store.remove(store.closed[0] as SegmentInfo);
    expect(readFileSync(join(d, 'catalog.ndjson'), 'utf8')).toContain(`{"del":"${a.name}"}`);
    expect((await RecordingStore.load(d, 'cam')).closed.map((s) => s.name)).toEqual([b.name, c.name]);
    expect(readFileSync(join(d, 'catalog.ndjson'), 'utf8')).toBe(
      JSON.stringify(b) + '\n' + JSON.stringify(c) + '\n',
    );
    unlinkSync(join(d, `${b.name}.mkv`));
    unlinkSync(join(d, `${b.name}.idx`));
    const again = await RecordingStore.load(d, 'cam');
    expect(again.closed.map((s) => s.name)).toEqual([c.name]);
    expect(readFileSync(join(d, 'catalog.ndjson'), 'utf8')).toBe(JSON.stringify(c) + '\n');
  });

  it('a catalog line naming a file outside the folder (or not a segment name) is ignored', async () => {
    const d = dir();
    const a = await segment(d, T0, 2);
    writeFileSync(
      join(d, 'catalog.ndjson'),
      [{ ...a, name: '../../etc/passwd' }, { ...a, name: 'catalog' }, { ...a, frames: -1 }, a]
        .map((l) => JSON.stringify(l) + '\n')
        .join(''),
    );
    const store = await RecordingStore.load(d, 'cam');
    expect(store.closed).toEqual([a]);
  });
});

describe('reading at a time', () => {
  /** Segments of 3 frames (0, 100, 200 ms) at T0, T0+1 s after the first ends (no gap) and T0+10 s. */
  async function three(): Promise<RecordingStore> {
    const d = dir();
    const store = await RecordingStore.load(d, 'cam');
    await segment(d, T0, 3, store);
    await segment(d, T0 + 1000, 3, store);
    await segment(d, T0 + 10_000, 3, store);
    return store;
  }
  const timesFrom = async (store: RecordingStore, start: number, end = Infinity): Promise<number[]> => {
    const out: number[] = [];
    for await (const f of store.frames(start, end)) out.push(f.capturedAt - T0);
    return out;
  };

  it('a start inside a recording begins with the frame at or before it; in a gap, with the next recording', async () => {
    const store = await three();
    expect(await timesFrom(store, T0 + 100, T0 + 1100)).toEqual([100, 200, 1000, 1100]);
    expect(await timesFrom(store, T0 + 99, T0 + 1000)).toEqual([0, 100, 200, 1000]);
    // Exactly at a segment's first frame: from it.
    expect(await timesFrom(store, T0 + 1000, T0 + 1100)).toEqual([1000, 1100]);
    expect(await timesFrom(store, T0 + 10_000, T0 + 10_000)).toEqual([10_000]);
    // Up to a second after a segment's last frame, that frame is the picture of the moment.
    expect(await timesFrom(store, T0 + 1200 + 1000, T0 + 10_000)).toEqual([1200, 10_000]);
    // Later, in the gap: the next recording, from its start (never the one before replayed).
    expect(await timesFrom(store, T0 + 1200 + 1001, T0 + 10_100)).toEqual([10_000, 10_100]);
    // Before everything: from the first frame.
    expect(await timesFrom(store, T0 - 60_000, T0 + 100)).toEqual([0, 100]);
    // After everything: nothing.
    expect(await timesFrom(store, T0 + 10_200 + 1001)).toEqual([]);
  });

  it('frameAt: at or before the time, up to a second after a segment; nothing in a gap', async () => {
    const store = await three();
    const at = async (t: number): Promise<number | null> => {
      const f = await store.frameAt(T0 + t);
      return f ? f.capturedAt - T0 : null;
    };
    expect(await at(-1)).toBeNull();
    expect(await at(0)).toBe(0);
    expect(await at(99)).toBe(0);
    expect(await at(100)).toBe(100);
    expect(await at(999)).toBe(200);
    expect(await at(1000)).toBe(1000);
    expect(await at(2200)).toBe(1200);
    expect(await at(2201)).toBeNull();
    expect(await at(9999)).toBeNull();
    expect(await at(11_200)).toBe(10_200);
    expect(await at(11_201)).toBeNull();
  });
});

describe('StreamRecorder', () => {
  const hub = { join: () => {}, leave: () => {} } as unknown as Hub;
  const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

  it('every frame once, in order, across segments: one opens at segmentMs and at a new size', async () => {
    const d = dir();
    const store = await RecordingStore.load(d, 'cam');
    const rec = new StreamRecorder(hub, store, 1000, {
      failed: () => {},
      resumed: () => {},
      segment: () => {},
    });
    for (let i = 0; i < 25; i++) {
      const t = T0 + i * 100;
      rec.offer(i === 22 ? new Frame({ ...frame(i, t), width: 16, height: 12 }) : frame(i, t));
      if (i % 7 === 0) await tick(); // some frames come while a segment opens, some after
    }
    await rec.stop();
    const seqs: number[] = [];
    for await (const f of store.frames(0)) seqs.push(f.seq);
    expect(seqs).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(store.closed.map((s) => [s.start - T0, s.frames, s.width])).toEqual([
      [0, 10, 8],
      [1000, 10, 8],
      [2000, 2, 8],
      [2200, 1, 16],
      [2300, 2, 8],
    ]);
    expect(rec.status).toMatchObject({
      state: 'stopped',
      framesWritten: 25,
      framesDropped: 0,
      segmentsWritten: 5,
    });
  });

  it('a disk that fails is a state: frames dropped, a new segment tried after RETRY_MS, then resumed', async () => {
    const d = dir();
    const store = await RecordingStore.load(join(d, 'cam'), 'cam');
    writeFileSync(join(d, 'cam'), 'in the way'); // the folder cannot be made
    const events: string[] = [];
    const rec = new StreamRecorder(hub, store, 60_000, {
      failed: (e) => events.push(`failed ${(e as NodeJS.ErrnoException).code}`),
      resumed: () => events.push('resumed'),
      segment: () => {},
    });
    vi.useFakeTimers({ now: Date.now(), toFake: ['Date'] });
    try {
      rec.offer(frame(0, T0));
      await tick();
      expect(rec.status).toMatchObject({ state: 'failing', framesDropped: 1 });
      expect(events).toEqual(['failed EEXIST']);
      // The disk is back, but the next try waits for RETRY_MS: frames meanwhile are dropped.
      unlinkSync(join(d, 'cam'));
      rec.offer(frame(1, T0 + 100));
      await tick();
      expect(rec.status).toMatchObject({ state: 'failing', framesDropped: 2, framesWritten: 0 });
      vi.setSystemTime(Date.now() + RETRY_MS);
      rec.offer(frame(2, T0 + 200));
      await tick();
      rec.offer(frame(3, T0 + 300));
      expect(rec.status).toMatchObject({ state: 'recording', error: null, framesWritten: 2 });
      expect(events).toEqual(['failed EEXIST', 'resumed']);
    } finally {
      vi.useRealTimers();
    }
    await rec.stop();
    expect(store.closed.map((s) => s.frames)).toEqual([2]);
  });
});
