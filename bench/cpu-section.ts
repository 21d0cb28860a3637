import { cameraCost, type CameraCostRow } from './cameras-per-core.js';
import { cpuBreakdown, type CpuBreakdownRow } from './cpu-breakdown.js';
import { cpuSources, noisyClip } from './lib/cpu-clips.js';

/** The `cpu` section: where each frame's CPU goes, and what a paced camera costs. */
export interface CpuSection {
  date: string;
  breakdown: CpuBreakdownRow[];
  /** Paced 30 fps streams with one viewer, 720p first (the "cameras per core" figure). */
  cameras: CameraCostRow[];
}

/** Runs the CPU breakdown on 360p footage and 1080p H.264, then a paced 720p stream for `seconds`. */
export async function cpuSection(opts: {
  ffmpeg: string;
  python: string | null;
  dir: string;
  repeats: number;
  seconds: number;
  log: (s: string) => void;
}): Promise<CpuSection> {
  const sources = cpuSources(opts.ffmpeg, opts.dir);
  const breakdown = await cpuBreakdown(sources, opts);
  const cameras: CameraCostRow[] = [];
  for (const src of [noisyClip(opts.ffmpeg, opts.dir, 1280, 720, 10), sources[0]]) {
    if (!src) continue;
    const row = await cameraCost(src, opts.seconds);
    opts.log(
      `cpu: paced ${src.name}: ${row.totalCores.toFixed(3)} cores (${row.camerasPerCore.toFixed(1)} per core), ` +
        `${row.fps.toFixed(1)} fps`,
    );
    cameras.push(row);
  }
  return { date: new Date().toISOString(), breakdown, cameras };
}
