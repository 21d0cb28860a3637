import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { encodeJpeg } from '../../src/encode/jpeg-encoder.js';
import { rawFrameSize } from '../../src/source/ffmpeg-source.js';

/** Debian's python, the one that can import OpenCV (the pyenv python on PATH cannot). */
export const OPENCV_PYTHON = process.env['FRAMECAST_OPENCV_PYTHON'] ?? '/usr/bin/python3';
const OPENCV_SCRIPT = fileURLToPath(new URL('./opencv_jpeg.py', import.meta.url));

/** Uncompressed frames of one synthetic scene, as packed RGB24. */
export interface RawClip {
  name: string;
  width: number;
  height: number;
  /** One file holding every frame back to back (what the OpenCV and ffmpeg encoders read). */
  path: string;
  frames: Buffer[];
}

/** The scenes compared: ffmpeg's test card, and a textured, noisy, blurred fractal closer to camera footage. */
export const SCENES: Record<string, string> = {
  testsrc2: 'testsrc2=size=WxH:rate=30',
  natural: 'mandelbrot=size=WxH:rate=30:start_scale=0.3,gblur=sigma=1.2,noise=alls=6:allf=t:all_seed=3',
};

/** Renders `count` frames of a lavfi graph (every 10th, for variety) into `path` as raw `pixFmt`. */
function renderLavfi(ffmpeg: string, graph: string, count: number, pixFmt: string, path: string): void {
  const r = spawnSync(
    ffmpeg,
    [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      `${graph},select=not(mod(n\\,10))`,
      '-frames:v',
      String(count),
    ].concat(['-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', pixFmt, '-y', path]),
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`ffmpeg could not render ${graph}: ${r.stderr}`);
}

/** Cuts raw frames stored back to back into frames of `size` bytes. */
export function splitFrames(all: Buffer, size: number): Buffer[] {
  const frames: Buffer[] = [];
  for (let o = 0; o + size <= all.length; o += size) frames.push(all.subarray(o, o + size));
  return frames;
}

/** Renders `count` frames (every 10th of the scene, for variety) into `dir` with ffmpeg's lavfi. */
export function renderClip(
  ffmpeg: string,
  dir: string,
  name: string,
  width: number,
  height: number,
  count: number,
): RawClip {
  const graph = (SCENES[name] ?? name).replace('WxH', `${width}x${height}`);
  const path = join(dir, `${name}-${width}x${height}.rgb`);
  renderLavfi(ffmpeg, graph, count, 'rgb24', path);
  return { name, width, height, path, frames: splitFrames(readFileSync(path), width * height * 3) };
}

/** True when OpenCV can be imported by OPENCV_PYTHON. */
export function hasOpenCv(): boolean {
  const r = spawnSync(OPENCV_PYTHON, ['-c', 'import cv2'], { stdio: 'ignore' });
  return r.status === 0;
}

/** Encodes every frame of the clip with cv2.imencode (the seed's encoder). */
export function encodeOpenCv(clip: RawClip, quality: number): Buffer[] {
  const r = spawnSync(
    OPENCV_PYTHON,
    [OPENCV_SCRIPT, clip.path, String(clip.width), String(clip.height), String(quality)],
    { maxBuffer: 256 * 1024 * 1024 },
  );
  if (r.status !== 0) throw new Error(`OpenCV encoder failed: ${r.stderr.toString()}`);
  const out: Buffer[] = [];
  const buf = r.stdout;
  for (let o = 0; o < buf.length;) {
    const n = buf.readUInt32BE(o);
    out.push(buf.subarray(o + 4, o + 4 + n));
    o += 4 + n;
  }
  return out;
}

/** Encodes every frame with our encoder (src/encode/jpeg-encoder.ts). */
export async function encodeOurs(clip: RawClip, quality: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const f of clip.frames) out.push(await encodeJpeg(f, clip.width, clip.height, { quality }));
  return out;
}

