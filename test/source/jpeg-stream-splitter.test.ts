import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FramecastError } from '../../src/errors.js';
import { qscaleForQuality } from '../../src/encode/ffmpeg-quality.js';
import { JpegReader } from '../../src/source/jpeg-reader.js';
import { JpegStreamSplitter } from '../../src/source/jpeg-stream-splitter.js';
import { jpegInfo, looksLikeJpeg } from '../../src/util/jpeg.js';
import { FFMPEG } from '../helpers/fixtures.js';

function seg(marker: number, payload: number[]): number[] {
  const len = payload.length + 2;
  return [0xff, marker, len >> 8, len & 0xff, ...payload];
}

/**
 * A hand-made image exercising every trap: FF D9 inside segment payloads, fill bytes before markers,
 * stuffed FF 00 and restart markers in the entropy data, fill bytes before EOI, and a second scan.
 */
function trickyImage(tag: number): Buffer {
  return Buffer.from([
    0xff,
    0xd8,
    ...seg(0xe0, [0x4a, 0x46, 0xff, 0xd9, 0xff, 0xd8, tag]),
    0xff,
    0xff,
    0xff, // fill bytes before a marker
    ...seg(0xdb, [0x00, ...Array.from({ length: 64 }, (_, i) => (i % 2 ? 0xd9 : 0xff))]),
    ...seg(0xfe, []), // empty comment
    ...seg(0xda, [0x01, 0x01, 0x00, 0x00, 0x3f, 0x00]),
    0x12,
    0xff,
    0x00,
    0xd9,
    0xff,
    0xd0,
    0xff,
    0x00,
    0x34,
    0xff,
    0xd7,
    tag,
    0xff,
    0x00,
    ...seg(0xc4, [0x10, 0xff, 0xd9]), // a table between scans
    ...seg(0xda, [0x01, 0x01, 0x00, 0x00, 0x3f, 0x00]),
    0x56,
    0xff,
    0x00,
    0xff,
    0xff, // fill bytes before EOI
    0xff,
    0xd9,
  ]);
}

function collect(s: JpegStreamSplitter, chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) s.push(c, (j) => out.push(j));
  return out;
}

/** A real stream from ffmpeg's mjpeg encoder: three images of different sizes, with restart markers. */
function ffmpegStream(): Buffer {
  const r = spawnSync(FFMPEG, [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=96x64:rate=30', '-frames:v', '3'],
    ...['-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', '4', '-huffman', 'optimal'],
    ...['-f', 'mjpeg', 'pipe:1'],
  ]);
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return r.stdout;
}

function expectEverySplit(stream: Buffer, expected: Buffer[]): void {
  for (let cut = 0; cut <= stream.length; cut++) {
    const s = new JpegStreamSplitter();
    const got = collect(s, [stream.subarray(0, cut), stream.subarray(cut)]);
    if (got.length !== expected.length || got.some((g, i) => !g.equals(expected[i] as Buffer)))
      expect.fail(`split at ${cut} gave ${got.map((g) => g.length).join(',')}`);
    expect(s.atBoundary).toBe(true);
  }
  expect(
    collect(
      new JpegStreamSplitter(),
      [...stream].map((b) => Buffer.of(b)),
    ),
  ).toEqual(expected);
}

