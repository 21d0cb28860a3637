/**
 * --quality (libjpeg's 1-100 scale) -> ffmpeg mjpeg qscale (1 finest .. 31 coarsest), for
 * `--encoder ffmpeg`. Measured by bench/ffmpeg-quality.ts on 800x450 4:2:0 frames (ffmpeg's test card
 * and a noisy natural-like scene): at each point, the coarsest qscale whose PSNR is at least
 * libjpeg-turbo's at that quality on both scenes. Between points the qscale is interpolated and rounded
 * down (finer). From quality ~95 up even qscale 1 falls short of libjpeg (by up to 1.2 dB at 100).
 */
const POINTS: readonly (readonly [quality: number, qscale: number])[] = [
  [10, 31],
  [20, 22],
  [30, 15],
  [40, 12],
  [50, 10],
  [60, 8],
  [70, 6],
  [75, 5],
  [80, 4],
  [85, 3],
  [90, 2],
  [95, 1],
  [100, 1],
];

/** The ffmpeg `-q:v` for a libjpeg quality 1-100 (see the table above). */
export function qscaleForQuality(quality: number): number {
  if (!Number.isFinite(quality) || quality < 1 || quality > 100)
    throw new RangeError(`quality must be in 1..100, got ${quality}`);
  let prev = POINTS[0] as readonly [number, number];
  if (quality <= prev[0]) return prev[1];
  for (const p of POINTS.slice(1)) {
    if (quality <= p[0]) {
      const t = (quality - prev[0]) / (p[0] - prev[0]);
      return Math.floor(prev[1] + t * (p[1] - prev[1]));
    }
    prev = p;
  }
  return 1;
}
