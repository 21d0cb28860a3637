/**
 * The native encoder's shrink (encodeI420 with an output size): how a rendition of a raw frame is
 * made. Sizes as asked, area averages to the level (fractional edges weighted), a flat picture kept
 * flat, the same picture sharp's resize makes, limited range still expanded, bad sizes refused.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { encodeI420, nativeShrinkAvailable } from '../../src/encode/native-jpeg.js';
import { rawFrameSize } from '../../src/source/ffmpeg-source.js';
import { decodeRgb } from '../helpers/jpeg-quality.js';

/** An I420 frame with luma from `y(x, row)` and grey chroma (128): decoded, R = G = B = Y. */
function grey(w: number, h: number, y: (x: number, row: number) => number): Buffer {
  const buf = Buffer.alloc(rawFrameSize(w, h, 'yuvj420p'), 128);
  for (let r = 0; r < h; r++) for (let x = 0; x < w; x++) buf[r * w + x] = y(x, r);
  return buf;
}

/** The decoded picture's luma (its red channel: grey chroma), row by row. */
async function lumaOf(jpeg: Buffer): Promise<{ width: number; height: number; y: number[] }> {
  const { data, info } = await sharp(jpeg).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const y: number[] = [];
  for (let i = 0; i < info.width * info.height; i++) y.push(data[i * info.channels] as number);
  return { width: info.width, height: info.height, y };
}

const shrink = (
  planes: Buffer,
  w: number,
  h: number,
  ow: number,
  oh: number,
  quality = 100,
): Promise<Buffer> => encodeI420(planes, w, h, { quality, out: { width: ow, height: oh } });

