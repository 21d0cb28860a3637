import { describe, expect, it } from 'vitest';
import { RawReader } from '../../src/source/raw-reader.js';

const SIZE = 10;

/** Frames whose every byte is the frame's number (1-based). */
function stream(count: number): Buffer {
  const b = Buffer.alloc(count * SIZE);
  for (let i = 0; i < count; i++) b.fill(i + 1, i * SIZE, (i + 1) * SIZE);
  return b;
}

function reader(): { r: RawReader; got: number[]; releases: (() => void)[] } {
  const got: number[] = [];
  const releases: (() => void)[] = [];
  const r = new RawReader((data, release) => {
    expect(data).toHaveLength(SIZE);
    expect(new Set(data)).toEqual(new Set([data[0]]));
    got.push(data[0] as number);
    releases.push(release);
  }, 2);
  return { r, got, releases };
}

/** Feeds `data` through the direct path: every read fills at most what buffer() offers, up to `step`. */
function direct(r: RawReader, data: Buffer, step: number): number {
  let off = 0;
  while (off < data.length) {
    const target = r.buffer();
    const n = Math.min(target.length, step, data.length - off);
    data.copy(target, 0, off, off + n);
    off += n;
    if (!r.filled(n)) break;
  }
  return off;
}

describe('RawReader', () => {
  it('keeps bytes that arrive before the frame size is known, then cuts them', () => {
    const { r, got } = reader();
    r.push(stream(3).subarray(0, 25));
    expect(got).toEqual([]);
    r.setFrameSize(SIZE);
    expect(got).toEqual([1, 2]);
    r.push(stream(3).subarray(25));
    expect(got).toEqual([1, 2, 3]);
  });

  it('stops at a frame boundary when paused and holds the rest of a chunk until resume', () => {
    const { r, got } = reader();
    r.setFrameSize(SIZE);
    r.pause();
    r.push(stream(5));
    expect(got).toEqual([]);
    r.resume();
    expect(got).toEqual([1, 2, 3, 4, 5]);
    // Paused by the consumer while it handles a frame: nothing more comes out of that chunk.
    const { r: r2, got: got2 } = reader();
    r2.setFrameSize(SIZE);
    const r2onFrame = got2;
    r2.push(stream(1));
    r2.pause();
    r2.push(stream(4));
    expect(r2onFrame).toEqual([1]);
    expect(r2.heldBytes).toBe(4 * SIZE);
  });

  it('reads straight into the frame in progress, never past its end, and stops when paused', () => {
    const { r, got } = reader();
    r.setFrameSize(SIZE);
    const data = stream(4);
    expect(direct(r, data, 7)).toBe(data.length);
    expect(got).toEqual([1, 2, 3, 4]);
    r.pause();
    const data2 = stream(3);
    // The first read completes frame 1 of the second stream's 10 bytes... then the pause stops reading.
    expect(direct(r, data2, 64)).toBe(SIZE);
    expect(got).toEqual([1, 2, 3, 4, 1]);
  });

  it('lands direct reads made before the size was known in scratch, copied', () => {
    const { r, got } = reader();
    const data = stream(2);
    const first = r.buffer();
    r.setFrameSize(SIZE);
    data.copy(first, 0, 0, 15);
    r.filled(15);
    expect(got).toEqual([1]);
    direct(r, data.subarray(15), 64);
    expect(got).toEqual([1, 2]);
  });

  it('reuses released buffers and emits nothing after close', () => {
    const { r, got, releases } = reader();
    r.setFrameSize(SIZE);
    const t1 = r.buffer();
    r.filled(0);
    stream(1).copy(t1);
    r.filled(SIZE);
    releases[0]?.();
    const t2 = r.buffer();
    expect(t2.buffer).toBe(t1.buffer);
    r.close();
    r.push(stream(2));
    expect(got).toEqual([1]);
  });
});
