import { describe, expect, it } from 'vitest';
import { GAP_MS, spansOf } from '../../src/record/recording-reader.js';
import { parseIndex } from '../../src/record/segment-index.js';
import {
  SEGMENT_NAME,
  segmentFileName,
  segmentInfoOf,
  type SegmentInfo,
} from '../../src/record/segment-name.js';

const T0 = Date.UTC(2026, 11, 7, 3, 0, 0, 0);

/** A closed segment of `frames` frames from `start` to `end` (ms after T0), 100 bytes a frame. */
function seg(start: number, end: number, frames: number): { info: SegmentInfo } {
  return {
    info: {
      name: '2026-12-07_03-00-00-000',
      start: T0 + start,
      end: T0 + end,
      frames,
      bytes: frames * 100,
      width: 8,
      height: 6,
    },
  };
}

describe('spansOf', () => {
  it('joins segments that follow one another (up to GAP_MS apart), sums them, and splits at a longer gap', () => {
    const spans = spansOf([
      seg(0, 9_960, 250),
      seg(10_000, 19_960, 250),
      seg(19_960 + GAP_MS, 30_000, 200), // exactly GAP_MS after: the same span
      seg(30_000 + GAP_MS + 1, 40_000, 100), // 1 ms more: a new span
    ]);
    expect(spans).toEqual([
      { start: T0, end: T0 + 30_000, frames: 700, bytes: 70_000, segments: 3 },
      { start: T0 + 32_001, end: T0 + 40_000, frames: 100, bytes: 10_000, segments: 1 },
    ]);
  });

  it('a slow stream (a frame every 5 s): a pause of up to two of its intervals is no gap', () => {
    // 5 frames over 20 s: an interval of 5 s, so 10 s between segments joins them; then 10 frames
    // over 50 s (5.6 s apart on average): 12 s is a gap.
    const spans = spansOf([seg(0, 20_000, 5), seg(30_000, 50_000, 5), seg(62_000, 80_000, 5)]);
    expect(spans.map((s) => [s.start - T0, s.end - T0, s.segments])).toEqual([
      [0, 50_000, 2],
      [62_000, 80_000, 1],
    ]);
    // One frame says no interval: GAP_MS decides.
    expect(spansOf([seg(0, 0, 1), seg(GAP_MS, GAP_MS, 1)])).toEqual([
      { start: T0, end: T0 + GAP_MS, frames: 2, bytes: 200, segments: 2 },
    ]);
    expect(spansOf([seg(0, 0, 1), seg(GAP_MS + 1, GAP_MS + 1, 1)]).length).toBe(2);
  });

  it('only the segments that overlap from..to, each whole; touching the bounds counts', () => {
    const segs = [
      seg(0, 10_000, 10),
      seg(20_000, 30_000, 10),
      seg(40_000, 50_000, 10),
      seg(60_000, 70_000, 10),
    ];
    const at = (from: number, to: number): number[][] =>
      spansOf(segs, T0 + from, T0 + to).map((s) => [s.start - T0, s.end - T0, s.frames]);
    expect(at(25_000, 45_000)).toEqual([
      [20_000, 30_000, 10],
      [40_000, 50_000, 10],
    ]);
    expect(at(10_000, 20_000)).toEqual([
      [0, 10_000, 10],
      [20_000, 30_000, 10],
    ]);
    expect(at(10_001, 19_999)).toEqual([]);
    expect(at(70_001, Infinity)).toEqual([]);
    expect(spansOf(segs).length).toBe(4);
  });

  it('a segment inside the span so far (closing out of order) never pulls its end back', () => {
    const spans = spansOf([seg(0, 10_000, 100), seg(5_000, 8_000, 30)]);
    expect(spans).toEqual([{ start: T0, end: T0 + 10_000, frames: 130, bytes: 13_000, segments: 2 }]);
  });
});

