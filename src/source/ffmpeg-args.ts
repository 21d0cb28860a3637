import type { SourceSpec } from './source-spec.js';

/**
 * One decoded, scaled frame: packed RGB24, I420 planes, or a JPEG image in MJPEG mode, as the source
 * was asked; stamped when its last byte left ffmpeg.
 */
export interface RawFrame {
  data: Buffer;
  width: number;
  height: number;
  /** 0-based index within this run of the source. */
  index: number;
  /** Wall-clock ms when the frame was complete. */
  capturedAt: number;
  /**
   * I420 planes in limited (TV) range, BT.601: the encoder expands them to JPEG's full range. False or
   * absent: full range (JFIF's own YCbCr), or not I420.
   */
  limitedRange?: boolean;
  /** Hands `data` back for reuse once nothing reads it any more (optional; frames are GC'd otherwise). */
  release(): void;
}

/** Options for one run of ffmpeg over a source. */
export interface FfmpegSourceOptions {
  ffmpeg: string;
  spec: SourceSpec;
  /** Output width; 0 keeps the source's width. Height follows the aspect ratio, truncated like the seed. */
  width: number;
  /** Deliver at the input's native rate; ignored for live inputs, which pace themselves. */
  pace: boolean;
  /**
   * The input's frame rate, when known: pacing is then done here, by frame index, instead of by
   * ffmpeg's -re (see Pacer). Without it, -re paces.
   */
  paceFps?: number | null;
  /** Restart a file at its end. */
  loop: boolean;
  /** Frame buffers kept for reuse (released frames); default 4. */
  poolSize?: number;
  /**
   * When set, ffmpeg encodes JPEG itself at this mjpeg qscale (1-31) and frames carry JPEG images
   * instead of RGB24 pixels.
   */
  mjpegQscale?: number;
  /**
   * Passthrough: the source's frames already are JPEG (an MJPEG camera or file); ffmpeg copies them
   * out untouched (`-c:v copy`), no scale, no encode. Other options about the picture are ignored.
   */
  copy?: boolean;
  /**
   * Raw frames as packed RGB24 (default); as full-range BT.601 I420 planes (ffmpeg's yuvj420p), which
   * a JPEG encoder takes without any colour conversion; or as BT.601 I420 planes in the source's own
   * range (`i420`: limited for nearly every camera and file, full for MJPEG and full-range H.264),
   * each frame saying which (`limitedRange`). Ignored in MJPEG mode.
   */
  pixelFormat?: RawPixelFormat;
}

/** Layouts of raw frames. */
export type RawPixelFormat = 'rgb24' | 'yuvj420p' | 'i420';

/** Bytes in one raw frame of this size and layout. */
export function rawFrameSize(width: number, height: number, format: RawPixelFormat): number {
  // yuvj420p and i420: the same planes, only the range differs.
  return format === 'rgb24'
    ? width * height * 3
    : width * height + 2 * Math.ceil(width / 2) * Math.ceil(height / 2);
}

/**
 * Builds the ffmpeg command line: decode, scale with area averaging (OpenCV's INTER_AREA), and hand the
 * frames over as RGB24, I420 (YUV4MPEG2) or JPEG, as `opts` ask.
 */
export function ffmpegArgs(opts: Omit<FfmpegSourceOptions, 'ffmpeg'>): string[] {
  const { spec, width, pace, loop } = opts;
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'info', '-nostats'];
  if (pace && !spec.live && !opts.paceFps) args.push('-re');
  if (loop && spec.finite) args.push('-stream_loop', '-1');
  if (opts.copy) {
    // A V4L2 webcam delivers MJPEG only when asked for it.
    const input =
      spec.kind === 'device' && spec.inputArgs.includes('v4l2')
        ? [...spec.inputArgs.slice(0, -2), '-input_format', 'mjpeg', ...spec.inputArgs.slice(-2)]
        : spec.inputArgs;
    args.push(...input, '-map', '0:v:0', '-an', '-sn', '-dn', '-c:v', 'copy', '-f', 'mjpeg', 'pipe:1');
    return args;
  }
  args.push(...spec.inputArgs, '-map', '0:v:0', '-an', '-sn', '-dn');
  // Area-average scaling in YUV 4:2:0, then the fast unscaled YUV->RGB conversion. Scaling straight to
  // RGB makes swscale interpolate chroma at full size first: measured 0.5 ms more CPU per frame and
  // 0.7-1.3 dB worse after JPEG (whose 4:2:0 sampling discards that chroma again) than this chain.
  const mjpeg = opts.mjpegQscale !== undefined;
  // JPEG's own colour space (JFIF): full-range BT.601 YCbCr. For ffmpeg's JPEG encoder and for raw
  // I420 frames, one pass scales straight into it (measured: 0.45 ms less per 800x450 frame than a
  // second range-converting pass). BT.709 sources are converted, so decoders show the right colours.
  const jpegYuv = mjpeg || opts.pixelFormat === 'yuvj420p';
  const toJpegYuv = 'out_range=full:out_color_matrix=bt601';
  // `i420`: BT.601 planes, but no range conversion here: swscale's is plain C per pixel (0.2 ms per
  // 640x360 -> 800x450 frame, 0.43 ms from 1080p), the native encoder's SIMD one costs a fraction of
  // that. The format filter keeps the source's range: yuv420p (limited) or yuvj420p (full).
  const ownRange = opts.pixelFormat === 'i420' && !mjpeg;
  const size = width > 0 ? `${width}:trunc(ih*(${width}/iw)):` : '';
  if (ownRange) {
    const flags = width > 0 ? 'flags=area+accurate_rnd:' : '';
    // One scaling thread: swscale's slices on 2 threads cost 0.04-0.07 ms more CPU per 360p frame in
    // their hand-offs, beside our own encoder threads (paced 720p: no difference either way; the cost
    // is unpaced 1080p throughput, 5% lower, still above FFmpeg's CLI).
    args.push('-filter_threads', '1');
    args.push('-vf', `scale=${size}${flags}out_color_matrix=bt601,format=yuv420p|yuvj420p`);
  } else if (width > 0) {
    const scale = `scale=${size}flags=area+accurate_rnd`;
    args.push('-vf', jpegYuv ? `${scale}:${toJpegYuv},format=yuvj420p` : `${scale},format=yuv420p`);
  } else if (jpegYuv) {
    args.push('-vf', `scale=flags=accurate_rnd:${toJpegYuv},format=yuvj420p`);
  }
  if (mjpeg) {
    // Full-range 4:2:0, what JPEG decoders assume; qmin 1 lets the finest qscale through.
    args.push('-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-qmin', '1', '-q:v', String(opts.mjpegQscale));
    args.push('-huffman', 'optimal', '-f', 'mjpeg', 'pipe:1');
  } else if (ownRange) {
    // No -pix_fmt: that would convert full-range frames back; ffmpeg's log says what came out.
    // YUV4MPEG2 rather than rawvideo: it writes the planes straight from the frame, where rawvideo
    // copies each into a freshly allocated packet first (0.08 ms per 800x450 frame); -strict -1
    // lets it carry yuvj420p.
    args.push('-strict', '-1', '-f', 'yuv4mpegpipe', 'pipe:1');
  } else {
    args.push('-f', 'rawvideo', '-pix_fmt', opts.pixelFormat ?? 'rgb24', 'pipe:1');
  }
  return args;
}
