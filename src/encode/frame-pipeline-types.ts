import type { SourceSpec } from '../source/source-spec.js';
import type { ImageBound } from '../util/jpeg.js';
import type { JpegEncoderKind } from './encoder-choice.js';
import type { RawTap } from './held-planes.js';

/** Settings of the decode -> scale -> JPEG pipeline. */
export interface PipelineOptions {
  ffmpeg: string;
  spec: SourceSpec;
  width: number;
  quality: number;
  pace: boolean;
  loop: boolean;
  /** Cap on the output rate (frames per second), or null for the source's own rate. */
  fps: number | null;
  /** JPEG encodes in flight at once (each on a libuv thread). */
  concurrency: number;
  /** The input's rate, if a probe found it. */
  inputFps?: number | null;
  /** How many viewers the frames go to now (picks the Huffman tables; unknown counts as few). */
  audience?: () => number;
  /** Who encodes JPEG: libjpeg-turbo here (default), or ffmpeg itself (MJPEG, see ffmpeg-quality.ts). */
  encoder?: JpegEncoderKind;
  /** The source's frames already are JPEG: pass them through untouched (no scale, no encode). */
  passthrough?: boolean;
  /** Takes each frame's raw I420 planes after its encode while it wants them (the stream's renditions). */
  rawTap?: RawTap;
  /** Passthrough: a JPEG without a readable SOF, or over this bound, is dropped (and counted there). */
  images?: ImageBound;
}
