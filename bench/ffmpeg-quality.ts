/**
 * Measures the --quality -> ffmpeg qscale mapping used by `--encoder ffmpeg`: for each libjpeg quality,
 * PSNR and size of our libjpeg-turbo encode and of ffmpeg's mjpeg at every qscale, so the mapping can
 * pick the coarsest qscale whose PSNR is at least libjpeg's on every scene.
 * Run: npx tsx bench/ffmpeg-quality.ts [frames]
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  writeFileSync,
  readdirSync,
  readFileSync,
  rmSync,
  mkdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeOurs, mse, psnrFromMse, SCENES, score, type RawClip } from '../test/helpers/jpeg-quality.js';
import { qscaleForQuality } from '../src/encode/ffmpeg-quality.js';
import { MEDIA_DIR } from './lib/media.js';

/** ffmpeg's mjpeg (optimal Huffman tables, yuvj420p) at one qscale, qmin lowered so 1 is reachable. */
function encodeMjpeg(clip: RawClip, qscale: number, dir: string): Buffer[] {
  const out = join(dir, `${clip.name.length}-${qscale}`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const r = spawnSync('ffmpeg', [
    ...['-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${clip.width}x${clip.height}`],
    ...[
      '-i',
      clip.path.replace(/\.rgb$/, '.yuv'),
      '-c:v',
      'mjpeg',
      '-qmin',
      '1',
      '-q:v',
      String(qscale),
      '-huffman',
      'optimal',
    ],
    ...['-pix_fmt', 'yuvj420p', '-f', 'image2', join(out, '%04d.jpg')],
  ]);
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString()}`);
  return readdirSync(out)
    .sort()
    .map((f) => readFileSync(join(out, f)));
}

/** Real footage (optional): the bench's media directory. */
const FOOTAGE = join(MEDIA_DIR, 'bottle-detection.mp4');

/** Renders `frames` 800x450 4:2:0 frames from ffmpeg input args to .yuv, and that picture as RGB24. */
function yuvClip(name: string, input: string[], dir: string, frames: number): RawClip {
  const yuv = join(dir, `${name}.yuv`);
  const rgb = join(dir, `${name}.rgb`);
  const run = (args: string[]): void => {
    const r = spawnSync('ffmpeg', ['-v', 'error', ...args]);
    if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString()}`);
  };
  run([
    ...input,
    '-frames:v',
    String(frames),
    '-fps_mode',
    'passthrough',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'yuv420p',
    '-s',
    '800x450',
    '-y',
    yuv,
  ]);
  run([
    '-f',
    'rawvideo',
    '-pix_fmt',
    'yuv420p',
    '-s',
    '800x450',
    '-i',
    yuv,
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    '-y',
    rgb,
  ]);
  const all = readFileSync(rgb);
  const size = 800 * 450 * 3;
  const out: Buffer[] = [];
  for (let o = 0; o + size <= all.length; o += size) out.push(all.subarray(o, o + size));
  return { name, width: 800, height: 450, path: rgb, frames: out };
}

/**
 * Luma PSNR against the source's own 4:2:0 picture (its Y plane in full range): free of the chroma
 * resampling conventions (swscale's RGB vs libjpeg's upsampling) that cap the RGB comparison.
 */
function lumaPsnr(clip: RawClip, jpegs: Buffer[], dir: string): number {
  const jdir = join(dir, 'luma');
  rmSync(jdir, { recursive: true, force: true });
  mkdirSync(jdir);
  jpegs.forEach((j, i) => writeFileSync(join(jdir, `${String(i + 1).padStart(4, '0')}.jpg`), j));
  const gray = (args: string[]): Buffer => {
    const r = spawnSync('ffmpeg', ['-v', 'error', ...args, '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], {
      maxBuffer: 1 << 28,
    });
    if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString()}`);
    return r.stdout;
  };
  const ref = gray([
    '-f',
    'rawvideo',
    '-pix_fmt',
    'yuv420p',
    '-s',
    '800x450',
    '-i',
    clip.path.replace(/\.rgb$/, '.yuv'),
  ]);
  const got = gray(['-i', join(jdir, '%04d.jpg')]);
  return psnrFromMse(mse(got, ref));
}

const frames = Number(process.argv[2] ?? 6);
const dir = mkdtempSync(join(tmpdir(), 'fq-'));
try {
  // The pipeline's input is 4:2:0 (ffmpeg scales in YUV): both encoders get the same 4:2:0 picture,
  // libjpeg as RGB (what the pipeline hands it), ffmpeg as YUV; the reference is that picture in RGB.
  const clips = ['testsrc2', 'natural'].map((name) => {
    const graph = `${(SCENES[name] as string).replace('WxH', '800x450')},select=not(mod(n\\,10))`;
    return yuvClip(name, ['-f', 'lavfi', '-i', graph], dir, frames);
  });
  if (existsSync(FOOTAGE)) {
    const scale = 'select=not(mod(n\\,100)),scale=800:trunc(ih*(800/iw)):flags=area+accurate_rnd';
    clips.push(yuvClip('footage', ['-i', FOOTAGE, '-vf', scale], dir, frames));
  }
  const mjpeg = new Map<string, { psnr: number; bytes: number }>();
  for (const clip of clips)
    for (let q = 1; q <= 31; q++)
      mjpeg.set(`${clip.name}/${q}`, await score('mjpeg', clip, encodeMjpeg(clip, q, dir)));
  const rows: string[] = [
    '| quality | scene | libjpeg RGB dB | libjpeg B | coarsest qscale >= | its dB, B | mapped qscale: RGB dB, B | luma dB libjpeg / mapped |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const quality of [10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 100]) {
    for (const clip of clips) {
      const oursJpegs = await encodeOurs(clip, quality);
      const ours = await score('libjpeg', clip, oursJpegs);
      let bestQ = 1;
      for (let q = 31; q >= 1; q--) {
        if ((mjpeg.get(`${clip.name}/${q}`)?.psnr ?? 0) >= ours.psnr) {
          bestQ = q;
          break;
        }
      }
      const m = mjpeg.get(`${clip.name}/${bestQ}`) as { psnr: number; bytes: number };
      const mapped = mjpeg.get(`${clip.name}/${qscaleForQuality(quality)}`) as {
        psnr: number;
        bytes: number;
      };
      const qs = qscaleForQuality(quality);
      const lumaOurs = lumaPsnr(clip, oursJpegs, dir);
      const lumaMapped = lumaPsnr(clip, encodeMjpeg(clip, qs, dir), dir);
      rows.push(
        `| ${quality} | ${clip.name} | ${ours.psnr.toFixed(2)} | ${ours.bytes.toFixed(0)} | ${bestQ} | ` +
          `${m.psnr.toFixed(2)}, ${m.bytes.toFixed(0)} | q${qs}: ${mapped.psnr.toFixed(2)}, ${mapped.bytes.toFixed(0)} | ` +
          `${lumaOurs.toFixed(2)} / ${lumaMapped.toFixed(2)} |`,
      );
    }
  }
  console.log(rows.join('\n'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