describe.skipIf(!nativeShrinkAvailable())('native shrink (a rendition of a raw frame)', () => {
  it.each([
    [800, 450, 320, 180],
    [800, 450, 640, 360],
    [801, 449, 333, 111],
    [1920, 1080, 16, 9],
    [17, 9, 1, 1],
  ])('%dx%d to %dx%d: a JPEG of that size', async (w, h, ow, oh) => {
    const jpeg = await shrink(
      grey(w, h, (x) => x % 256),
      w,
      h,
      ow,
      oh,
      80,
    );
    expect(await sharp(jpeg).metadata()).toMatchObject({ format: 'jpeg', width: ow, height: oh });
  });

  it('each output sample is the mean of the area it covers, partly covered samples weighted', async () => {
    // 5 samples to 2: output 0 covers [0, 2.5) -> (0 + 100 + 0.5 * 200) / 2.5 = 80; output 1 covers
    // [2.5, 5) -> (0.5 * 200 + 50 + 250) / 2.5 = 160. Across (5x1 -> 2x1) and down (1x5 -> 1x2).
    const row = [0, 100, 200, 50, 250];
    const across = await lumaOf(
      await shrink(
        grey(5, 1, (x) => row[x] as number),
        5,
        1,
        2,
        1,
      ),
    );
    const down = await lumaOf(
      await shrink(
        grey(1, 5, (_, r) => row[r] as number),
        1,
        5,
        1,
        2,
      ),
    );
    for (const got of [across.y, down.y]) {
      expect(Math.abs((got[0] as number) - 80)).toBeLessThanOrEqual(1);
      expect(Math.abs((got[1] as number) - 160)).toBeLessThanOrEqual(1);
    }
    // 3 to 1: the plain mean (0 + 100 + 200) / 3 = 100.
    const one = await lumaOf(
      await shrink(
        grey(3, 1, (x) => row[x] as number),
        3,
        1,
        1,
        1,
      ),
    );
    expect(Math.abs((one.y[0] as number) - 100)).toBeLessThanOrEqual(1);
    // A mean of 100.5 rounds to 101, across and down (a 1x1 picture is one flat block: exact at q100).
    expect(
      (
        await lumaOf(
          await shrink(
            grey(2, 1, (x) => 100 + x),
            2,
            1,
            1,
            1,
          ),
        )
      ).y,
    ).toEqual([101]);
    expect(
      (
        await lumaOf(
          await shrink(
            grey(1, 2, (_, r) => 100 + r),
            1,
            2,
            1,
            1,
          ),
        )
      ).y,
    ).toEqual([101]);
  });

  it('a flat picture stays flat at any ratio (the weights of every sample sum to one)', async () => {
    for (const [w, h, ow, oh] of [
      [801, 451, 333, 111],
      [640, 360, 639, 359],
      [100, 100, 7, 93],
    ] as const) {
      const out = await lumaOf(
        await shrink(
          grey(w, h, () => 201),
          w,
          h,
          ow,
          oh,
        ),
      );
      // A flat block at quality 100 is exact (its DC only, quantised by 1).
      expect(out.y.reduce((a, b) => Math.min(a, b))).toBe(201);
      expect(out.y.reduce((a, b) => Math.max(a, b))).toBe(201);
    }
  });

  it("makes the picture sharp's resize of the full frame makes (mean difference under 1.2 levels)", async () => {
    // Diagonal bands and a gradient: detail at every scale.
    const w = 800;
    const h = 450;
    const planes = grey(w, h, (x, r) => ((x + r) % 64 < 32 ? 40 : 200) * 0.5 + (x / w) * 100);
    const full = await encodeI420(planes, w, h, { quality: 100 });
    for (const ow of [320, 640]) {
      const oh = Math.round((h * ow) / w);
      const ours = await decodeRgb(await shrink(planes, w, h, ow, oh));
      const theirs = await decodeRgb(
        await sharp(full)
          .resize({ width: ow, height: oh, kernel: 'cubic' })
          .jpeg({ quality: 100 })
          .toBuffer(),
      );
      let sum = 0;
      for (let i = 0; i < ours.length; i++) sum += Math.abs((ours[i] as number) - (theirs[i] as number));
      // Measured 0.69 (320) and 0.56 (640): the kernels differ, the pictures agree.
      expect(sum / ours.length).toBeLessThan(1.2);
    }
  });

  it('shrinks the chroma planes too: a coloured frame keeps its colour', async () => {
    // Full-range BT.601: Y 120, Cb 100, Cr 180 is RGB (192.9, 92.5, 70.4); odd sizes on both sides.
    const w = 801;
    const h = 451;
    const planes = Buffer.alloc(rawFrameSize(w, h, 'yuvj420p'));
    const c = Math.ceil(w / 2) * Math.ceil(h / 2);
    planes.fill(120, 0, w * h);
    planes.fill(100, w * h, w * h + c);
    planes.fill(180, w * h + c);
    const rgb = await decodeRgb(await shrink(planes, w, h, 333, 187, 90));
    for (let i = 0; i < rgb.length; i += 3) {
      expect(Math.abs((rgb[i] as number) - 193)).toBeLessThanOrEqual(2);
      expect(Math.abs((rgb[i + 1] as number) - 92)).toBeLessThanOrEqual(2);
      expect(Math.abs((rgb[i + 2] as number) - 70)).toBeLessThanOrEqual(2);
    }
  });

  it('expands limited range after shrinking, as it does without (same bytes as full-range planes)', async () => {
    // Limited Y 16 + 219 * k / 255 is full-range k exactly for k = 0 and 255; flat grey 126 -> 128.
    const limited = grey(64, 64, () => 126);
    const full = grey(64, 64, () => 128);
    const a = await encodeI420(limited, 64, 64, {
      quality: 90,
      limitedRange: true,
      out: { width: 32, height: 32 },
    });
    const b = await encodeI420(full, 64, 64, { quality: 90, out: { width: 32, height: 32 } });
    expect(a.equals(b)).toBe(true);
  });

  it('an output the size of the frame is the plain encode, byte for byte', async () => {
    const planes = grey(96, 54, (x, r) => (x * 3 + r * 5) % 256);
    const plain = await encodeI420(planes, 96, 54, { quality: 80 });
    expect((await shrink(planes, 96, 54, 96, 54, 80)).equals(plain)).toBe(true);
  });

  it('refuses an output larger than the frame, or empty, with a coded error', async () => {
    const planes = grey(32, 32, () => 0);
    for (const [ow, oh] of [
      [33, 16],
      [16, 33],
      [0, 16],
      [16, 0],
      [16.5, 16],
    ] as const)
      await expect(shrink(planes, 32, 32, ow, oh)).rejects.toMatchObject({ code: 'ERR_ENCODE' });
  });
});