describe('JpegStreamSplitter', () => {
  it('cuts hand-made images with every marker trap at any offset and byte by byte', () => {
    const images = [trickyImage(1), trickyImage(2), trickyImage(3)];
    expectEverySplit(Buffer.concat(images), images);
  });

  it("cuts ffmpeg's MJPEG stream at any offset into whole, decodable images", () => {
    const stream = ffmpegStream();
    const whole = collect(new JpegStreamSplitter(), [stream]);
    expect(whole).toHaveLength(3);
    expect(Buffer.concat(whole).equals(stream)).toBe(true);
    for (const j of whole) {
      expect(looksLikeJpeg(j)).toBe(true);
      expect(jpegInfo(j)).toEqual({ width: 96, height: 64 });
    }
    expectEverySplit(stream, whole);
  });

  it('fill bytes (FF) before an image are dropped, at any split: each image starts at FF D8', () => {
    const images = [trickyImage(4), trickyImage(5)];
    const filled = Buffer.concat([
      Buffer.from([0xff, 0xff, 0xff]),
      images[0] as Buffer,
      Buffer.from([0xff]),
      images[1] as Buffer,
    ]);
    expectEverySplit(filled, images);
  });

  it('copies images out, so the caller may reuse its chunk', () => {
    const img = trickyImage(9);
    const chunk = Buffer.from(img);
    const s = new JpegStreamSplitter();
    const out: Buffer[] = [];
    s.push(chunk.subarray(0, 10), (j) => out.push(j));
    chunk.fill(0, 0, 10);
    chunk.set(img.subarray(0, 10), 0);
    s.push(chunk.subarray(10), (j) => out.push(j));
    chunk.fill(0);
    expect(out).toEqual([img]);
  });

  it('holds an unfinished image and reports its bytes', () => {
    const img = trickyImage(1);
    const s = new JpegStreamSplitter();
    expect(collect(s, [img, img.subarray(0, 20)])).toHaveLength(1);
    expect(s.pendingBytes).toBe(20);
    expect(s.atBoundary).toBe(false);
  });

  it('fails with ERR_JPEG_STREAM on bytes that are not a JPEG stream, and keeps failing', () => {
    const s = new JpegStreamSplitter();
    expect(() => s.push(Buffer.from('hello'), () => {})).toThrow(
      expect.objectContaining({ code: 'ERR_JPEG_STREAM' }),
    );
    expect(() => s.push(trickyImage(1), () => {})).toThrow(FramecastError);
    // A second SOI inside an image is no JPEG either.
    const t = new JpegStreamSplitter();
    expect(() => t.push(Buffer.from([0xff, 0xd8, 0xff, 0xd8]), () => {})).toThrow(/malformed/);
    const u = new JpegStreamSplitter();
    expect(() => u.push(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x01]), () => {})).toThrow(/length 1/);
  });

  it('fails with ERR_JPEG_TOO_LARGE when an image outgrows the cap, in one chunk or many', () => {
    const img = trickyImage(1);
    expect(() => new JpegStreamSplitter(img.length).push(img, () => {})).not.toThrow();
    expect(() => new JpegStreamSplitter(img.length - 1).push(img, () => {})).toThrow(
      expect.objectContaining({ code: 'ERR_JPEG_TOO_LARGE' }),
    );
    // An endless scan never reaches EOI: the cap bounds the memory held.
    const s = new JpegStreamSplitter(1000);
    const head = img.subarray(0, img.indexOf(Buffer.from([0x12, 0xff, 0x00])));
    s.push(head, () => {});
    const noise = Buffer.alloc(300, 0x55);
    expect(() => {
      for (let i = 0; i < 10; i++) s.push(noise, () => {});
    }).toThrow(expect.objectContaining({ code: 'ERR_JPEG_TOO_LARGE' }));
    expect(s.pendingBytes).toBe(0);
  });
});

describe('JpegReader', () => {
  it('holds images until the output is known and while paused, then emits them in order', () => {
    const got: number[] = [];
    const errors: unknown[] = [];
    const r = new JpegReader(
      (j) => got.push(j[12] as number),
      (e) => errors.push(e),
    );
    r.push(Buffer.concat([trickyImage(1), trickyImage(2)]));
    expect(got).toEqual([]);
    r.setFrameSize(0);
    expect(got).toEqual([1, 2]);
    r.pause();
    r.push(trickyImage(3));
    const target = r.buffer();
    const four = trickyImage(4);
    four.copy(target);
    expect(r.filled(four.length)).toBe(false);
    expect(got).toEqual([1, 2]);
    expect(r.heldBytes).toBe(2 * four.length);
    r.resume();
    expect(got).toEqual([1, 2, 3, 4]);
    expect(r.heldBytes).toBe(0);
    r.push(Buffer.from('junk'));
    expect(errors).toEqual([expect.objectContaining({ code: 'ERR_JPEG_STREAM' })]);
    r.push(trickyImage(5));
    expect(got).toEqual([1, 2, 3, 4]);
  });
});

describe('qscaleForQuality', () => {
  it('maps the measured points and never gets coarser as quality rises', () => {
    expect(qscaleForQuality(80)).toBe(4);
    expect(qscaleForQuality(1)).toBe(31);
    expect(qscaleForQuality(100)).toBe(1);
    let prev = 32;
    for (let q = 1; q <= 100; q++) {
      const s = qscaleForQuality(q);
      expect(s).toBeGreaterThanOrEqual(1);
      expect(s).toBeLessThanOrEqual(prev);
      prev = s;
    }
    expect(() => qscaleForQuality(0)).toThrow(RangeError);
  });
});
