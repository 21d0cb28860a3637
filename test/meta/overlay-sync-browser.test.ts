/**
 * More of the overlay in Chromium, each read off the canvas:
 * - `?sync=MS`: a publisher paints a white marker at one of four places, a different one each frame,
 *   and an analyzer annotates each frame late (150 ms after it got it) with a box on that frame's
 *   marker. With sync the box on the canvas is always around the marker of the picture under it;
 *   without, it is seen over an earlier frame's place (what sync is for).
 * - `"normalized": true`: boxes in fractions of the frame's width and height land on the same pixels.
 * - The grid page's tiles draw annotations too.
 */
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/index.js';
import { launchChromium } from '../helpers/browser.js';
import { killTracked } from '../helpers/processes.js';
import { httpBase, until } from '../http/support.js';
import {
  frameSeq,
  openPost,
  part,
  postAnnotation,
  recordWs,
  type OpenPost,
  type WsRecord,
} from './http-support.js';

const W = 320;
const H = 240;
/** The marker's size and row; its column is one of COLUMNS. */
const SIZE = 40;
const TOP = 100;
const COLUMNS = [20, 100, 180, 260] as const;

let server: FramecastServer | null = null;
let browser: Browser | null = null;
let publisher: { stop(): void } | null = null;
let analyzer: WsRecord | null = null;
afterEach(async () => {
  publisher?.stop();
  publisher = null;
  analyzer?.ws.close();
  analyzer = null;
  await browser?.close();
  browser = null;
  await server?.close();
  server = null;
});
afterAll(killTracked);

/** A dark frame with a white SIZE x SIZE marker at (x, TOP). */
async function markerFrame(x: number): Promise<Buffer> {
  const white = await sharp({ create: { width: SIZE, height: SIZE, channels: 3, background: '#fff' } })
    .png()
    .toBuffer();
  return sharp({ create: { width: W, height: H, channels: 3, background: { r: 40, g: 40, b: 40 } } })
    .composite([{ input: white, left: x, top: TOP }])
    .jpeg({ quality: 90 })
    .toBuffer();
}

/**
 * Publishes frame k = 0, 1, 2... every `everyMs` (its marker at COLUMNS[k % 4] when `column` is
 * 'moving', else always at COLUMNS[column]), each with the metadata {"k": k} (no `objects`: not drawn), until stopped.
 */
async function publish(base: string, everyMs: number, column: number | 'moving'): Promise<{ stop(): void }> {
  const jpegs = await Promise.all(COLUMNS.map((x) => markerFrame(x)));
  const post: OpenPost = openPost(`${base}/streams/cam/publish`);
  let k = 0;
  const send = (): void => {
    post.write(part('application/json', Buffer.from(JSON.stringify({ k })), 'p'));
    post.write(part('image/jpeg', jpegs[column === 'moving' ? k % 4 : column] as Buffer, 'p'));
    k++;
  };
  send();
  const timer = setInterval(send, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      post.end();
    },
  };
}

/**
 * An analyzer on /streams/cam/ws?meta=1: for each frame, after `delayMs`, POSTs the annotation
 * `data(k)` of it (k from the frame's metadata).
 */
async function annotateEach(
  base: string,
  name: string,
  delayMs: number,
  data: (k: number) => unknown,
): Promise<WsRecord> {
  const r = recordWs(`${base.replace('http', 'ws')}/streams/cam/ws?meta=1`);
  await r.opened;
  const kOf = new Map<number, number>();
  r.ws.on('message', (msg: Buffer, binary) => {
    if (!binary) {
      const m = JSON.parse(msg.toString('utf8')) as { type: string; seq: number; data: { k: number } };
      if (m.type === 'meta') kOf.set(m.seq, m.data.k);
      return;
    }
    const seq = frameSeq(msg);
    const k = kOf.get(seq);
    if (k === undefined) return; // NO SIGNAL pictures carry no metadata
    setTimeout(() => {
      void postAnnotation(`${base}/streams/cam/annotations`, { analyzer: name, seq, data: data(k) });
    }, delayMs);
  });
  return r;
}