describe('parseIndex on damaged lines', () => {
  const head = '{"v":1,"stream":"cam","start":1765076400123.25,"width":800,"height":450}\n';
  const good = '{"s":1,"t":1765076400123.25,"o":100,"n":50}\n';
  const parse = (text: string): ReturnType<typeof parseIndex> => parseIndex(Buffer.from(text, 'latin1'));

  it('reads the head, frames (metadata byte for byte) and annotations', () => {
    const idx = parse(
      head +
        good +
        '{"s":2,"t":1765076400156.5,"o":200,"n":60,"m":{"a":{"b":[1,2]}}}\n' +
        '{"a":"det.v2","s":1,"t":1765076400123.25,"r":1765076400130,"d":{"x":1}}\n',
    );
    expect(idx).toMatchObject({ stream: 'cam', start: 1765076400123.25, width: 800, height: 450 });
    expect(idx.frames.map((f) => [f.seq, f.t, f.offset, f.length, f.meta?.toString() ?? null])).toEqual([
      [1, 1765076400123.25, 100, 50, null],
      [2, 1765076400156.5, 200, 60, '{"a":{"b":[1,2]}}'],
    ]);
    expect(idx.annotations.map((a) => [a.analyzer, a.seq, a.t, a.receivedAt, a.json.toString()])).toEqual([
      ['det.v2', 1, 1765076400123.25, 1765076400130, '{"x":1}'],
    ]);
  });

  it('skips a line that does not parse whole, keeps the others', () => {
    const bad = [
      '{"s":2,"t":5,"o":3,"n":4}xyz', // bytes after the frame
      '{"s":2,"t":5,"o":3,"n":4,"m":{"a":1}}xyz', // bytes after the metadata
      '{"s":2,"t":1e5e5,"o":3,"n":4}', // not a number
      '{"s":2,"t":1..5,"o":3,"n":4,"m":{"a":1}}',
      '{"a":"det","s":2,"t":5,"r":6,"d":{"x":1}}xyz',
      '{"a":"det","s":2,"t":5,"r":6-,"d":{"x":1}}',
      '{"a":"../det","s":2,"t":5,"r":6,"d":{"x":1}}', // not an analyzer's name
      `{"a":"${'d'.repeat(65)}","s":2,"t":5,"r":6,"d":{"x":1}}`, // too long a name
      '{"a":"","s":2,"t":5,"r":6,"d":{"x":1}}',
      '{"s":2,"t":5,"o":-3,"n":4}',
      'garbage',
      '',
    ];
    const idx = parse(head + good + bad.join('\n') + '\n' + good.replace('"s":1', '"s":3'));
    expect(idx.frames.map((f) => f.seq)).toEqual([1, 3]);
    expect(idx.annotations).toEqual([]);
  });

  it('a last line cut by a crash (no newline) is skipped even when what is left looks whole', () => {
    // Cut before the last brace: `{"s":2,...,"m":{"a":{"b":1}` ends in a brace but is not the line.
    const idx = parse(head + good + '{"s":2,"t":6,"o":3,"n":4,"m":{"a":{"b":1}}}\n'.slice(0, -3) + '}');
    expect(idx.frames.map((f) => f.seq)).toEqual([1]);
    const ann = parse(head + good + '{"a":"det","s":1,"t":5,"r":6,"d":{"x":{"y":1}}}'.slice(0, -1));
    expect(ann.annotations).toEqual([]);
  });

  it('a damaged head: its fields null, the frames still read', () => {
    const idx = parse('{"v":1,"stream":"cam","start":"x","width":1.5,"height":null}\n' + good);
    expect(idx).toMatchObject({ stream: 'cam', start: null, width: null, height: null });
    expect(parse('{"v":1,"stream":"ca\n' + good)).toMatchObject({ stream: null, start: null });
    expect(parse('{"v":1,"stream":"ca\n' + good).frames).toHaveLength(1);
  });
});

describe('segmentInfoOf (a catalog line)', () => {
  const line = {
    name: '2026-12-07_03-00-00-123',
    start: T0 + 123.25,
    end: T0 + 60_000,
    frames: 1500,
    bytes: 9_000_000,
    width: 800,
    height: 450,
  };

  it('takes a whole line, a name with its -N suffix, zero sizes', () => {
    expect(segmentInfoOf(line)).toEqual(line);
    expect(segmentInfoOf({ ...line, name: '2026-12-07_03-00-00-123-2', extra: 1 })?.name).toBe(
      '2026-12-07_03-00-00-123-2',
    );
    expect(segmentInfoOf({ ...line, bytes: 0 })?.bytes).toBe(0);
  });

  it('refuses anything else: not an object, a bad name, a field missing, negative, not finite or not a number', () => {
    for (const v of [null, 'x', 42, [line]]) expect(segmentInfoOf(v)).toBeNull();
    for (const name of [
      '../2026-12-07_03-00-00-123',
      '2026-12-07_03-00-00-123.mkv',
      '2026-12-07_03-00-00-12',
      '2026-12-07_03-00-00-123-10',
      '2026-12-07T03-00-00-123',
      ' 2026-12-07_03-00-00-123',
      42,
    ])
      expect(segmentInfoOf({ ...line, name })).toBeNull();
    for (const k of ['start', 'end', 'frames', 'bytes', 'width', 'height']) {
      const { [k]: _gone, ...rest } = line as Record<string, unknown>;
      expect(segmentInfoOf(rest)).toBeNull();
      for (const bad of [-1, Infinity, NaN, '5', null])
        expect(segmentInfoOf({ ...line, [k]: bad }), `${k}: ${String(bad)}`).toBeNull();
    }
  });

  it('segment file names: UTC, milliseconds floored, sorting by time', () => {
    expect(segmentFileName(Date.UTC(2026, 0, 2, 3, 4, 5, 6) + 0.9)).toBe('2026-01-02_03-04-05-006');
    expect(SEGMENT_NAME.test(segmentFileName(T0))).toBe(true);
  });
});