/** Encodes every frame with ffmpeg's own mjpeg encoder at `-q:v qscale` (2 best .. 31 worst). */
export function encodeFfmpegMjpeg(ffmpeg: string, clip: RawClip, qscale: number, dir: string): Buffer[] {
  const outDir = join(dir, `mjpeg-${clip.name}-${qscale}`);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const r = spawnSync(
    ffmpeg,
    ['-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${clip.width}x${clip.height}`]
      .concat(['-i', clip.path, '-c:v', 'mjpeg', '-q:v', String(qscale), '-pix_fmt', 'yuvj420p'])
      .concat(['-f', 'image2', join(outDir, '%04d.jpg')]),
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`ffmpeg mjpeg failed: ${r.stderr}`);
  return readdirSync(outDir)
    .sort()
    .map((f) => readFileSync(join(outDir, f)));
}

/** Mean squared error of two equally sized 8-bit buffers. */
export function mse(a: Buffer, b: Buffer): number {
  if (a.length !== b.length) throw new RangeError(`size mismatch ${a.length} != ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    sum += d * d;
  }
  return sum / a.length;
}

/** PSNR in dB for 8-bit samples from a mean squared error (capped at 99 dB for identical images). */
export function psnrFromMse(m: number): number {
  return m === 0 ? 99 : 10 * Math.log10((255 * 255) / m);
}

/** Decodes a JPEG to packed RGB24 with libjpeg-turbo (the same decoder for every encoder compared). */
export async function decodeRgb(jpeg: Buffer): Promise<Buffer> {
  return sharp(jpeg).removeAlpha().toColourspace('srgb').raw().toBuffer();
}

/** Quality of one encoder's output over a clip. */
export interface EncoderScore {
  encoder: string;
  /** PSNR over all frames' pixels (from the pooled MSE), in dB. */
  psnr: number;
  /** Mean JPEG bytes per frame. */
  bytes: number;
}

/** Scores encoded frames against the clip's uncompressed ones. */
export async function score(encoder: string, clip: RawClip, jpegs: Buffer[]): Promise<EncoderScore> {
  if (jpegs.length !== clip.frames.length) {
    throw new Error(`${encoder}: ${jpegs.length} JPEGs for ${clip.frames.length} frames`);
  }
  let sumMse = 0;
  let sumBytes = 0;
  for (let i = 0; i < jpegs.length; i++) {
    const jpeg = jpegs[i] as Buffer;
    sumMse += mse(await decodeRgb(jpeg), clip.frames[i] as Buffer);
    sumBytes += jpeg.length;
  }
  return { encoder, psnr: psnrFromMse(sumMse / jpegs.length), bytes: sumBytes / jpegs.length };
}

/** Our encoder, OpenCV's and ffmpeg's mjpeg (at the qscale whose size is nearest OpenCV's) on one clip. */
export interface ClipComparison {
  clip: string;
  ours: EncoderScore;
  opencv: EncoderScore;
  ffmpeg: EncoderScore & { qscale: number };
}

/** Runs the three encoders over a clip at `quality`. */
export async function compareEncoders(
  ffmpeg: string,
  clip: RawClip,
  quality: number,
  dir: string,
): Promise<ClipComparison> {
  const ours = await score('framecast', clip, await encodeOurs(clip, quality));
  const opencv = await score('opencv', clip, encodeOpenCv(clip, quality));
  let best: (EncoderScore & { qscale: number }) | null = null;
  for (let q = 2; q <= 8; q++) {
    const s = { ...(await score('ffmpeg-mjpeg', clip, encodeFfmpegMjpeg(ffmpeg, clip, q, dir))), qscale: q };
    if (!best || Math.abs(s.bytes - opencv.bytes) < Math.abs(best.bytes - opencv.bytes)) best = s;
  }
  return { clip: clip.name, ours, opencv, ffmpeg: best as EncoderScore & { qscale: number } };
}

/**
 * One scene as the media pipeline sees it: decoded to limited-range 4:2:0 like every camera and mp4,
 * then what each encoder is given. `rgb` holds the exact BT.601 RGB of those frames (the uncompressed
 * reference, and what OpenCV encodes); `i420` holds them converted to full range by swscale
 * (`out_range=full`), `limited` the limited-range planes themselves, which the pipeline hands the
 * native encoder to expand (src/source/ffmpeg-source.ts, `i420`).
 */
export interface YuvClip {
  rgb: RawClip;
  i420: Buffer[];
  limited: Buffer[];
}

export function renderYuvClip(
  ffmpeg: string,
  dir: string,
  name: string,
  width: number,
  height: number,
  count: number,
  /** A lavfi graph to render instead of the scene `name` (e.g. a `movie=` of real footage). */
  graphOverride?: string,
): YuvClip {
  const graph = graphOverride ?? (SCENES[name] ?? name).replace('WxH', `${width}x${height}`);
  const slug = name.replace(/[^a-z0-9]+/gi, '-');
  const limited = join(dir, `${slug}-${width}x${height}.yuv`);
  const full = join(dir, `${slug}-${width}x${height}.yuvj`);
  renderLavfi(ffmpeg, graph, count, 'yuv420p', limited);
  const r = spawnSync(
    ffmpeg,
    ['-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${width}x${height}`, '-i', limited]
      .concat(['-vf', 'scale=flags=accurate_rnd:out_range=full:out_color_matrix=bt601,format=yuvj420p'])
      .concat(['-f', 'rawvideo', '-pix_fmt', 'yuvj420p', '-y', full]),
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`ffmpeg could not convert ${name} to full range: ${r.stderr}`);
  const size = rawFrameSize(width, height, 'yuvj420p');
  const frames = splitFrames(readFileSync(limited), size).map((f) => limitedI420ToRgb(f, width, height));
  const path = join(dir, `${slug}-${width}x${height}.exact.rgb`);
  writeFileSync(path, Buffer.concat(frames));
  return {
    rgb: { name, width, height, path, frames },
    i420: splitFrames(readFileSync(full), size),
    limited: splitFrames(readFileSync(limited), size),
  };
}

/** Exact BT.601 conversion of a limited-range I420 frame to RGB24 (chroma repeated over its 2x2 pixels). */
export function limitedI420ToRgb(frame: Buffer, width: number, height: number): Buffer {
  const cw = Math.ceil(width / 2);
  const ch = Math.ceil(height / 2);
  const u0 = width * height;
  const v0 = u0 + cw * ch;
  const out = Buffer.alloc(width * height * 3);
  const clamp = (x: number): number => (x < 0 ? 0 : x > 255 ? 255 : Math.round(x));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const c = (y >> 1) * cw + (x >> 1);
      const l = (((frame[y * width + x] as number) - 16) * 255) / 219;
      const u = (((frame[u0 + c] as number) - 128) * 255) / 224;
      const v = (((frame[v0 + c] as number) - 128) * 255) / 224;
      const o = (y * width + x) * 3;
      out[o] = clamp(l + 1.402 * v);
      out[o + 1] = clamp(l - 0.344136 * u - 0.714136 * v);
      out[o + 2] = clamp(l + 1.772 * u);
    }
  }
  return out;
}
