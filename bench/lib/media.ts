import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** A video file the bench streams. */
export interface BenchSource {
  /** Short label for tables. */
  name: string;
  path: string;
  width: number;
  height: number;
  frames: number;
  /** True for generated clips, false for real footage found on this machine. */
  generated: boolean;
}

/** Where optional real footage (*.mp4) may live: extra rows when present, never required. */
export const MEDIA_DIR = process.env['FRAMECAST_BENCH_MEDIA'] ?? '/work/shared/media';

function ffmpegOrThrow(ffmpeg: string, args: string[]): void {
  const r = spawnSync(ffmpeg, ['-hide_banner', '-v', 'error', '-nostdin', '-y', ...args], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr}`);
}

/** Frame count and size of a video file, from ffprobe (next to ffmpeg). */
export function probe(ffmpeg: string, path: string): { width: number; height: number; frames: number } {
  const ffprobe = ffmpeg.replace(/ffmpeg(\.exe)?$/, 'ffprobe$1');
  const r = spawnSync(
    ffprobe,
    ['-v', 'error', '-select_streams', 'v:0', '-count_packets'].concat([
      '-show_entries',
      'stream=width,height,nb_read_packets',
      '-of',
      'csv=p=0',
      path,
    ]),
    { encoding: 'utf8' },
  );
  const [w, h, n] = r.stdout.trim().split(',').map(Number);
  if (!w || !h || !n) throw new Error(`ffprobe could not read ${path}: ${r.stderr}`);
  return { width: w, height: h, frames: n };
}

/** A video file's frame rate (its first video stream's r_frame_rate), from ffprobe next to ffmpeg. */
export function probeFps(ffmpeg: string, path: string): number {
  const ffprobe = ffmpeg.replace(/ffmpeg(\.exe)?$/, 'ffprobe$1');
  const r = spawnSync(
    ffprobe,
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=r_frame_rate', '-of', 'csv=p=0', path],
    { encoding: 'utf8' },
  );
  const [num, den] = r.stdout.trim().split('/').map(Number);
  const fps = (num ?? NaN) / (den ?? 1);
  if (!Number.isFinite(fps) || fps <= 0)
    throw new Error(`ffprobe could not read the rate of ${path}: ${r.stderr}`);
  return Math.round(fps * 1000) / 1000;
}

/**
 * The throughput sources: a 1080p H.264 test card (15 s, 450 frames) and a 640x360 H.264 clip of a
 * textured, noisy fractal (30 s, 900 frames; closer to camera footage than a test card), made in `dir`.
 * Real footage in MEDIA_DIR is added as extra rows when this machine has it.
 */
export function makeSources(ffmpeg: string, dir: string): BenchSource[] {
  const hd = join(dir, 'testsrc2-1080p.mp4');
  ffmpegOrThrow(ffmpeg, [
    ...['-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30', '-t', '15'],
    ...['-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'veryfast', hd],
  ]);
  const sd = join(dir, 'fractal-360p.mp4');
  ffmpegOrThrow(ffmpeg, [
    '-f',
    'lavfi',
    '-i',
    'mandelbrot=size=640x360:rate=30:start_scale=0.3,gblur=sigma=1,noise=alls=6:allf=t:all_seed=3',
    ...['-t', '30', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'veryfast', sd],
  ]);
  const out: BenchSource[] = [
    { name: '1080p testsrc2', path: hd, width: 1920, height: 1080, frames: 450, generated: true },
    { name: '360p fractal', path: sd, width: 640, height: 360, frames: 900, generated: true },
  ];
  if (existsSync(MEDIA_DIR)) {
    for (const f of readdirSync(MEDIA_DIR)
      .filter((n) => n.endsWith('.mp4'))
      .sort()) {
      const path = join(MEDIA_DIR, f);
      const p = probe(ffmpeg, path);
      out.push({ name: `${p.height}p ${f.replace(/\.mp4$/, '')}`, path, ...p, generated: false });
    }
  }
  return out;
}
