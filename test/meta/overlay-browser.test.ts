/**
 * The viewer page draws annotations over the picture: a publisher paints a white marker into each
 * frame at a known place (and says where in its metadata), an analyzer annotates a box there, and
 * Chromium's canvas has the boxes' strokes exactly where the JSON says. A label that is HTML stays
 * text: no element, no alert.
 */
import type { Browser } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/index.js';
import { launchChromium } from '../helpers/browser.js';
import { killTracked } from '../helpers/processes.js';
import { httpBase, until } from '../http/support.js';
import { frameJpeg, frameSeq, openPost, part, postAnnotation, recordWs } from './http-support.js';

let server: FramecastServer | null = null;
let browser: Browser | null = null;
afterEach(async () => {
  await browser?.close();
  browser = null;
  await server?.close();
  server = null;
});
afterAll(killTracked);

const W = 320;
const H = 240;
/** Where the publisher paints its marker and the analyzer finds it. */
const MARK = [100, 80, 60, 40] as const;
/** Where the publisher's own metadata says something is (drawn as analyzer "meta"). */
const META_BOX = [20, 20, 30, 30] as const;
const LABEL = '<img src=x onerror=alert(1)>';

async function paintedFrame(shade: number): Promise<Buffer> {
  const white = await sharp({
    create: { width: MARK[2], height: MARK[3], channels: 3, background: '#fff' },
  })
    .png()
    .toBuffer();
  return sharp({ create: { width: W, height: H, channels: 3, background: { r: shade, g: shade, b: shade } } })
    .composite([{ input: white, left: MARK[0], top: MARK[1] }])
    .jpeg({ quality: 90 })
    .toBuffer();
}

describe('annotations drawn in the browser', () => {
  it("the overlay's boxes are where the annotations say; an HTML label is drawn as text", async () => {
    server = await serve({ port: 0, httpPort: 0, streams: [{ name: 'cam', source: 'publisher' }] });
    const base = httpBase(server);
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/streams/cam/`);
    // The analyzer: watches the stream and annotates every published frame where the marker is.
    const analyzer = recordWs(`${base.replace('http', 'ws')}/streams/cam/ws`);
    await analyzer.opened;
    let lastAnnotated = -1;
    const annotated = new Set<number>();
    analyzer.ws.on('message', (data: Buffer, binary) => {
      if (!binary) return;
      const seq = frameSeq(data);
      // Ours: 320 wide (NO SIGNAL pictures are 800x450).
      if (data.readUInt16BE(12) !== W || annotated.has(seq) || frameJpeg(data).length === 0) return;
      annotated.add(seq);
      const body = {
        analyzer: 'detector',
        seq,
        data: { objects: [{ box: [...MARK], label: LABEL, score: 0.9, id: 7 }] },
      };
      void postAnnotation(`${base}/streams/cam/annotations`, body).then((r) => {
        if (r.status === 202) lastAnnotated = Math.max(lastAnnotated, seq);
      });
    });
    const post = openPost(`${base}/streams/cam/publish`);
    const meta = Buffer.from(JSON.stringify({ objects: [{ box: [...META_BOX], label: 'meta' }] }));
    for (let i = 0; i < 5; i++) {
      post.write(part('application/json', meta, 'p'));
      post.write(part('image/jpeg', await paintedFrame(i * 4), 'p'));
      await new Promise((r) => setTimeout(r, 150));
    }
    await until(() => lastAnnotated >= 0, 15_000, 'an accepted annotation');
    // The page drew the newest annotation: its overlay knows it and the picture under it is ours.
    await until(
      async () =>
        (await page.evaluate(
          `(() => { const v = window.framecastViewer; return v.overlay.seqOf('detector') === ${lastAnnotated} && v.stats.width === ${W}; })()`,
        )) === true,
      15_000,
      'the page to have the newest annotation',
    );
    await page.waitForTimeout(300);
    const px = (await page.evaluate(`(() => {
      const c = document.querySelector('canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      return { w: c.width, h: c.height, d: Array.from(d) };
    })()`)) as { w: number; h: number; d: number[] };
    expect([px.w, px.h]).toEqual([W, H]);
    const at = (x: number, y: number): [number, number, number] => {
      const i = (y * W + x) * 4;
      return [px.d[i] as number, px.d[i + 1] as number, px.d[i + 2] as number];
    };
    const green = ([r, g, b]: number[]): boolean =>
      (g as number) > 200 && (r as number) < 90 && (b as number) < 90;
    const yellow = ([r, g, b]: number[]): boolean =>
      (r as number) > 200 && (g as number) > 170 && (b as number) < 90;
    const [x, y, w, h] = MARK;
    // The detector's box (the first analyzer's colour, green) on the marker's edges...
    for (const p of [at(x, y + h / 2), at(x + w, y + h / 2), at(x + w / 2, y + h)])
      expect(green(p)).toBe(true);
    // ...and not beside them: inside is the white marker, outside the dark frame.
    for (const p of [
      at(x + w / 2, y + h / 2),
      at(x - 8, y + h / 2),
      at(x + w + 8, y + h / 2),
      at(x + w / 2, y + h + 8),
    ])
      expect(green(p)).toBe(false);
    expect(at(x + w / 2, y + h / 2).every((c) => c > 200)).toBe(true);
    // The publisher's metadata box, drawn as analyzer "meta" (its own colour, yellow).
    const [mx, my, mw, mh] = META_BOX;
    expect(yellow(at(mx, my + mh / 2))).toBe(true);
    expect(yellow(at(mx + mw, my + mh / 2))).toBe(true);
    expect(yellow(at(mx + mw / 2, my + mh / 2))).toBe(false);
    // The label is drawn above the box, as canvas text.
    let labelPixels = 0;
    for (let yy = y - 16; yy < y - 3; yy++)
      for (let xx = x; xx < x + 120; xx++) if (green(at(xx, yy))) labelPixels++;
    expect(labelPixels).toBeGreaterThan(20);
    // ...and never as HTML: no element made of it, no alert; the legend names the analyzers as text.
    const dom = (await page.evaluate(
      `({ imgs: document.querySelectorAll('img').length, legend: [...document.querySelectorAll('.legend-item')].map((b) => b.textContent) })`,
    )) as { imgs: number; legend: string[] };
    expect(dom.imgs).toBe(0);
    expect(dom.legend.sort()).toEqual(['detector', 'meta']);
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
    // The legend hides an analyzer.
    await page.click('.legend-item:text-is("detector")');
    await page.waitForTimeout(300);
    const hidden = (await page.evaluate(`(() => {
      const d = document.querySelector('canvas').getContext('2d').getImageData(${x}, ${y + h / 2}, 1, 1).data;
      return Array.from(d);
    })()`)) as number[];
    expect(green(hidden)).toBe(false);
    post.end();
    analyzer.ws.close();
  }, 60_000);
});
