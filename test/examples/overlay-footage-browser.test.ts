/**
 * Real footage with its boxes, in Chromium: `framecast serve` plays the clip shipped in
 * test/fixtures/ (bottles picked up and moved; Intel Corporation, sample-videos, CC BY 4.0), the
 * real analyzer examples/motion_detector.py (examples/annotate.mjs where Python has no OpenCV)
 * annotates it, and the viewer page at `?sync=` draws each frame with that frame's own boxes. The
 * canvas is read together with the seq of the frame on it: every box the analyzer sent for that seq
 * has the analyzer's colour along its edges, and nothing away from the boxes does.
 * UPDATE_SCREENSHOTS=1 writes docs/overlay.png (the README's picture); test-artifacts/ otherwise.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { artifactPath, CHROMIUM, launchChromium } from '../helpers/browser.js';
import { REPO_ROOT, startServe, type ServeHandle } from '../helpers/cli.js';
import { killTracked, spawnTracked } from '../helpers/processes.js';
import { until } from '../http/support.js';
import { recordSse, type SseRecord } from '../meta/http-support.js';

const CLIP = join(REPO_ROOT, 'test', 'fixtures', 'bottles-4s.mp4');
const PY = process.env.FRAMECAST_VENV_PYTHON || '/usr/bin/python3';
const hasOpenCV = spawnSync(PY, ['-c', 'import cv2, numpy'], { timeout: 20_000 }).status === 0;
if (!hasOpenCV) console.warn(`${PY} has no OpenCV: examples/annotate.mjs annotates the footage instead`);
const hasChromium = existsSync(CHROMIUM);

/** The clip's size at --width 640. */
const W = 640;
const H = 360;
/** How long the page holds each frame for its own annotations (?sync=). */
const SYNC_MS = 400;

type Box = [number, number, number, number];

let serveHandle: ServeHandle | null = null;
let browser: Browser | null = null;
let sse: SseRecord | null = null;
afterEach(async () => {
  sse?.req.destroy();
  sse = null;
  await browser?.close();
  browser = null;
  await serveHandle?.stop();
  serveHandle = null;
  await killTracked();
});

/** Where a screenshot goes: docs/ when asked to refresh the README's pictures, else test-artifacts/. */
function screenshotPath(name: string): string {
  return process.env.UPDATE_SCREENSHOTS ? join(REPO_ROOT, 'docs', name) : artifactPath(name);
}

/** The analyzer's colour (the first analyzer takes the palette's first, #00ff00), faded or not. */
const green = (r: number, g: number, b: number): boolean => g > 150 && g - r > 60 && g - b > 60;

/** Points along a box's four edges (where its 3 px stroke is), inside the canvas. */
function edgePoints([x, y, w, h]: Box): [number, number][] {
  const clamp = (v: number, max: number): number => Math.min(max - 1, Math.max(0, Math.round(v)));
  const out: [number, number][] = [];
  for (let t = 0.1; t < 0.95; t += 0.1) {
    out.push([clamp(x + t * w, W), clamp(y, H)], [clamp(x + t * w, W), clamp(y + h, H)]);
    out.push([clamp(x, W), clamp(y + t * h, H)], [clamp(x + w, W), clamp(y + t * h, H)]);
  }
  return out;
}

/** True when (px, py) is near a box's edge or where its label is written (above its top-left corner). */
function nearDrawing(px: number, py: number, boxes: Box[]): boolean {
  return boxes.some(([x, y, w, h]) => {
    const inOuter = px >= x - 6 && px <= x + w + 6 && py >= y - 6 && py <= y + h + 6;
    const inInner = px > x + 6 && px < x + w - 6 && py > y + 6 && py < y + h - 6;
    const inLabel = px >= x - 2 && px <= x + 160 && py >= Math.min(y, 14) - 20 && py <= Math.max(y, 14) + 2;
    return (inOuter && !inInner) || inLabel;
  });
}

/** What the test reads from the page at once: the frame on the canvas and the canvas's pixels. */
interface CanvasNow {
  seq: number | null;
  w: number;
  h: number;
  /** RGB, 3 bytes a pixel. */
  d: Buffer;
}

