import fc from 'fast-check';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { FramecastError } from '../../src/errors.js';
import { encodeI420, nativeJpegAvailable, nativeShrinkAvailable } from '../../src/encode/native-jpeg.js';
import { rawFrameSize } from '../../src/source/ffmpeg-source.js';

// The native encoder is C: property tests that no size, content or length it can be handed crashes
// the process. A frame of the right length encodes to a JPEG of that size; anything else is a coded
// error, never a crash or a hang.

describe.skipIf(!nativeJpegAvailable())('native JPEG encoder under random input', () => {
  it('any size 1..70 x 1..70, any bytes, any quality: a decodable JPEG of that size', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 100 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        async (w, h, quality, optimiseCoding, seed) => {
          const planes = Buffer.alloc(rawFrameSize(w, h, 'yuvj420p'));
          let x = seed;
          for (let i = 0; i < planes.length; i++) {
            x = (x * 1103515245 + 12345) & 0x7fffffff;
            planes[i] = x >> 16;
          }
          const jpeg = await encodeI420(planes, w, h, { quality, optimiseCoding });
          const meta = await sharp(jpeg).metadata();
          expect([meta.width, meta.height]).toEqual([w, h]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it.skipIf(!nativeShrinkAvailable())(
    'any size shrunk to any smaller or equal size, any bytes: a decodable JPEG of the output size',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 90 }),
          fc.integer({ min: 1, max: 90 }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          async (w, h, fw, fh, seed) => {
            const ow = Math.max(1, Math.round(w * fw));
            const oh = Math.max(1, Math.round(h * fh));
            const planes = Buffer.alloc(rawFrameSize(w, h, 'yuvj420p'));
            let x = seed;
            for (let i = 0; i < planes.length; i++) {
              x = (x * 1103515245 + 12345) & 0x7fffffff;
              planes[i] = x >> 16;
            }
            const jpeg = await encodeI420(planes, w, h, { quality: 80, out: { width: ow, height: oh } });
            const meta = await sharp(jpeg).metadata();
            expect([meta.width, meta.height]).toEqual([ow, oh]);
          },
        ),
        { numRuns: 200 },
      );
    },
  );

  it('a buffer shorter than the frame, or a bad size or quality, is a coded error', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -5, max: 20_000 }),
        fc.integer({ min: -5, max: 20_000 }),
        fc.integer({ min: -5, max: 120 }),
        fc.integer({ min: 0, max: 4096 }),
        async (w, h, quality, length) => {
          const valid =
            w >= 1 &&
            h >= 1 &&
            w <= 16384 &&
            h <= 16384 &&
            quality >= 1 &&
            quality <= 100 &&
            length >= rawFrameSize(w, h, 'yuvj420p');
          const result = encodeI420(Buffer.alloc(length), w, h, { quality });
          if (valid) {
            expect((await result).subarray(0, 2).toString('hex')).toBe('ffd8');
          } else {
            const err = await result.then(
              () => null,
              (e: unknown) => e,
            );
            expect(err).toBeInstanceOf(FramecastError);
            expect((err as FramecastError).code).toBe('ERR_ENCODE');
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
