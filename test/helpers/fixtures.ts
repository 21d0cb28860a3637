/**
 * Test media made at test time with ffmpeg's lavfi sources (never from the repository or /work/shared).
 * Clips are cached per parameter set in the OS temp dir so several test files (and re-runs) reuse them;
 * each file is written under a temporary name and renamed, so a half-written clip is never seen.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The ffmpeg used to make fixtures (FFMPEG_PATH if set, else `ffmpeg` on PATH). */
export const FFMPEG = process.env.FFMPEG_PATH || 'ffmpeg';

/** Bump when the way clips are made changes, so stale cached files are not reused. */
const CACHE_VERSION = 1;
const CACHE_DIR = join(tmpdir(), `framecast-test-fixtures-v${CACHE_VERSION}`);

/** A generated video clip and what it is known to contain. */
export interface Clip {
  path: string;
  width: number;
  height: number;
  fps: number;
  seconds: number;
  /** Exact number of video frames in the file (fps * seconds for lavfi sources). */
  frames: number;
}

/** Parameters of a generated clip; all optional. */
export interface ClipOptions {
  /** Source size (default 640x360). */
  width?: number;
  height?: number;
  /** Frame rate (default 30). */
  fps?: number;
  /** Duration in seconds (default 2). */
  seconds?: number;
  /**
   * Container/codec: mp4 (H.264, default), mjpeg in avi, or lossless ffv1 4:4:4 in mkv (the only one
   * that keeps odd sizes such as 333x187: the others need even dimensions).
   */
  format?: 'mp4' | 'avi' | 'mkv';
  /** Temporal noise of this strength (ffmpeg's noise filter, 1-100): frames that compress badly. */
  noise?: number;
}

function ensureCacheDir(): void {
  mkdirSync(CACHE_DIR, { recursive: true });
}

function ffmpegTo(path: string, args: string[]): void {
  ensureCacheDir();
  if (existsSync(path)) return;
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp${path.slice(path.lastIndexOf('.'))}`;
  const r = spawnSync(FFMPEG, ['-hide_banner', '-v', 'error', '-nostdin', '-y', ...args, tmp], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`fixture: ffmpeg failed making ${path}: ${r.stderr || r.error?.message}`);
  }
  renameSync(tmp, path);
}

/**
 * A testsrc2 clip (moving pattern) with a known frame count. Default: 2 s, 640x360, 30 fps, H.264 mp4,
 * which framecast scales to 800x450 at its default width.
 */
export function makeClip(opts: ClipOptions = {}): Clip {
  const width = opts.width ?? 640;
  const height = opts.height ?? 360;
  const fps = opts.fps ?? 30;
  const seconds = opts.seconds ?? 2;
  const format = opts.format ?? 'mp4';
  if (opts.noise && format === 'mkv') throw new Error('fixture: noise is for mp4 and avi clips');
  const noisy = opts.noise ? `-noise${opts.noise}` : '';
  const path = join(CACHE_DIR, `clip-${width}x${height}-${fps}fps-${seconds}s${noisy}.${format}`);
  const codecs = {
    mp4: ['-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(fps)],
    avi: ['-c:v', 'mjpeg', '-q:v', '3'],
    // testsrc2 rounds odd sizes down to even ones; the scale filter gives the exact size asked for.
    mkv: ['-vf', `scale=${width}:${height}`, '-c:v', 'ffv1', '-pix_fmt', 'yuv444p'],
  };
  const codec = codecs[format];
  ffmpegTo(path, [
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${width + (width % 2)}x${height + (height % 2)}:rate=${fps}`,
    '-t',
    String(seconds),
    ...(opts.noise ? ['-vf', `noise=alls=${opts.noise}:allf=t`] : []),
    ...codec,
  ]);
  return { path, width, height, fps, seconds, frames: Math.round(fps * seconds) };
}

/** A media file with an audio stream and no video stream (a 1 s sine in an .m4a). */
export function makeAudioOnly(): string {
  const path = join(CACHE_DIR, 'audio-only.m4a');
  ffmpegTo(path, ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-c:a', 'aac']);
  return path;
}

/**
 * A fresh temp dir for one test file; `cleanup()` removes it. Use for files a test writes itself
 * (not-media files, outputs).
 */
export function makeTempDir(prefix = 'framecast-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A self-signed certificate (its own CA) and its key, made by openssl in `dir` as NAME.crt and
 * NAME.key: EC P-256, valid 2 days, CN=localhost, for `altNames` (by default 127.0.0.1 and localhost).
 */
export function selfSignedCert(
  dir: string,
  name: string,
  altNames = 'IP:127.0.0.1,DNS:localhost',
): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost'],
      ...['-addext', `subjectAltName=${altNames}`],
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/** Writes a file named like a video (`name`, default fake.mp4) whose content is plain text, not media. */
export function makeNotMedia(dir: string, name = 'fake.mp4'): string {
  const path = join(dir, name);
  writeFileSync(path, 'this is not a video file, just some text pretending to be one\n'.repeat(200));
  return path;
}

/** Counts the video frames of a file by decoding it (slow-ish; for checking fixtures and outputs). */
export function countFrames(path: string): number {
  const out = execFileSync(
    process.env.FFPROBE_PATH || 'ffprobe',
    [
      '-v',
      'error',
      '-count_frames',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=nb_read_frames',
      '-of',
      'csv=p=0',
      path,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  return Number(out.trim());
}

/** The width framecast (and the seed's imutils.resize) gives a source scaled to `width`: height truncated. */
export function scaledSize(
  clip: { width: number; height: number },
  width = 800,
): { width: number; height: number } {
  return { width, height: Math.trunc(clip.height * (width / clip.width)) };
}
