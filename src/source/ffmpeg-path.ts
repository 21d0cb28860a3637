import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { FramecastError } from '../errors.js';

/** Where the ffmpeg binary was found, so start-up can say which one is used. */
export interface FfmpegLocation {
  path: string;
  origin: 'FFMPEG_PATH' | 'PATH' | '@ffmpeg-installer/ffmpeg';
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(name: string, envPath: string | undefined): string | null {
  if (!envPath) return null;
  const exts = process.platform === 'win32' ? ['.exe', '.cmd', ''] : [''];
  for (const dir of envPath.split(delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = join(dir, name + ext);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return null;
}

function findInstaller(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const mod = require('@ffmpeg-installer/ffmpeg') as { path?: unknown };
    return typeof mod.path === 'string' && isExecutable(mod.path) ? mod.path : null;
  } catch {
    return null;
  }
}

let cached: FfmpegLocation | undefined;

/**
 * Locates ffmpeg: `FFMPEG_PATH`, then `ffmpeg` on PATH, then the optional npm-shipped binary.
 * A set but unusable FFMPEG_PATH is an error rather than a silent fallback: the user asked for it.
 */
export function locateFfmpeg(env: NodeJS.ProcessEnv = process.env): FfmpegLocation {
  if (env === process.env && cached) return cached;
  let found: FfmpegLocation | null = null;
  const fromEnv = env.FFMPEG_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) {
      throw new FramecastError('ERR_FFMPEG_NOT_FOUND', `FFMPEG_PATH=${fromEnv} is not an executable file`);
    }
    found = { path: fromEnv, origin: 'FFMPEG_PATH' };
  }
  if (!found) {
    const onPath = findOnPath('ffmpeg', env.PATH);
    if (onPath) found = { path: onPath, origin: 'PATH' };
  }
  if (!found) {
    const shipped = findInstaller();
    if (shipped) found = { path: shipped, origin: '@ffmpeg-installer/ffmpeg' };
  }
  if (!found) {
    throw new FramecastError(
      'ERR_FFMPEG_NOT_FOUND',
      'ffmpeg not found: install it (e.g. apt-get install ffmpeg) or set FFMPEG_PATH',
    );
  }
  if (env === process.env) cached = found;
  return found;
}
