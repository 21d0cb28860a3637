/**
 * What the grid costs, in headless Chromium (test/helpers/grid-bytes.ts measures it; the bench
 * reports the same measure): six 800-px streams on a 1280x720 page, each tile at its displayed width
 * (a passive rendition) against every tile at full size. The issue's target: at most 0.3 of the full
 * size's bytes per frame, with no frames lost. The dashboard lists the previews' rendition, and a
 * resize of the page makes the tiles ask again.
 */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium } from '../helpers/browser.js';
import { gridServer, measureGrid } from '../helpers/grid-bytes.js';
import { killTracked } from '../helpers/processes.js';
import { until } from '../http/support.js';

const hasChromium = existsSync(CHROMIUM);

describe.skipIf(!hasChromium)('the grid asks each tile at its size', () => {
  let browser: Browser;
  let grid: Awaited<ReturnType<typeof gridServer>>;
  let base: string;

  beforeAll(async () => {
    [browser, grid] = await Promise.all([launchChromium(), gridServer()]);
    base = grid.base;
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await grid?.close();
    await killTracked();
  });

  it('six 800-px streams in a 1280x720 grid: the thumbnails (400 px, quality 70) cost at most 0.3 of full size per frame', async () => {
    let dashboard = '';
    const { full, thumbs, ratio, perFrame } = await measureGrid(browser, base, async (context) => {
      // The dashboard's cards list the live renditions: s1's previews at 400 px, with their encode
      // time and how far behind the stream's own frames theirs are.
      const dash = await context.newPage();
      await dash.goto(`${base}/dashboard`);
      const r400 = dash.locator('.stream-card[data-stream="s1"] .rendition[data-width="400"]');
      await r400.waitFor({ timeout: 10_000 });
      dashboard = await r400.innerText();
    });
    console.log(
      `grid bytes/s: full ${full.bytesPerSecond} (${full.framesPerSecond} frames/s, server ${full.serverBytesPerSecond}), ` +
        `thumbnails ${thumbs.bytesPerSecond} (${thumbs.framesPerSecond} frames/s, server ${thumbs.serverBytesPerSecond}); ` +
        `ratio ${ratio.toFixed(3)}, per frame ${perFrame.toFixed(3)}; widths full ${full.widths} thumbs ${thumbs.widths}`,
    );
    expect(full.widths).toEqual([800, 800, 800, 800, 800, 800]);
    // 1280 px: three columns of about 405 px; the server's ladder makes them 400.
    expect(new Set(thumbs.widths)).toEqual(new Set([400]));
    expect(dashboard).toMatch(/^400 px q70: 1 viewer \(previews\), \d+\.\d ms, \d+\.\d ms behind$/);
    // The saving is not frames lost: the thumbnails came at least at 0.8 of the full page's rate.
    expect(thumbs.framesPerSecond).toBeGreaterThanOrEqual(full.framesPerSecond * 0.8);
    // The target, like for like: bytes per second at the same frame rate (the full page
    // may take fewer frames on a busy machine, which would flatter it). 400-px JPEGs of the test
    // pattern at the stream's quality (80) are about 0.32 of the 800-px ones, not 0.25 as their
    // pixels are; the grid's previews ask quality 70 (src/web/grid.js), which brings them under
    // the 0.3 with no visible difference at that size.
    expect(perFrame).toBeLessThanOrEqual(0.3);
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