describe('real footage with its annotations in the viewer', () => {
  it.skipIf(!hasChromium)(
    "a real analyzer's boxes are drawn on the very frames they were found in (?sync=)",
    async () => {
      // 5 fps keeps the two cores free and lets a screenshot catch one frame.
      serveHandle = await startServe([
        CLIP,
        '--loop',
        '--width',
        String(W),
        '--fps',
        '5',
        '--http-port',
        '0',
      ]);
      const listening = await serveHandle.waitForEvent('listening');
      const base = `http://127.0.0.1:${String(listening.httpPort)}`;
      // Every annotation of the run, by seq, as the server passes them on.
      sse = recordSse(`${base}/streams/default/events`);
      expect(await sse.status).toBe(200);
      const [command, args] = hasOpenCV
        ? [PY, [join(REPO_ROOT, 'examples', 'motion_detector.py'), '--quiet', '--min-area', '1500']]
        : [process.execPath, [join(REPO_ROOT, 'examples', 'annotate.mjs')]];
      const analyzer = spawnTracked(command, [...args, `127.0.0.1:${serveHandle.port}`], {
        cwd: REPO_ROOT,
        env: { ...process.env, FRAMECAST_TOKEN: '' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let analyzerErr = '';
      analyzer.stderr?.on('data', (d: Buffer) => (analyzerErr += d.toString()));
      const name = hasOpenCV ? 'motion' : 'brightest';
      const boxesOf = (seq: number): Box[] | null => {
        let found: Box[] | null = null;
        for (const e of (sse as SseRecord).events) {
          if (e.event !== 'annotation') continue;
          const a = JSON.parse(e.data) as {
            analyzer: string;
            seq: number;
            data: { objects: { box: Box }[] };
          };
          if (a.analyzer === name && a.seq === seq) found = a.data.objects.map((o) => o.box);
        }
        return found;
      };

      browser = await launchChromium();
      const page = await browser.newPage({ viewport: { width: 800, height: 480 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${base}/?sync=${SYNC_MS}`);
      const seqNow = async (): Promise<number | null> =>
        (await page.evaluate('window.framecastViewer.stats.seq')) as number | null;
      // The canvas as PNG (lossless) together with the seq of the frame on it, in one go.
      const read = async (): Promise<CanvasNow> => {
        const got = (await page.evaluate(`(() => {
          const c = document.querySelector('canvas');
          return { seq: window.framecastViewer.stats.seq, png: c.toDataURL('image/png') };
        })()`)) as { seq: number | null; png: string };
        const png = Buffer.from(got.png.slice(got.png.indexOf(',') + 1), 'base64');
        const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        return { seq: got.seq, w: info.width, h: info.height, d: data };
      };

      // One second of frames first, so the page's FPS and latency line has figures.
      await until(
        async () => ((await page.evaluate('window.framecastViewer?.stats.fps ?? 0')) as number) > 0,
        20_000,
        'the page to count frames',
      );
      // Until a frame is on the canvas whose own annotation has a few motion-sized boxes (what moves
      // in the clip: hands, bottles), and then the screenshot, taken while that frame is still shown.
      let checked: { now: CanvasNow; boxes: Box[] } | null = null;
      let framesWithBoxes = 0;
      await until(
        async () => {
          const now = await read();
          if (now.seq === null || now.w !== W || now.h !== H) return false;
          const boxes = boxesOf(now.seq);
          if (!boxes || boxes.length === 0) return false;
          framesWithBoxes++;
          if (boxes.length > 4 || boxes.some(([, , w, h]) => w * h < 1000 || w * h > (W * H) / 2))
            return false;
          // The README's picture waits for a bottle being lifted (a tall box from the top), for the eye only.
          if (process.env.UPDATE_SCREENSHOTS && !boxes.some(([, y, , h]) => y === 0 && h > 200)) return false;
          // Drawn in full (not faded as an earlier frame's): this frame's annotation came within the hold.
          const at = (x: number, y: number): [number, number, number] => {
            const i = (y * W + x) * 3;
            return [now.d[i] as number, now.d[i + 1] as number, now.d[i + 2] as number];
          };
          const onEdges = boxes.flatMap(edgePoints).map(([x, y]) => at(x, y));
          if (!onEdges.every(([r, g, b]) => r < 40 && g > 220 && b < 40)) return false;
          await page.screenshot({ path: screenshotPath('overlay.png') });
          if ((await seqNow()) !== now.seq) return false; // the picture moved on during the shot
          checked = { now, boxes };
          return true;
        },
        45_000,
        `a frame drawn with its own ${name} boxes`,
      ).catch((e: unknown) => {
        throw new Error(
          `${String(e)} (frames with boxes seen: ${framesWithBoxes}; analyzer's stderr: ${analyzerErr})`,
        );
      });
      const { now, boxes } = checked as unknown as { now: CanvasNow; boxes: Box[] };
      // Nothing of the analyzer's colour away from its boxes and labels: the footage has none.
      let stray = 0;
      let sampled = 0;
      for (let y = 2; y < H; y += 8)
        for (let x = 2; x < W; x += 8) {
          if (nearDrawing(x, y, boxes)) continue;
          sampled++;
          const i = (y * W + x) * 3;
          if (green(now.d[i] as number, now.d[i + 1] as number, now.d[i + 2] as number)) stray++;
        }
      expect(sampled).toBeGreaterThan(500);
      expect(stray).toBe(0);
      // The footage itself is there: the clip's grey wall and blue bottles, not a blank canvas.
      const colours = new Set<string>();
      for (let i = 0; i < now.d.length; i += 3 * 211)
        colours.add(
          `${(now.d[i] as number) >> 5},${(now.d[i + 1] as number) >> 5},${(now.d[i + 2] as number) >> 5}`,
        );
      expect(colours.size).toBeGreaterThan(8);
      expect(await page.locator('.legend-item').allInnerTexts()).toEqual([name]);
      expect(errors).toEqual([]);
    },
    90_000,
  );
});
