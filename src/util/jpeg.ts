/** Size of a JPEG image, read from its first SOFn marker. */
export interface JpegInfo {
  width: number;
  height: number;
}

/** True when the buffer starts with a JPEG SOI marker and ends with an EOI marker (trailing zero padding allowed). */
export function looksLikeJpeg(buf: Buffer): boolean {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return false;
  let end = buf.length;
  // Some encoders pad the end of the file; tolerate a few zero bytes after EOI.
  while (end > 2 && buf[end - 1] === 0x00 && buf.length - end < 16) end--;
  return buf[end - 2] === 0xff && buf[end - 1] === 0xd9;
}

/**
 * Reads width and height from the SOFn segment without decoding the image.
 * Returns null when the markers are malformed or no SOF is found.
 */
export function jpegInfo(buf: Buffer): JpegInfo | null {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return null;
  let i = 2;
  while (i + 4 <= buf.length) {
    if (buf[i] !== 0xff) return null;
    const marker = buf[i + 1] as number;
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    const len = buf.readUInt16BE(i + 2);
    if (len < 2) return null;
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC)
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (i + 9 > buf.length) return null;
      return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) };
    }
    if (marker === 0xda) return null; // start of scan before any SOF
    i += 2 + len;
  }
  return null;
}

/** Largest width or height of an image framecast takes from a peer or draws itself. */
export const MAX_IMAGE_SIDE = 16384;

/** Default bound on an image's width x height (4096x4096): a decoder allocates about 3 bytes per pixel. */
export const DEFAULT_MAX_IMAGE_PIXELS = 4096 * 4096;

/**
 * Why an image of this size is refused (`image too large: ...`), or null when it is within both
 * bounds: each side at most MAX_IMAGE_SIDE, width x height at most `maxPixels`.
 */
export function imageSizeProblem(width: number, height: number, maxPixels: number): string | null {
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE)
    return `image too large: ${width}x${height} has a side over ${MAX_IMAGE_SIDE}`;
  if (width * height > maxPixels)
    return `image too large: ${width}x${height} is ${width * height} pixels, over the stream's maxImagePixels ${maxPixels}`;
  return null;
}

/**
 * A stream's bound on the images peers hand its viewers (publishers, the bus, a passthrough camera),
 * and how many it refused since the stream opened (for /stats).
 */
export class ImageBound {
  readonly maxPixels: number;
  #refused = 0;

  constructor(maxPixels = DEFAULT_MAX_IMAGE_PIXELS) {
    this.maxPixels = maxPixels;
  }

  /** Images refused: over the bound, or (where checked) without a readable size. */
  get refused(): number {
    return this.#refused;
  }

  /** Why an image of this size may not reach viewers (and it is counted), or null. */
  refuse(width: number, height: number): string | null {
    const problem = imageSizeProblem(width, height, this.maxPixels);
    if (problem) this.#refused++;
    return problem;
  }

  /** Counts an image refused for want of a readable size. */
  unreadable(): void {
    this.#refused++;
  }
}
