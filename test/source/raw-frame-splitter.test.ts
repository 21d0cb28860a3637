import { describe, expect, it } from 'vitest';
import { RawFrameSplitter } from '../../src/source/raw-frame-splitter.js';

/** Frames whose every byte says which frame it belongs to, so any mix-up shows. */
function frames(count: number, size: number): Buffer {
  const b = Buffer.alloc(count * size);
  for (let i = 0; i < count; i++) b.fill(i + 1, i * size, (i + 1) * size);
  return b;
}

function collect(s: RawFrameSplitter, chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) s.push(c, (f) => out.push(Buffer.from(f)));
  return out;
}

describe('RawFrameSplitter', () => {
  const size = 12;
  const data = frames(4, size);
  const expected = [0, 1, 2, 3].map((i) => Buffer.alloc(size, i + 1));

  it('cuts a stream split at any single offset into the same frames', () => {
    for (let cut = 0; cut <= data.length; cut++) {
      const s = new RawFrameSplitter(size);
      expect(collect(s, [data.subarray(0, cut), data.subarray(cut)]), `cut ${cut}`).toEqual(expected);
      expect(s.pendingBytes).toBe(0);
    }
  });

  it('cuts a stream fed one byte at a time, and chunks of odd sizes', () => {
    expect(
      collect(
        new RawFrameSplitter(size),
        [...data].map((b) => Buffer.of(b)),
      ),
    ).toEqual(expected);
    for (const step of [5, 7, 13, 25, 47]) {
      const chunks: Buffer[] = [];
      for (let o = 0; o < data.length; o += step) chunks.push(data.subarray(o, o + step));
      expect(collect(new RawFrameSplitter(size), chunks), `step ${step}`).toEqual(expected);
    }
  });

  it('hands out whole frames inside a chunk without copying', () => {
    const s = new RawFrameSplitter(size);
    const got: Buffer[] = [];
    s.push(data, (f) => got.push(f));
    expect(got).toHaveLength(4);
    expect(got[1]?.buffer).toBe(data.buffer);
    expect(got[1]?.byteOffset).toBe(data.byteOffset + size);
  });

  it('keeps a partial frame pending until its last byte arrives', () => {
    const s = new RawFrameSplitter(size);
    const got: Buffer[] = [];
    s.push(data.subarray(0, size + 5), (f) => got.push(Buffer.from(f)));
    expect(got).toHaveLength(1);
    expect(s.pendingBytes).toBe(5);
    s.push(data.subarray(size + 5, 2 * size), (f) => got.push(Buffer.from(f)));
    expect(got).toHaveLength(2);
    expect(got[1]).toEqual(expected[1]);
    expect(s.pendingBytes).toBe(0);
  });

  it('refuses a frame size that is not a positive integer', () => {
    for (const bad of [0, -3, 1.5, Number.NaN]) expect(() => new RawFrameSplitter(bad)).toThrow(RangeError);
  });
});
