import {
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Frame } from '../../src/hub/frame.js';
import { RecordingStore } from '../../src/record/recording-store.js';
import type { SegmentInfo } from '../../src/record/segment-name.js';
import { SegmentWriter } from '../../src/record/segment-writer.js';
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
