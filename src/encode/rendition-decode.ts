import sharp, { type Sharp } from 'sharp';
import { FramecastError } from '../errors.js';
import type { Frame } from '../hub/frame.js';
import { encoderPool } from './encoder-pool.js';
import { HeldPlanes, type RawPlanes, type RawTap } from './held-planes.js';
import { encodeI420, nativeShrinkAvailable } from './native-jpeg.js';

/** What a rendition is: a width (the height follows the picture) and a JPEG quality. */
export interface RenditionKey {
  width: number;
  quality: number;
}

/** A rendition's name among a stream's: `320q80`. */
export function keyId(key: RenditionKey): string {
  return `${key.width}q${key.quality}`;
}

/** A rendition's JPEG and its size. */
export interface ScaledJpeg {
  jpeg: Buffer;
  width: number;
  height: number;
  /** Made from a decode shared with the stream's other renditions. */
  shared?: boolean;
  /** Made from the frame's raw planes (no decode). */
  raw?: boolean;
}

/**
 * A JPEG at another width and quality. libvips (through sharp) decodes with libjpeg-turbo's DCT
 * scaling when shrinking by 2, 4 or 8 or more (a fraction of a full decode), then resizes exactly.
 * Never enlarges: a width over the picture's keeps its size.
 */
export function scaleJpeg(jpeg: Buffer, key: RenditionKey, maxPixels: number): Promise<ScaledJpeg> {
  return encodeRendition(
    () =>
      sharp(jpeg, { limitInputPixels: maxPixels, failOn: 'error' }).resize({
        width: key.width,
        withoutEnlargement: true,
        kernel: 'lanczos3',
        fastShrinkOnLoad: true,
      }),
    key,
  );
}

/**
 * A rendition of a frame from its raw I420 planes (a source ffmpeg decodes): shrunk by area averaging
 * and encoded by the native encoder in one task on the encoder pool, with no JPEG decode; 4:2:0 with
 * optimised Huffman tables like every rendition. The height follows the picture (rounded), as sharp's.
 */
export async function scaleRaw(raw: RawPlanes, key: RenditionKey): Promise<ScaledJpeg> {
  const width = Math.min(key.width, raw.width);
  const height = Math.max(1, Math.round((raw.height * width) / raw.width));
  const jpeg = await encoderPool.run(() =>
    encodeI420(raw.data, raw.width, raw.height, {
      quality: key.quality,
      optimiseCoding: true,
      limitedRange: raw.limitedRange === true,
      out: { width, height },
    }),
  );
  return { jpeg, width, height, raw: true };
}

/**
 * The one JPEG encoding of every rendition (4:2:0 like the stream's own frames, optimised Huffman
 * tables: a rendition's encode is shared by its viewers), with failures as ERR_ENCODE naming it.
 */
