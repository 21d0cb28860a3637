import sharp from 'sharp';
import { MAX_IMAGE_SIDE } from '../util/jpeg.js';

/** NO SIGNAL pictures kept, least recently used dropped first (a stream uses one size at a time). */
const CACHE_ENTRIES = 4;

/** Width of the NO SIGNAL picture of a stream that keeps its source's width (width 0, passthrough, publisher). */
export const NO_SIGNAL_DEFAULT_WIDTH = 800;

const cache = new Map<string, Promise<Buffer>>();

/** How many NO SIGNAL pictures are cached now (at most CACHE_ENTRIES). */
export function noSignalCacheSize(): number {
  return cache.size;
}

/**
 * The size of a stream's NO SIGNAL picture: its configured `width` (NO_SIGNAL_DEFAULT_WIDTH when 0)
 * and a height that follows the last frame's aspect ratio, kept between 1:4 and 2:1 (16:9 before any
 * frame), the whole within `maxPixels`. A peer's frame may tell the shape, never the size: a JPEG
 * header claiming 65535x65535 once made the server draw (and cache) a 16383x16383 picture.
 */
export function noSignalSize(
  width: number,
  last: { width: number; height: number } | null,
  maxPixels: number,
): { width: number; height: number } {
  let w = width > 0 ? width : NO_SIGNAL_DEFAULT_WIDTH;
  const aspect = last && last.width > 0 && last.height > 0 ? last.height / last.width : 9 / 16;
  let h = w * Math.min(2, Math.max(0.25, aspect));
  if (w * h > maxPixels) {
    const shrink = Math.sqrt(maxPixels / (w * h));
    w *= shrink;
    h *= shrink;
  }
  const side = (v: number): number => Math.max(16, Math.min(MAX_IMAGE_SIDE, 2 * Math.floor(v / 2)));
  return { width: side(w), height: side(h) };
}

/**
 * The "NO SIGNAL" picture clients see while a live source is lost (uStreamer's idea): a dark JPEG of
 * the stream's size with the words drawn from SVG text. Rendered once per size and quality and shared;
 * only the last few sizes are kept. No source name is drawn on it: a camera URL may carry credentials.
 */
export function noSignalJpeg(width: number, height: number, quality = 80): Promise<Buffer> {
  const w = Math.max(16, Math.min(MAX_IMAGE_SIDE, Math.round(width)));
  const h = Math.max(16, Math.min(MAX_IMAGE_SIDE, Math.round(height)));
  const key = `${w}x${h}q${quality}`;
  const cached = cache.get(key);
  if (cached) {
    // Most recently used last: Map keeps insertion order, so the first key is the one to drop.
    cache.delete(key);
    cache.set(key, cached);
    return cached;
  }
  const big = Math.max(8, Math.round(Math.min(h / 8, w / 7)));
  const small = Math.max(6, Math.round(big / 3));
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">` +
    `<rect width="100%" height="100%" fill="#111"/>` +
    `<g font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" text-anchor="middle" fill="#ddd">` +
    `<text x="50%" y="${Math.round(h / 2)}" font-size="${big}">NO SIGNAL</text>` +
    `<text x="50%" y="${Math.round(h / 2 + big)}" font-size="${small}" fill="#999">reconnecting to the source…</text>` +
    `</g></svg>`;
  const made = sharp(Buffer.from(svg)).jpeg({ quality, mozjpeg: false }).toBuffer();
  // A failed render must not poison the cache: the next loss tries again.
  made.catch(() => cache.get(key) === made && cache.delete(key));
  cache.set(key, made);
  for (const old of cache.keys()) if (cache.size > CACHE_ENTRIES) cache.delete(old);
  return made;
}