/** A canvas's pixels (RGB) as the page has them now. */
interface Pixels {
  w: number;
  h: number;
  at(x: number, y: number): [number, number, number];
}

async function canvasPixels(page: Page, selector: string): Promise<Pixels> {
  const url = (await page.evaluate(
    `document.querySelector(${JSON.stringify(selector)}).toDataURL('image/png')`,
  )) as string;
  const png = Buffer.from(url.slice(url.indexOf(',') + 1), 'base64');
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return {
    w: info.width,
    h: info.height,
    at: (x, y) => {
      const i = (y * info.width + x) * 3;
      return [data[i] as number, data[i + 1] as number, data[i + 2] as number];
    },
  };
}

/** The first analyzer's colour (#00ff00) drawn in full, not faded. */
const green = ([r, g, b]: number[]): boolean =>
  (g as number) > 220 && (r as number) < 60 && (b as number) < 60;
/** Any trace of it, faded (an older annotation) or not. */
const greenish = ([r, g, b]: number[]): boolean => (g as number) - Math.max(r as number, b as number) > 40;
const white = (p: number[]): boolean => p.every((c) => c > 200);

/** A box's stroke on the middles of its left, right and bottom edges (the label sits above the top). */
const edgeMiddles = (x: number, y: number, w: number, h: number): [number, number][] => [
  [x, y + h / 2],
  [x + w, y + h / 2],
  [x + w / 2, y + h],
];

/** Which COLUMNS the picture's marker is at (its centre is white), or -1 (also for NO SIGNAL pictures). */
function markerAt(px: Pixels): number {
  if (px.w !== W || px.h !== H) return -1;
  return COLUMNS.findIndex((x) => white(px.at(x + SIZE / 2, TOP + SIZE / 2)));
}

/** Which COLUMNS have a box drawn in full around their place. */
function boxedAt(px: Pixels): number[] {
  return COLUMNS.flatMap((x, i) =>
    edgeMiddles(x, TOP, SIZE, SIZE).every(([ex, ey]) => green(px.at(ex, ey))) ? [i] : [],
  );
}

