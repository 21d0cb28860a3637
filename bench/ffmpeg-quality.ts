/**
 * Measures the --quality -> ffmpeg qscale mapping used by `--encoder ffmpeg`: for each libjpeg quality,
 * PSNR and size of our libjpeg-turbo encode and of ffmpeg's mjpeg at every qscale, so the mapping can
 * pick the coarsest qscale whose PSNR is at least libjpeg's on every scene.
 * Run: npx tsx bench/ffmpeg-quality.ts [frames]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeOurs, renderClip, SCENES, score, type RawClip } from '../test/helpers/jpeg-quality.js';
import { qscaleForQuality } from '../src/encode/ffmpeg-quality.js';

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

const frames = Number(process.argv[2] ?? 6);
const dir = mkdtempSync(join(tmpdir(), 'fq-'));
try {
  // The pipeline's input is 4:2:0 (ffmpeg scales in YUV): both encoders get the same 4:2:0 picture,
  // libjpeg as RGB (what the pipeline hands it), ffmpeg as YUV; the reference is that picture in RGB.
  const clips = ['testsrc2', 'natural'].map((name) => {
    const graph = `${SCENES[name] as string},format=yuv420p`;
    const clip = { ...renderClip('ffmpeg', dir, graph, 800, 450, frames), name };
    const r = spawnSync('ffmpeg', [
      ...['-v', 'error', '-f', 'lavfi', '-i', `${graph.replace('WxH', '800x450')},select=not(mod(n\\,10))`],
      ...['-frames:v', String(frames), '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'yuv420p'],
      ...['-y', clip.path.replace(/\.rgb$/, '.yuv')],
    ]);
    if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString()}`);
    return clip;
  });
  const mjpeg = new Map<string, { psnr: number; bytes: number }>();
  for (const clip of clips)
    for (let q = 1; q <= 31; q++)
      mjpeg.set(`${clip.name}/${q}`, await score('mjpeg', clip, encodeMjpeg(clip, q, dir)));
  const rows: string[] = [
    'quality | scene | libjpeg dB | libjpeg B | best qscale | mjpeg dB | mjpeg B | mapped',
  ];
  for (const quality of [10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 100]) {
    for (const clip of clips) {
      const ours = await score('libjpeg', clip, await encodeOurs(clip, quality));
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
      rows.push(
        `${quality} | ${clip.name} | ${ours.psnr.toFixed(2)} | ${ours.bytes.toFixed(0)} | ${bestQ} | ` +
          `${m.psnr.toFixed(2)} | ${m.bytes.toFixed(0)} | q${qscaleForQuality(quality)} ${mapped.psnr.toFixed(2)} dB ${mapped.bytes.toFixed(0)} B`,
      );
    }
  }
  console.log(rows.join('\n'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
