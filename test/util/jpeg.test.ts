import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { jpegInfo, looksLikeJpeg } from '../../src/util/jpeg.js';

let baseline: Buffer;
let progressive: Buffer;
let png: Buffer;

beforeAll(async () => {
  const raw = { raw: { width: 37, height: 21, channels: 3 as const } };
  const px = Buffer.alloc(37 * 21 * 3, 128);
  baseline = await sharp(px, raw).jpeg({ quality: 80 }).toBuffer();
  progressive = await sharp(px, raw).jpeg({ quality: 80, progressive: true }).toBuffer();
  png = await sharp(px, raw).png().toBuffer();
});

describe('looksLikeJpeg', () => {
  it('accepts real baseline and progressive JPEGs', () => {
    expect(looksLikeJpeg(baseline)).toBe(true);
    expect(looksLikeJpeg(progressive)).toBe(true);
  });

  it('accepts a JPEG padded with a few zero bytes after EOI', () => {
    expect(looksLikeJpeg(Buffer.concat([baseline, Buffer.alloc(5)]))).toBe(true);
  });

  it('rejects a truncated JPEG, a PNG, text, and tiny buffers', () => {
    expect(looksLikeJpeg(baseline.subarray(0, baseline.length - 10))).toBe(false);
    expect(looksLikeJpeg(png)).toBe(false);
    expect(looksLikeJpeg(Buffer.from('hello, not an image'))).toBe(false);
    expect(looksLikeJpeg(Buffer.alloc(0))).toBe(false);
    expect(looksLikeJpeg(Buffer.from([0xff, 0xd8, 0xff]))).toBe(false);
  });

  it('rejects long zero padding (not a few bytes)', () => {
    expect(looksLikeJpeg(Buffer.concat([baseline, Buffer.alloc(64)]))).toBe(false);
  });
});

describe('jpegInfo', () => {
  it('reads width and height from SOF0 and SOF2', () => {
    expect(jpegInfo(baseline)).toEqual({ width: 37, height: 21 });
    expect(jpegInfo(progressive)).toEqual({ width: 37, height: 21 });
  });

  it('reads a hand-made SOF0 after an APP0 segment and fill bytes', () => {
    const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x04, 0x00, 0x00]);
    const sof0 = Buffer.from([0xff, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x01, 0xc2, 0x03, 0x20, 0x01, 0x11, 0x00]);
    const buf = Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof0]);
    expect(jpegInfo(buf)).toEqual({ width: 800, height: 450 });
  });

  it('does not take DHT (C4) for a frame header', () => {
    const dht = Buffer.from([0xff, 0xc4, 0x00, 0x04, 0x12, 0x34]);
    const sof1 = Buffer.from([0xff, 0xc1, 0x00, 0x0b, 0x08, 0x00, 0x10, 0x00, 0x20, 0x01, 0x11, 0x00]);
    expect(jpegInfo(Buffer.concat([Buffer.from([0xff, 0xd8]), dht, sof1]))).toEqual({
      width: 32,
      height: 16,
    });
  });

  it('returns null for non-JPEG, SOS before SOF, broken markers and truncated SOF', () => {
    expect(jpegInfo(png)).toBeNull();
    expect(jpegInfo(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02]))).toBeNull();
    expect(jpegInfo(Buffer.from([0xff, 0xd8, 0x12, 0x34, 0x00, 0x02]))).toBeNull();
    expect(jpegInfo(Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x0b, 0x08]))).toBeNull();
    expect(jpegInfo(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x01]))).toBeNull();
  });
});
