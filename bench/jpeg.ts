import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  compareEncoders,
  hasOpenCv,
  encodeOpenCv,
  renderClip,
  renderYuvClip,
  score,
  splitFrames,
  type ClipComparison,
  type RawClip,
} from '../test/helpers/jpeg-quality.js';
import { encodeJpeg } from '../src/encode/jpeg-encoder.js';
import { encodeI420, nativeJpegAvailable } from '../src/encode/native-jpeg.js';
import { MEDIA_DIR } from './lib/media.js';

/** One scene: our encoder (optimised and standard Huffman tables), OpenCV's imencode, ffmpeg's mjpeg. */
export interface JpegRow extends ClipComparison {
  /** Our encoder with standard Huffman tables (what --no-pace uses when CPU-bound). */
  oursStandard: { psnr: number; bytes: number };
}

/** Real footage for an extra row, when this machine has it (never required). */
const FOOTAGE = join(MEDIA_DIR, 'bottle-detection.mp4');

function footageClip(ffmpeg: string, dir: string, count: number): RawClip | null {
  if (!existsSync(FOOTAGE)) return null;
  const path = join(dir, 'footage-800x450.rgb');
  const r = spawnSync(ffmpeg, [
    ...['-v', 'error', '-i', FOOTAGE, '-vf', 'select=not(mod(n\\,100)),scale=800:450:flags=area'],
    ...[
      '-fps_mode',
      'passthrough',
      '-frames:v',
      String(count),
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-y',
      path,
    ],
  ]);
  if (r.status !== 0) return null;
  const frames = splitFrames(readFileSync(path), 800 * 450 * 3);
  return { name: 'bottle footage', width: 800, height: 450, path, frames };
}

/** JPEG quality vs size at q80 on 800x450 frames; null when OpenCV is missing. */
export async function jpegQuality(ffmpeg: string, dir: string, frames: number): Promise<JpegRow[] | null> {
  if (!hasOpenCv()) return null;
  const clips = [
    renderClip(ffmpeg, dir, 'testsrc2', 800, 450, frames),
    renderClip(ffmpeg, dir, 'natural', 800, 450, frames),
  ];
  const footage = footageClip(ffmpeg, dir, frames);
  if (footage) clips.push(footage);
  const rows: JpegRow[] = [];
  for (const clip of clips) {
    const c = await compareEncoders(ffmpeg, clip, 80, dir);
    const standard: Buffer[] = [];
    for (const f of clip.frames)
      standard.push(await encodeJpeg(f, clip.width, clip.height, { quality: 80, optimiseCoding: false }));
    const s = await score('framecast-standard', clip, standard);
    rows.push({ ...c, oursStandard: { psnr: s.psnr, bytes: s.bytes } });
  }
  return rows;
}

/** The default route: 4:2:0 frames straight into the native encoder, against OpenCV on their exact RGB. */
export interface NativeJpegRow {
  scene: string;
  optimised: { psnr: number; bytes: number };
  standard: { psnr: number; bytes: number };
  opencv: { psnr: number; bytes: number };
}

/** Native-encoder quality on 4:2:0 frames (what every camera and mp4 decodes to); null without it or OpenCV. */
export async function nativeJpegQuality(
  ffmpeg: string,
  dir: string,
  frames: number,
): Promise<NativeJpegRow[] | null> {
  if (!hasOpenCv() || !nativeJpegAvailable()) return null;
  const clips = [
    renderYuvClip(ffmpeg, dir, 'testsrc2', 800, 450, frames),
    renderYuvClip(ffmpeg, dir, 'natural', 800, 450, frames),
  ];
  if (existsSync(FOOTAGE))
    clips.push(
      renderYuvClip(
        ffmpeg,
        dir,
        'bottle footage',
        800,
        450,
        frames,
        `movie=${FOOTAGE},scale=800:450:flags=area`,
      ),
    );
  const rows: NativeJpegRow[] = [];
  for (const clip of clips) {
    const encode = async (optimiseCoding: boolean): Promise<Buffer[]> => {
      const out: Buffer[] = [];
      for (const f of clip.i420) out.push(await encodeI420(f, 800, 450, { quality: 80, optimiseCoding }));
      return out;
    };
    const pick = (s: { psnr: number; bytes: number }): { psnr: number; bytes: number } => ({
      psnr: s.psnr,
      bytes: s.bytes,
    });
    rows.push({
      scene: clip.rgb.name,
      optimised: pick(await score('native', clip.rgb, await encode(true))),
      standard: pick(await score('native-standard', clip.rgb, await encode(false))),
      opencv: pick(await score('opencv', clip.rgb, encodeOpenCv(clip.rgb, 80))),
    });
  }
  return rows;
}
