import sharp from 'sharp';

const cache = new Map<string, Promise<Buffer>>();

/**
 * The "NO SIGNAL" picture clients see while a live source is lost (uStreamer's idea): a dark JPEG of
 * the stream's size with the words drawn from SVG text. Rendered once per size and quality, then shared.
 * No source name is drawn on it: a camera URL may carry credentials.
 */
export function noSignalJpeg(width: number, height: number, quality = 80): Promise<Buffer> {
  const w = Math.max(16, Math.min(16384, Math.round(width)));
  const h = Math.max(16, Math.min(16384, Math.round(height)));
  const key = `${w}x${h}q${quality}`;
  let jpeg = cache.get(key);
  if (!jpeg) {
    const big = Math.max(8, Math.round(Math.min(h / 8, w / 7)));
    const small = Math.max(6, Math.round(big / 3));
    const svg =
      `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">` +
      `<rect width="100%" height="100%" fill="#111"/>` +
      `<g font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" text-anchor="middle" fill="#ddd">` +
      `<text x="50%" y="${Math.round(h / 2)}" font-size="${big}">NO SIGNAL</text>` +
      `<text x="50%" y="${Math.round(h / 2 + big)}" font-size="${small}" fill="#999">reconnecting to the source…</text>` +
      `</g></svg>`;
    jpeg = sharp(Buffer.from(svg)).jpeg({ quality, mozjpeg: false }).toBuffer();
    // A failed render must not poison the cache: the next loss tries again.
    jpeg.catch(() => cache.delete(key));
    cache.set(key, jpeg);
  }
  return jpeg;
}
