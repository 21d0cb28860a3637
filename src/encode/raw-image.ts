import sharp from 'sharp';
import { FramecastError } from '../errors.js';

/** Raw pixels handed to publishRaw: packed rows, 1 (grey), 3 (RGB) or 4 (RGBA) bytes per pixel. */
export interface RawImage {
  width: number;
  height: number;
  channels?: 1 | 3 | 4;
  /** Wall-clock ms when the image was captured (default: now). */
  capturedAt?: number;
}

/** Checks raw pixels against their declared size (RangeError / TypeError for API misuse). */
export function checkRawImage(pixels: Buffer, image: RawImage): 1 | 3 | 4 {
  const channels = image.channels ?? 3;
  const { width, height } = image;
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width < 1 ||
    height < 1 ||
    width > 65535 ||
    height > 65535
  )
    throw new RangeError(`image size must be 1..65535 pixels each way, got ${width}x${height}`);
  if (![1, 3, 4].includes(channels)) throw new RangeError(`channels must be 1, 3 or 4, got ${channels}`);
  if (!Buffer.isBuffer(pixels) || pixels.length !== width * height * channels) {
    throw new TypeError(
      `publishRaw() needs ${width * height * channels} bytes (${width}x${height}x${channels})`,
    );
  }
  return channels;
}

/** Encodes checked raw pixels as a baseline 4:2:0 JPEG (libjpeg-turbo through sharp, OpenCV's quality scale). */
export function encodeRawImage(pixels: Buffer, image: RawImage, quality: number): Promise<Buffer> {
  const channels = checkRawImage(pixels, image);
  return sharp(pixels, { raw: { width: image.width, height: image.height, channels } })
    .jpeg({ quality, chromaSubsampling: '4:2:0', optimiseCoding: true, mozjpeg: false })
    .toBuffer()
    .catch((err: unknown) => {
      throw new FramecastError('ERR_ENCODE', `JPEG encode failed: ${(err as Error).message}`, { cause: err });
    });
}
