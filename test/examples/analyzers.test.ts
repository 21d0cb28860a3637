/**
 * examples/motion_detector.py (OpenCV MOG2) and examples/annotate.mjs (the brightest block, via sharp)
 * run against a real server of ffmpeg's moving test pattern for a few frames: a viewer that asks for
 * annotations gets theirs, tagged with frames it received, boxes inside the frame.
 */
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  parseServerAddress,
  serve,
  StreamClient,
  type FrameAnnotation,
  type FramecastServer,
  type StreamFrame,
} from '../../src/index.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { killTracked, spawnTracked, waitExit } from '../helpers/processes.js';

const PY = process.env.FRAMECAST_VENV_PYTHON || '/usr/bin/python3';
const hasOpenCV = spawnSync(PY, ['-c', 'import cv2, numpy'], { timeout: 20_000 }).status === 0;
if (!hasOpenCV) console.warn(`examples/motion_detector.py not tested: ${PY} cannot import cv2 and numpy`);

let server: FramecastServer | null = null;
let viewer: StreamClient | null = null;
afterEach(async () => {
  viewer?.close();
  await killTracked();
  await server?.close();
  server = null;
});

type Box = [number, number, number, number];
interface Detection {
  box: Box;
  label: string;
  score: number;
}

/** Runs an analyzer (command + args, then the address and 15 frames) while a viewer collects. */
async function runAnalyzer(
  command: string,
  args: string[],
): Promise<{ code: number | null; frames: Map<number, StreamFrame>; got: FrameAnnotation[]; err: string }> {
  server = await serve({ port: 0, httpPort: null, source: 'test', width: 320, fps: 15 });
  const port = server.address().port;
  const frames = new Map<number, StreamFrame>();
  const got: FrameAnnotation[] = [];
  viewer = new StreamClient(parseServerAddress(`127.0.0.1:${port}`), {
    protocol: 'native',
    annotations: true,
  });
  viewer.on('frame', (f) => frames.set(f.seq, f));
  viewer.on('annotation', (a) => got.push(a));
  viewer.on('error', () => {});
  viewer.connect();
  const child = spawnTracked(
    command,
    [...args, `127.0.0.1:${port}`, ...(command === PY ? ['--frames'] : []), '15'],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, FRAMECAST_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exit = await waitExit(child, 60_000);
  await new Promise((r) => setTimeout(r, 300)); // the last annotations on their way
  return { code: exit.code, frames, got, err };
}

/** Every detection is a box inside the frame it annotates, and annotations name frames the viewer got. */
function checkBoxes(frames: Map<number, StreamFrame>, got: FrameAnnotation[], label: string): Detection[] {
  const all: Detection[] = [];
  let matched = 0;
  for (const a of got) {
    const f = frames.get(a.seq);
    if (f) {
      expect(a.capturedAt).toBe(f.capturedAt);
      matched++;
    }
    const objects = a.data.objects as Detection[];
    expect(Array.isArray(objects)).toBe(true);
    for (const o of objects) {
      const [x, y, w, h] = o.box;
      expect(o.label).toBe(label);
      expect(o.score).toBeGreaterThanOrEqual(0);
      expect(o.score).toBeLessThanOrEqual(1);
      expect(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= 320 && y + h <= 180).toBe(true);
      all.push(o);
    }
  }
  expect(matched).toBeGreaterThan(0);
  return all;
}

/** The brightest 32x32 grid block of a JPEG, computed here the plain way (what annotate.mjs should find). */
async function brightestBlock(jpeg: Buffer): Promise<Box> {
  const { data, info } = await sharp(jpeg).greyscale().raw().toBuffer({ resolveWithObject: true });
  let best: Box = [0, 0, 32, 32];
  let bestSum = -1;
  for (let y = 0; y + 32 <= info.height; y += 32)
    for (let x = 0; x + 32 <= info.width; x += 32) {
      let sum = 0;
      for (let dy = 0; dy < 32; dy++)
        for (let dx = 0; dx < 32; dx++) sum += data[(y + dy) * info.width + x + dx] ?? 0;
      if (sum > bestSum) [best, bestSum] = [[x, y, 32, 32], sum];
    }
  return best;
}

describe('example analyzers', () => {
  it.skipIf(!hasOpenCV)(
    'examples/motion_detector.py annotates the moving test pattern with motion boxes',
    async () => {
      const r = await runAnalyzer(PY, [join(REPO_ROOT, 'examples', 'motion_detector.py'), '--quiet']);
      expect(r.code, r.err).toBe(0);
      expect(r.got.length).toBeGreaterThanOrEqual(10);
      expect(new Set(r.got.map((a) => a.analyzer))).toEqual(new Set(['motion']));
      const boxes = checkBoxes(r.frames, r.got, 'motion');
      // Something moves in ffmpeg's test pattern, and not the whole picture after the first frames.
      expect(boxes.length).toBeGreaterThan(0);
      expect(boxes.some((b) => b.box[2] * b.box[3] < 320 * 180)).toBe(true);
    },
    90_000,
  );

  it('examples/annotate.mjs annotates each frame with its brightest 32x32 block', async () => {
    const r = await runAnalyzer(process.execPath, [join(REPO_ROOT, 'examples', 'annotate.mjs')]);
    expect(r.code, r.err).toBe(0);
    expect(r.got.length).toBeGreaterThanOrEqual(10);
    const boxes = checkBoxes(r.frames, r.got, 'brightest');
    expect(boxes.length).toBe(r.got.length);
    for (const b of boxes) expect([b.box[0] % 32, b.box[1] % 32, b.box[2], b.box[3]]).toEqual([0, 0, 32, 32]);
    // Each annotation describes the frame it names: the viewer got the same JPEG, and its brightest block is there.
    const named = r.got.filter((a) => r.frames.has(a.seq));
    for (const a of named) {
      const box = ((a.data.objects as Detection[])[0] as Detection).box;
      expect(box).toEqual(await brightestBlock((r.frames.get(a.seq) as StreamFrame).jpeg));
    }
  }, 90_000);
});
