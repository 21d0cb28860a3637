/** Which JPEG encoder a pipeline uses, and when optimised Huffman tables pay for themselves. */
import { nativeJpegAvailable } from './native-jpeg.js';

/**
 * Through sharp, optimised Huffman tables cost ~1.4 ms more per 800x450 frame (CPU and latency) and
 * save ~12% of the bytes; sending those bytes costs ~2 us per viewer per frame (measured fan-out: 0.5
 * cores for 1000 viewers of 23 kB frames at 30 fps). They pay for themselves from ~700 viewers: below
 * this audience the standard tables (the same size as OpenCV's) keep latency down.
 */
export const HUFFMAN_MIN_AUDIENCE = 500;

/**
 * The native encoder's optimised tables cost ~0.7 ms per 800x450 frame (1.25 vs 0.55 ms), which every
 * viewer also waits: at 100 viewers the latency p50/p99 measured 2.9/5.0 ms with them against 2.35/4.2
 * ms without (three runs each). The CPU breaks even at ~350 viewers (~2 us per viewer per frame for
 * 12% more bytes), so from 300 viewers on the smaller frames win.
 */
export const NATIVE_HUFFMAN_MIN_AUDIENCE = 300;

/** The JPEG encoders a pipeline can use. */
export type JpegEncoderKind = 'libjpeg' | 'ffmpeg';

/** True when `kind` encodes through the native 4:2:0 encoder on this install (it may not be built). */
export function nativeEncodes(kind: JpegEncoderKind): boolean {
  return kind === 'libjpeg' && nativeJpegAvailable();
}

/** What actually encodes for `kind` on this install. */
export function encoderImplementation(kind: JpegEncoderKind): string {
  if (kind === 'ffmpeg') return 'ffmpeg mjpeg';
  return nativeEncodes(kind) ? 'libjpeg-turbo, native, 4:2:0 input' : 'libjpeg-turbo via sharp, RGB input';
}
