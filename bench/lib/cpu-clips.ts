import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MEDIA_DIR, probe, type BenchSource } from './media.js';

function render(ffmpeg: string, path: string, lavfi: string, seconds: number): void {
  const r = spawnSync(
    ffmpeg,
    [
      ...['-hide_banner', '-v', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i', lavfi, '-t', String(seconds)],
      ...['-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'veryfast', path],
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`ffmpeg could not make ${path}: ${r.stderr}`);
}

/**
 * A noisy H.264 test card (testsrc2 with temporal noise; ~6 Mbit/s at 1080p, as a camera's stream):
 * noise every frame keeps the decoder and the JPEG encoder as busy as real footage does.
 */
export function noisyClip(
  ffmpeg: string,
  dir: string,
  width: number,
  height: number,
  seconds: number,
): BenchSource {
  const path = join(dir, `testsrc2-noise-${height}p.mp4`);
  render(ffmpeg, path, `testsrc2=size=${width}x${height}:rate=30,noise=alls=6:allf=t`, seconds);
  return { name: `${height}p noisy testsrc2`, path, width, height, frames: seconds * 30, generated: true };
}

/**
 * The CPU section's clips: 640x360 footage (the bottle conveyor from the sample footage when this
 * machine has it, else a generated noisy fractal of that size) and a noisy 1080p H.264 test card.
 */
export function cpuSources(ffmpeg: string, dir: string): BenchSource[] {
  const footage = join(MEDIA_DIR, 'bottle-detection.mp4');
  let sd: BenchSource;
  if (existsSync(footage)) {
    sd = { name: '360p bottle-detection', path: footage, ...probe(ffmpeg, footage), generated: false };
  } else {
    const path = join(dir, 'fractal-360p.mp4');
    const lavfi =
      'mandelbrot=size=640x360:rate=30:start_scale=0.3,gblur=sigma=1,noise=alls=6:allf=t:all_seed=3';
    render(ffmpeg, path, lavfi, 30);
    sd = { name: '360p fractal', path, width: 640, height: 360, frames: 900, generated: true };
  }
  return [sd, noisyClip(ffmpeg, dir, 1920, 1080, 15)];
}