describe('the overlay in Chromium', () => {
  it('?sync=MS draws each frame with its own late annotation; without it the box lags the picture', async () => {
    server = await serve({ port: 0, httpPort: 0, streams: [{ name: 'cam', source: 'publisher' }] });
    const base = httpBase(server);
    // The analyzer answers 150 ms after each frame; frames come every 250 ms.
    analyzer = await annotateEach(base, 'late', 150, (k) => ({
      objects: [{ box: [COLUMNS[k % 4], TOP, SIZE, SIZE], label: `k${k}` }],
    }));
    publisher = await publish(base, 250, 'moving');
    browser = await launchChromium();
    const errors: string[] = [];
    const open = async (path: string): Promise<Page> => {
      const page = await (browser as Browser).newPage({ viewport: { width: 900, height: 700 } });
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${base}${path}`);
      await until(
        async () =>
          markerAt(await canvasPixels(page, 'canvas')) >= 0 &&
          (await page.locator('.legend-item').count()) > 0,
        15_000,
        `${path} to show a marker frame and its analyzer`,
      );
      return page;
    };

    // With a 1000 ms hold (the annotation comes 150 ms after the frame): the box is on the marker of
    // the very picture under it, every time we look, and on no other place.
    const synced = await open('/streams/cam/?sync=1000');
    const seen = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const px = await canvasPixels(synced, 'canvas');
      const marker = markerAt(px);
      expect(marker).toBeGreaterThanOrEqual(0);
      expect(boxedAt(px), `sample ${i}: marker at column ${marker}`).toEqual([marker]);
      seen.add(marker);
      await synced.waitForTimeout(110);
    }
    expect(seen.size).toBeGreaterThan(1); // the picture did move on while we looked
    await synced.close();

    // Without sync the same stream shows the box of an earlier frame over a newer picture at times:
    // the newest annotation is drawn over whatever frame is on the canvas.
    const live = await open('/streams/cam/');
    let lagging = 0;
    for (let i = 0; i < 30 && lagging === 0; i++) {
      const px = await canvasPixels(live, 'canvas');
      const boxed = boxedAt(px);
      const marker = markerAt(px);
      if (marker >= 0 && boxed.length === 1 && boxed[0] !== marker) lagging++;
      await live.waitForTimeout(60);
    }
    expect(lagging).toBe(1);
    expect(errors).toEqual([]);
  }, 60_000);

  it('"normalized": true boxes are fractions of the frame: drawn on the same pixels as the marker', async () => {
    server = await serve({ port: 0, httpPort: 0, streams: [{ name: 'cam', source: 'publisher' }] });
    const base = httpBase(server);
    const x = COLUMNS[1];
    publisher = await publish(base, 200, 1);
    analyzer = await annotateEach(base, 'norm', 0, () => ({
      normalized: true,
      objects: [{ box: [x / W, TOP / H, SIZE / W, SIZE / H], label: 'norm' }],
    }));
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    await page.goto(`${base}/streams/cam/`);
    await until(
      async () => boxedAt(await canvasPixels(page, 'canvas')).length > 0,
      15_000,
      'a normalized box on the canvas',
    );
    const px = await canvasPixels(page, 'canvas');
    expect([px.w, px.h]).toEqual([W, H]);
    expect(markerAt(px)).toBe(1);
    // On the marker's edges, in full...
    expect(boxedAt(px)).toEqual([1]);
    for (const [ex, ey] of edgeMiddles(x, TOP, SIZE, SIZE)) expect(green(px.at(ex, ey))).toBe(true);
    // ...and nowhere else: not inside it, not beside it, and not read as pixels near the corner
    // (a 0.3 x 0.4 box at (0.31, 0.42) px would be there).
    for (const [ox, oy] of [
      [x + SIZE / 2, TOP + SIZE / 2],
      [x - 8, TOP + SIZE / 2],
      [x + SIZE + 8, TOP + SIZE / 2],
      [x + SIZE / 2, TOP + SIZE + 8],
      [0, 0],
      [1, 1],
      [0, 1],
    ] as const)
      expect(greenish(px.at(ox, oy)), `(${ox}, ${oy})`).toBe(false);
  }, 60_000);

  it("the grid's tiles draw each stream's annotations over its preview", async () => {
    // Two streams: / is the grid. 'cam' is watched by the analyzer, so its tile is live.
    server = await serve({
      port: 0,
      httpPort: 0,
      streams: [
        { name: 'cam', source: 'publisher' },
        { name: 'idle', source: 'publisher' },
      ],
    });
    const base = httpBase(server);
    const x = COLUMNS[2];
    publisher = await publish(base, 200, 2);
    analyzer = await annotateEach(base, 'grid', 0, () => ({
      objects: [{ box: [x, TOP, SIZE, SIZE], label: 'bottle', score: 0.9 }],
    }));
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/`);
    const tile = '.tile[data-stream="cam"] canvas';
    await page.locator('.tile[data-stream="cam"][data-picture="1"]').waitFor({ timeout: 15_000 });
    await until(
      async () => boxedAt(await canvasPixels(page, tile)).length > 0,
      15_000,
      "a box on the cam tile's canvas",
    );
    const px = await canvasPixels(page, tile);
    // The tile's canvas takes the frame's size, so the box is at the annotation's pixels.
    expect([px.w, px.h]).toEqual([W, H]);
    expect(markerAt(px)).toBe(2);
    expect(boxedAt(px)).toEqual([2]);
    for (const [ox, oy] of [
      [x + SIZE / 2, TOP + SIZE / 2],
      [x - 8, TOP + SIZE / 2],
      [x + SIZE + 8, TOP + SIZE / 2],
    ] as const)
      expect(greenish(px.at(ox, oy))).toBe(false);
    // Its label, drawn as canvas text above the box.
    let label = 0;
    for (let yy = TOP - 16; yy < TOP - 3; yy++)
      for (let xx = x; xx < x + 70; xx++) if (green(px.at(xx, yy))) label++;
    expect(label).toBeGreaterThan(20);
    // The idle stream's tile has no picture and nothing drawn.
    expect(await page.locator('.tile[data-stream="idle"]').getAttribute('data-picture')).toBe('0');
    expect(errors).toEqual([]);
  }, 60_000);
});
