/** The image size bound (imageSizeProblem, ImageBound) and hand-made JPEG marker edge cases. */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_IMAGE_PIXELS,
  ImageBound,
  imageSizeProblem,
  jpegInfo,
  looksLikeJpeg,
  MAX_IMAGE_SIDE,
} from '../../src/util/jpeg.js';

describe('imageSizeProblem', () => {
  it('allows each side up to MAX_IMAGE_SIDE and up to maxPixels in all', () => {
    expect(MAX_IMAGE_SIDE).toBe(16384);
    expect(imageSizeProblem(16384, 1, 1e9)).toBeNull();
    expect(imageSizeProblem(1, 16384, 1e9)).toBeNull();
    expect(imageSizeProblem(100, 50, 5000)).toBeNull();
  });

  it('names a side over MAX_IMAGE_SIDE', () => {
    expect(imageSizeProblem(16385, 1, 1e9)).toBe('image too large: 16385x1 has a side over 16384');
    expect(imageSizeProblem(1, 16385, 1e9)).toBe('image too large: 1x16385 has a side over 16384');
  });

  it('names a size over maxPixels', () => {
    expect(imageSizeProblem(100, 51, 5000)).toBe(
      "image too large: 100x51 is 5100 pixels, over the stream's maxImagePixels 5000",
    );
  });
});

describe('ImageBound', () => {
  it('defaults to 4096x4096 pixels', () => {
    expect(DEFAULT_MAX_IMAGE_PIXELS).toBe(16777216);
    expect(new ImageBound().maxPixels).toBe(16777216);
    expect(new ImageBound().refuse(4096, 4096)).toBeNull();
    expect(new ImageBound().refuse(4096, 4097)).toMatch(/^image too large: 4096x4097 is /);
  });

  it('counts what it refused and unreadable images, not what it let through', () => {
    const b = new ImageBound(100);
    expect(b.refused).toBe(0);
    expect(b.refuse(10, 10)).toBeNull();
    expect(b.refused).toBe(0);
    expect(b.refuse(10, 11)).toBe(
      "image too large: 10x11 is 110 pixels, over the stream's maxImagePixels 100",
    );
    expect(b.refused).toBe(1);
    b.unreadable();
    expect(b.refused).toBe(2);
  });
});

const SOI = [0xff, 0xd8];
/** A SOFn segment of `marker` for a width x height image. */
const sof = (marker: number, width: number, height: number): number[] => [
  0xff,
  marker,
  0x00,
  0x0b,
  0x08,
  height >> 8,
  height & 0xff,
  width >> 8,
  width & 0xff,
  0x01,
  0x11,
  0x00,
];
const jpeg = (...parts: number[][]): Buffer => Buffer.from(parts.flat());

describe('looksLikeJpeg (hand-made buffers)', () => {
  it('needs SOI at the start and EOI at the end', () => {
    expect(looksLikeJpeg(jpeg(SOI, [0xff, 0xd9]))).toBe(true);
    expect(looksLikeJpeg(jpeg([0xfe, 0xd8, 0xff, 0xd9]))).toBe(false);
    expect(looksLikeJpeg(jpeg([0xff, 0xd7, 0xff, 0xd9]))).toBe(false);
    expect(looksLikeJpeg(jpeg(SOI, [0x00, 0xd9]))).toBe(false);
    expect(looksLikeJpeg(jpeg(SOI, [0xff, 0xd8]))).toBe(false);
  });

  it('tolerates up to 16 zero bytes after EOI, not 17', () => {
    expect(looksLikeJpeg(jpeg(SOI, [0xff, 0xd9], new Array(16).fill(0)))).toBe(true);
    expect(looksLikeJpeg(jpeg(SOI, [0xff, 0xd9], new Array(17).fill(0)))).toBe(false);
    expect(looksLikeJpeg(jpeg(SOI, [0xff, 0xd9, 0x01, 0x00]))).toBe(false);
  });

  it('does not take the SOI for an EOI in a buffer of zeros', () => {
    expect(looksLikeJpeg(jpeg(SOI, [0x00, 0x00]))).toBe(false);
    expect(looksLikeJpeg(jpeg([0xff, 0xd8, 0xd9, 0x00]))).toBe(false);
  });
});

describe('jpegInfo (hand-made buffers)', () => {
  it('reads every SOFn but DHT, JPG and DAC', () => {
    for (let m = 0xc0; m <= 0xcf; m++) {
      const want = m === 0xc4 || m === 0xc8 || m === 0xcc ? null : { width: 513, height: 258 };
      expect(jpegInfo(jpeg(SOI, sof(m, 513, 258)))).toEqual(want);
    }
  });

  it('skips segments by their length, and standalone markers (SOI, TEM, RST0-7)', () => {
    const app1 = [0xff, 0xe1, 0x00, 0x05, 0xff, 0xc0, 0x00];
    expect(jpegInfo(jpeg(SOI, app1, sof(0xc0, 7, 9)))).toEqual({ width: 7, height: 9 });
    for (const m of [0xd8, 0x01, 0xd0, 0xd7])
      expect(jpegInfo(jpeg(SOI, [0xff, m], sof(0xc2, 640, 480)))).toEqual({ width: 640, height: 480 });
  });

  it('takes other markers as segments with a length', () => {
    // Just past the standalone ranges: D9 (EOI) and 02 are skipped by their length.
    expect(jpegInfo(jpeg(SOI, [0xff, 0xd9, 0x00, 0x02], sof(0xc0, 1, 1)))).toEqual({ width: 1, height: 1 });
    expect(jpegInfo(jpeg(SOI, [0xff, 0x02, 0x00, 0x02], sof(0xc0, 3, 4)))).toEqual({ width: 3, height: 4 });
  });

  it('refuses a segment length under 2, SOS before SOF, and a SOF cut short', () => {
    expect(jpegInfo(jpeg(SOI, [0xff, 0xe0, 0x00, 0x01], sof(0xc0, 1, 1)))).toBeNull();
    const shortSof = sof(0xc0, 1, 1);
    shortSof[3] = 0x01;
    expect(jpegInfo(jpeg(SOI, shortSof))).toBeNull();
    expect(jpegInfo(jpeg(SOI, [0xff, 0xe0, 0x00, 0x02], sof(0xc0, 5, 6)))).toEqual({ width: 5, height: 6 });
    expect(jpegInfo(jpeg(SOI, [0xff, 0xda, 0x00, 0x02], sof(0xc0, 1, 1)))).toBeNull();
    expect(jpegInfo(jpeg(SOI, sof(0xc0, 1, 1).slice(0, 8)))).toBeNull();
    expect(jpegInfo(jpeg(SOI, sof(0xc0, 300, 200).slice(0, 9)))).toEqual({ width: 300, height: 200 });
  });

  it('needs SOI first, and a marker where one is due', () => {
    expect(jpegInfo(jpeg([0xff, 0xd9], sof(0xc0, 1, 1)))).toBeNull();
    expect(jpegInfo(jpeg([0xfe, 0xd8], sof(0xc0, 1, 1)))).toBeNull();
    expect(jpegInfo(jpeg(SOI, [0xfe], sof(0xc0, 1, 1)))).toBeNull();
    expect(jpegInfo(jpeg(SOI, [0xff, 0xff, 0xff], sof(0xc0, 2, 3)))).toEqual({ width: 2, height: 3 });
  });

  it('stops at the end: a marker without room for its length is not read', () => {
    expect(jpegInfo(jpeg(SOI, [0xff, 0xc0, 0x00]))).toBeNull();
    expect(jpegInfo(jpeg(SOI))).toBeNull();
  });
});
