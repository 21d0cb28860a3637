import { createRequire } from 'node:module';
import { FramecastError } from '../errors.js';

/**
 * framecast's native JPEG encoder (native/yuv_jpeg.c): libjpeg-turbo fed ffmpeg's 4:2:0 planes
 * directly. It skips the two colour conversions of the RGB route (ffmpeg's YUV->RGB, libjpeg's
 * RGB->YCbCr and chroma downsampling): measured 0.55 ms per 800x450 frame against 1.6 ms for
 * RGB through sharp with standard Huffman tables, 1.25 ms against 3.2 ms with optimised ones.
 *
 * It is built at install time when a C compiler and libjpeg-turbo's headers are there
 * (`scripts/build-native.mjs`); without it framecast encodes RGB through sharp, same quality scale.
 * FRAMECAST_NATIVE=0 turns it off.
 */
interface NativeBinding {
  encodeI420(
    planes: Buffer,
    width: number,
    height: number,
    quality: number,
    optimise: boolean,
    limited: boolean,
    outWidth?: number,
    outHeight?: number,
  ): Promise<Buffer>;
  abi: number;
}

let binding: NativeBinding | null | undefined;
let loadError: string | null = null;

/** The native build this code needs (see NAPI_MODULE_INIT in native/yuv_jpeg.c). */
const NATIVE_ABI = 2;
/** The build that can also shrink a frame before encoding it (encodeI420's output size). */
const SHRINK_ABI = 3;

function load(): NativeBinding | null {
  if (binding !== undefined) return binding;
  binding = null;
  if (process.env.FRAMECAST_NATIVE === '0') {
    loadError = 'turned off by FRAMECAST_NATIVE=0';
    return binding;
  }
  try {
    // Same relative path from src/encode (tsx) and dist/encode (built).
    const required: unknown = createRequire(import.meta.url)(
      '../../native/build/Release/framecast_jpeg.node',
    );
    const b = required as Partial<NativeBinding> & { abi?: unknown };
    // An older build ignores limitedRange, and its frames would come out washed out: not used.
    if (typeof b.encodeI420 === 'function' && typeof b.abi === 'number' && b.abi >= NATIVE_ABI)
      binding = required as NativeBinding;
    else
      loadError =
        'native/build/Release/framecast_jpeg.node is an older build (run `npm rebuild framecast` or `node scripts/build-native.mjs`)';
  } catch (err) {
    loadError =
      (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND'
        ? "not built (framecast's scripts/build-native.mjs builds it, given a C compiler and libjpeg-turbo headers)"
        : ((err as Error).message.split('\n')[0] ?? 'failed to load');
  }
  return binding;
}

/** True when the native encoder is built and loadable (and not turned off). */
export function nativeJpegAvailable(): boolean {
  return load() !== null;
}

/** True when the native encoder can shrink a frame as it encodes it (renditions of raw frames). */
export function nativeShrinkAvailable(): boolean {
  return (load()?.abi ?? 0) >= SHRINK_ABI;
}

/** Why the native encoder is not used, or null when it is. */
export function nativeJpegUnavailableReason(): string | null {
  load();
  return binding ? null : loadError;
}

/**
 * Encodes one BT.601 I420 frame as a baseline 4:2:0 JPEG on the libuv thread pool, with OpenCV's
 * quantisation tables for `quality` and the accurate integer DCT. The planes are full range (ffmpeg's
 * yuvj420p), or limited range (yuv420p) with `limitedRange`, expanded to full range as rows are read.
 * `planes` must not change until the promise settles. With `out` (at most the frame's size each way),
 * the planes are first shrunk to it by area averaging (nativeShrinkAvailable() tells whether the build
 * can).
 */
export async function encodeI420(
  planes: Buffer,
  width: number,
  height: number,
  settings: {
    quality: number;
    optimiseCoding?: boolean;
    limitedRange?: boolean;
    out?: { width: number; height: number };
  },
): Promise<Buffer> {
  const native = load();
  if (!native)
    throw new FramecastError('ERR_ENCODE', `native JPEG encoder unavailable: ${loadError ?? 'not built'}`);
  try {
    const { quality, optimiseCoding = true, limitedRange = false, out } = settings;
    if (out) {
      if (native.abi < SHRINK_ABI)
        throw new Error('this native build cannot shrink frames (run `node scripts/build-native.mjs`)');
      return await native.encodeI420(
        planes,
        width,
        height,
        quality,
        optimiseCoding,
        limitedRange,
        out.width,
        out.height,
      );
    }
    return await native.encodeI420(planes, width, height, quality, optimiseCoding, limitedRange);
  } catch (err) {
    throw new FramecastError('ERR_ENCODE', `JPEG encode failed: ${(err as Error).message}`, { cause: err });
  }
}
