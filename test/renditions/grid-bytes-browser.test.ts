/**
 * What the grid costs, in headless Chromium: six 800-px streams on a 1280x720 page (DPR 1). Each tile
 * asks for its displayed width (a passive rendition) and the page's bytes per second are measured
 * by the browser's own network accounting (every WebSocket message the page received) against the
 * same page with `?full=1` (every tile at the stream's own size, as the grid was before). The issue's
 * target, at most 0.3 of the full size, is missed (0.32 measured; the test guards 0.35). Frames per second are measured too, so
 * that a saving is not frames lost. The server's view (the previews' bytesSent in /stats) is printed
 * beside it. A resize of the page makes the tiles ask again.
 */
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/index.js';
import { CHROMIUM, launchChromium } from '../helpers/browser.js';
import { openMjpeg, type MjpegViewer } from '../helpers/mjpeg.js';
import { killTracked } from '../helpers/processes.js';
import { httpBase, until } from '../http/support.js';

const hasChromium = existsSync(CHROMIUM);
const NAMES = ['s1', 's2', 's3', 's4', 's5', 's6'];
const WINDOW_MS = 5000;

interface Measure {
  bytesPerSecond: number;
  framesPerSecond: number;
  serverBytesPerSecond: number;
  widths: number[];
}

describe.skipIf(!hasChromium)('the grid asks each tile at its size', () => {
  let browser: Browser;
  let server: FramecastServer;
  let base: string;
  // What makes the streams transmit: one cheap viewer each (a frame a second), outside the page.
  let drivers: MjpegViewer[] = [];

  beforeAll(async () => {
    [browser, server] = await Promise.all([
      launchChromium(),
      serve({
        port: 0,
        httpPort: 0,
        // 5 fps: on a small shared machine the full-size page then still takes every frame, so
        // bytes per second compare like for like (at 10 fps it fell to half the frames).
        streams: NAMES.map((name) => ({ name, source: 'test', width: 800, fps: 5 })),
      }),
    ]);
    base = httpBase(server);
    drivers = NAMES.map((n) => openMjpeg(`${base}/streams/${n}/stream.mjpg?fps=1`));
  }, 30_000);

  afterAll(async () => {
    for (const d of drivers) d.close();
    await browser?.close();
    await server?.close();
    await killTracked();
  });

  /** Bytes the previews were sent, by the server's count (its monitors of every stream). */
  async function serverPreviewBytes(): Promise<number> {
    const s = (await (await fetch(`${base}/stats`)).json()) as {
      streams: { monitors: { bytesSent: number }[] }[];
    };
    return s.streams.flatMap((st) => st.monitors).reduce((a, m) => a + m.bytesSent, 0);
  }

  async function measure(page: Page, query: string): Promise<Measure> {
    let bytes = 0;
    let frames = 0;
    page.on('websocket', (ws) =>
      ws.on('framereceived', (f) => {
        if (typeof f.payload === 'string') return; // annotations: none here
        bytes += f.payload.length;
        frames++;
      }),
    );
    await page.goto(`${base}/${query}`);
    await until(
      async () => (await page.locator('.tile[data-picture="1"]').count()) === 6,
      20_000,
      'six tiles live',
    );
    await page.waitForTimeout(1500); // every tile at its size, past its first frames
    const widths = await page
      .locator('.tile canvas')
      .evaluateAll((els) => els.map((e) => (e as unknown as { width: number }).width));
    const [b0, f0, s0, t0] = [bytes, frames, await serverPreviewBytes(), performance.now()];
    await page.waitForTimeout(WINDOW_MS);
    const [b1, f1, s1, t1] = [bytes, frames, await serverPreviewBytes(), performance.now()];
    const seconds = (t1 - t0) / 1000;
    return {
      bytesPerSecond: Math.round((b1 - b0) / seconds),
      framesPerSecond: Math.round(((f1 - f0) / seconds) * 10) / 10,
      serverBytesPerSecond: Math.round((s1 - s0) / seconds),
      widths,
    };
  }

  it('six 800-px streams in a 1280x720 grid: the thumbnails (400 px, quality 70) cost at most 0.3 of full size per frame', async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 720 },
      deviceScaleFactor: 1,
    });
    try {
      const full = await measure(await context.newPage(), '?full=1');
      await Promise.all(context.pages().map((p) => p.close()));
      const thumbs = await measure(await context.newPage(), '');
      const ratio = thumbs.bytesPerSecond / full.bytesPerSecond;
      const perFrame =
        thumbs.bytesPerSecond / thumbs.framesPerSecond / (full.bytesPerSecond / full.framesPerSecond);
      console.log(
        `grid bytes/s: full ${full.bytesPerSecond} (${full.framesPerSecond} frames/s, server ${full.serverBytesPerSecond}), ` +
          `thumbnails ${thumbs.bytesPerSecond} (${thumbs.framesPerSecond} frames/s, server ${thumbs.serverBytesPerSecond}); ` +
          `ratio ${ratio.toFixed(3)}, per frame ${perFrame.toFixed(3)}; widths full ${full.widths} thumbs ${thumbs.widths}`,
      );
      expect(full.widths).toEqual([800, 800, 800, 800, 800, 800]);
      // 1280 px: three columns of about 405 px; the server's ladder makes them 400.
      expect(new Set(thumbs.widths)).toEqual(new Set([400]));
      // The dashboard's cards list the live renditions: s1's previews at 400 px, with their encode time
      // and how far behind the stream's own frames theirs are.
      const dash = await context.newPage();
      await dash.goto(`${base}/dashboard`);
      const r400 = dash.locator('.stream-card[data-stream="s1"] .rendition[data-width="400"]');
      await r400.waitFor({ timeout: 10_000 });
      expect(await r400.innerText()).toMatch(
        /^400 px q70: 1 viewer \(previews\), \d+\.\d ms, \d+\.\d ms behind$/,
      );
      // The saving is not frames lost: the thumbnails came at least at 0.8 of the full page's rate.
      expect(thumbs.framesPerSecond).toBeGreaterThanOrEqual(full.framesPerSecond * 0.8);
      // The target, like for like: bytes per second at the same frame rate (the full page
      // may take fewer frames on a busy machine, which would flatter it). 400-px JPEGs of the test
      // pattern at the stream's quality (80) are about 0.32 of the 800-px ones, not 0.25 as their
      // pixels are; the grid's previews ask quality 70 (src/web/grid.js), which brings them under
      // the 0.3 with no visible difference at that size.
      expect(perFrame).toBeLessThanOrEqual(0.3);
    } finally {
      await context.close();
    }
  }, 90_000);

  it('a tile resized by more than a quarter asks again at its new size', async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 720 },
      deviceScaleFactor: 1,
    });
    try {
      const page = await context.newPage();
      await page.goto(`${base}/`);
      const canvas = page.locator('.tile[data-stream="s1"] canvas');
      await until(
        async () => (await canvas.evaluate((c) => (c as unknown as { width: number }).width)) === 400,
        20_000,
        's1 at 400',
      );
      const width = (): Promise<number> => canvas.evaluate((c) => (c as unknown as { width: number }).width);
      // 680 px: one column of about 640 px, over a quarter wider: asked again (on the 16-px ladder).
      await page.setViewportSize({ width: 680, height: 720 });
      await until(async () => (await width()) > 560, 10_000, 's1 asked again at its new width');
      const asked = await width();
      expect(asked % 16).toBe(0);
      expect(asked).toBeLessThanOrEqual(648);
      // A small change (under a quarter) keeps the size asked.
      await page.setViewportSize({ width: 660, height: 720 });
      await page.waitForTimeout(1500);
      expect(await width()).toBe(asked);
    } finally {
      await context.close();
    }
  }, 60_000);
});
