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

describe('RawReader, YUV4MPEG2 framing', () => {
  const HEADER = Buffer.from('YUV4MPEG2 W4 H2 F30:1 Ip A1:1 C420jpeg XYSCSS=420JPEG\n');

  /** ffmpeg's yuv4mpegpipe output: the header line, then FRAME\n and the planes of each frame. */
  function y4m(count: number): Buffer {
    const parts = [HEADER];
    for (let i = 0; i < count; i++) parts.push(Buffer.from('FRAME\n'), Buffer.alloc(SIZE, i + 1));
    return Buffer.concat(parts);
  }

  function y4mReader(): { r: RawReader; got: number[]; errors: string[]; releases: (() => void)[] } {
    const got: number[] = [];
    const errors: string[] = [];
    const releases: (() => void)[] = [];
    const r = new RawReader(
      (data, release) => {
        expect(data).toHaveLength(SIZE);
        expect(new Set(data)).toEqual(new Set([data[0]]));
        got.push(data[0] as number);
        releases.push(release);
      },
      2,
      'y4m',
      (err) => errors.push(`${err.code}: ${err.message}`),
    );
    return { r, got, errors, releases };
  }

  it('skips the header and each FRAME line, whatever the chunking (copy path)', () => {
    const data = y4m(4);
    for (const step of [1, 5, 6, 7, 16, 61, data.length]) {
      const { r, got, errors } = y4mReader();
      r.setFrameSize(SIZE);
      for (let off = 0; off < data.length; off += step) r.push(data.subarray(off, off + step));
      expect(got).toEqual([1, 2, 3, 4]);
      expect(errors).toEqual([]);
    }
  });

  it('reads frames straight into pooled buffers once past the header (direct path), size known late', () => {
    const { r, got, errors, releases } = y4mReader();
    const data = y4m(5);
    // The first read lands before ffmpeg has printed the size, and holds the header and part of a frame.
    const off = 20;
    data.copy(r.buffer(), 0, 0, off);
    r.filled(off);
    r.setFrameSize(SIZE);
    expect(direct(r, data.subarray(off), 9)).toBe(data.length - off);
    expect(got).toEqual([1, 2, 3, 4, 5]);
    expect(errors).toEqual([]);
    // A released buffer takes the next frame: the planes the consumer saw lie inside it, past FRAME\n.
    releases[4]?.();
    const target = r.buffer();
    expect(target).toHaveLength(SIZE + 6);
  });

  it('reports a stream out of step (no FRAME line) once, and emits nothing more', () => {
    const { r, got, errors } = y4mReader();
    r.setFrameSize(SIZE);
    const bad = Buffer.concat([
      y4m(1),
      Buffer.from('FRAMX\n'),
      Buffer.alloc(SIZE, 2),
      y4m(1).subarray(HEADER.length),
    ]);
    r.push(bad);
    expect(got).toEqual([1]);
    expect(errors).toEqual([
      "ERR_SOURCE_FAILED: ffmpeg's YUV4MPEG2 output is out of step: a frame without FRAME",
    ]);
  });

  it('refuses a stream that does not start with a header line', () => {
    const { r, errors } = y4mReader();
    r.setFrameSize(SIZE);
    r.push(Buffer.alloc(2000, 0x41));
    expect(errors).toEqual([
      "ERR_SOURCE_FAILED: ffmpeg's YUV4MPEG2 output is out of step: no YUV4MPEG2 header line",
    ]);
  });
});