async function encodeRendition(img: () => Sharp, key: RenditionKey): Promise<ScaledJpeg> {
  try {
    const { data, info } = await img()
      .jpeg({ quality: key.quality, chromaSubsampling: '4:2:0', optimiseCoding: true, mozjpeg: false })
      .toBuffer({ resolveWithObject: true });
    return { jpeg: data, width: info.width, height: info.height };
  } catch (err) {
    throw new FramecastError(
      'ERR_ENCODE',
      `rendition ${key.width}px q${key.quality}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** Decodes kept: the newest frame's, and one before it for a rendition still encoding that one. */
const KEPT_DECODES = 2;

interface Decoded {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

interface Held {
  frame: Frame;
  /** The width it was decoded for: the largest live rendition's when it was made. */
  width: number;
  pixels: Promise<Decoded>;
}

/** What a rendition's frame is made with: the stream's frame at the rendition's size and quality. */
export type RenditionScaler = (frame: Frame, key: RenditionKey) => Promise<ScaledJpeg>;

/**
 * How a stream's renditions get their pixels. From a source ffmpeg decodes, the pipeline lends each
 * frame's raw I420 planes as its main-size encode starts (`tap`): each running rendition shrinks and
 * encodes them at once (scaleRaw, no decode at all), beside the main size, so its frame is ready about
 * when the stream's is; one such early encode per size and quality at a time (a passive preview and
 * an active rendition of one size share it: the first to ask takes it, the other encodes on demand) (a rendition still encoding an
 * older frame makes this one's when it asks, as from a frame whose encode was not started early). Otherwise (publishers, passthrough, edges, a frame whose planes
 * are gone), one decode of the frame's JPEG for all of its renditions. With two or more running, a
 * frame's JPEG is decoded once, at the largest rendition's width, and each rendition resizes and
 * encodes from those pixels: the largest encodes them as they are. The decode is sharp's
 * shrink-on-load (libjpeg-turbo's DCT scaling) then an exact resize: sharp scales by 1/2 from a
 * shrink of 3, 1/4 from 5, 1/8 from 9 (it keeps a margin against libjpeg's rounding), so an 800-px
 * stream's 640-px rendition is a full decode, a 1080p one's is a 1/2 decode. With one rendition,
 * that rendition's scaleJpeg() (the same decode, no pixels kept). Each rendition still encodes once
 * per frame: only the decode is shared.
 */
export class SharedDecode {
  readonly #keys: () => RenditionKey[];
  readonly #maxPixels: number;
  #held: Held[] = [];
  readonly #planes = new HeldPlanes<ScaledJpeg>();
  /** Renditions (by keyId) with an early encode in flight. */
  readonly #early = new Set<string>();
  /**
   * Decodes made for 2+ renditions, rendition frames made from one of them and from raw planes, and
   * early encodes started (as the planes arrived) and taken by their rendition.
   */
  readonly counts = { decodes: 0, fromShared: 0, fromRaw: 0, early: 0, earlyTaken: 0 };
  /** Where the stream's pipeline lends raw planes while renditions run. */
  readonly tap: RawTap = {
    wanted: () => this.#keys().length > 0 && nativeShrinkAvailable(),
    arrive: (raw) => {
      const arrival = this.#planes.arrive(raw);
      for (const key of this.#keys()) {
        const id = keyId(key);
        if (this.#early.has(id)) continue;
        this.#early.add(id);
        this.counts.early++;
        arrival.readEarly(id, (r) => scaleRaw(r, key).finally(() => this.#early.delete(id)));
      }
      return (frame) => arrival.bind(frame);
    },
  };

  /** `keys`: the renditions running now (the stream's renditions tell). */
  constructor(keys: () => RenditionKey[], maxPixels: number) {
    this.#keys = keys;
    this.#maxPixels = maxPixels;
  }

  #widths(): number[] {
    return this.#keys().map((k) => k.width);
  }

  /** `frame` at `key`, from the decode the stream's running renditions share when 2+ run. */
  readonly scale: RenditionScaler = async (frame, key) => {
    const fromRaw = this.#fromRaw(frame, key);
    if (fromRaw) return fromRaw;
    const widths = this.#widths();
    if (widths.length < 2) {
      this.#held = [];
      return scaleJpeg(frame.jpeg, key, this.#maxPixels);
    }
    const top = Math.max(...widths);
    // A rendition wider than those running (it has just started): a decode of its own this once.
    if (key.width > top) return scaleJpeg(frame.jpeg, key, this.#maxPixels);
    const pixels = this.#decode(frame, top);
    const out = await encodeFrom(await pixels, key);
    this.counts.fromShared++;
    return { ...out, shared: true };
  };

  /**
   * One frame at `key` (a snapshot's): from its raw planes when kept (a rendition's early encode of it
   * is shared, not taken), else from its JPEG alone.
   */
  scaleOne(frame: Frame, key: RenditionKey): Promise<ScaledJpeg> {
    return this.#fromRaw(frame, key, false) ?? scaleJpeg(frame.jpeg, key, this.#maxPixels);
  }

  #fromRaw(frame: Frame, key: RenditionKey, take = true): Promise<ScaledJpeg> | null {
    const early = this.#planes.early(frame, keyId(key), take);
    if (early && take) this.counts.earlyTaken++;
    const out = early ?? this.#planes.read(frame, (raw) => scaleRaw(raw, key));
    if (out) this.counts.fromRaw++;
    return out;
  }

  #decode(frame: Frame, top: number): Promise<Decoded> {
    const held = this.#held.find((h) => h.frame === frame && h.width === top);
    if (held) return held.pixels;
    this.counts.decodes++;
    const pixels = decodeAt(frame.jpeg, top, this.#maxPixels);
    // A failed decode is each asker's error (that frame is skipped), never an unhandled rejection.
    pixels.catch(() => undefined);
    this.#held = [...this.#held.filter((h) => h.frame !== frame), { frame, width: top, pixels }].slice(
      -KEPT_DECODES,
    );
    return pixels;
  }

  /** Lets go of the pixels held when fewer than two renditions run now (one has just stopped). */
  trim(): void {
    const running = this.#widths().length;
    if (running < 2) this.#held = [];
    if (running === 0) this.#planes.clear();
  }

  /** Lets go of the pixels held (the renditions closed). */
  clear(): void {
    this.#held = [];
    this.#planes.clear();
  }
}

/** The JPEG's pixels at `width` (never enlarged): shrink-on-load, then an exact resize. */
async function decodeAt(jpeg: Buffer, width: number, maxPixels: number): Promise<Decoded> {
  try {
    const { data, info } = await sharp(jpeg, { limitInputPixels: maxPixels, failOn: 'error' })
      .resize({ width, withoutEnlargement: true, kernel: 'lanczos3', fastShrinkOnLoad: true })
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: info.channels };
  } catch (err) {
    throw new FramecastError('ERR_ENCODE', `rendition decode at ${width}px: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** A rendition's JPEG from shared pixels: resized to its width when narrower, then encoded. */
function encodeFrom(d: Decoded, key: RenditionKey): Promise<ScaledJpeg> {
  return encodeRendition(() => {
    const img = sharp(d.data, { raw: { width: d.width, height: d.height, channels: d.channels } });
    return key.width < d.width ? img.resize({ width: key.width, kernel: 'lanczos3' }) : img;
  }, key);
}
