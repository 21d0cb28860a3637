/**
 * The pages of a server with several streams, in headless Chromium: the grid at / (passive previews
 * that never start a source) and the dashboard with every stream and its live charts.
 * UPDATE_SCREENSHOTS=1 writes docs/grid.png and docs/dashboard-streams.png (test-artifacts/ otherwise).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, serve, type FramecastServer } from '../../src/index.js';
import { artifactPath, CHROMIUM, launchChromium } from '../helpers/browser.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { killTracked } from '../helpers/processes.js';
import { getJson, httpBase, until } from './support.js';

/** What the tests touch inside the page (this file is type-checked without the DOM library). */
interface InPageCanvas {
  width: number;
  height: number;
  dataset: Record<string, string | undefined>;
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> };
  };
}
interface InPage {
  document: { querySelector(selector: string): unknown };
}

const hasChromium = existsSync(CHROMIUM);

/** Where a screenshot goes: docs/ when asked to refresh the README's pictures, else test-artifacts/. */
function screenshotPath(name: string): string {
  return process.env.UPDATE_SCREENSHOTS ? join(REPO_ROOT, 'docs', name) : artifactPath(name);
}

// A CI run must not pass by skipping the browser tests: .ci/run sets CI.
it.runIf(Boolean(process.env.CI))('CI has Chromium for the browser tests', () => {
  expect(hasChromium, `${CHROMIUM} is missing`).toBe(true);
});

/** A native viewer of `address` that keeps reading until stopped (or until the server ends it). */
function nativeViewer(address: string): { readonly frames: number; stop(): void; done: Promise<void> } {
  const ac = new AbortController();
  let frames = 0;
  const done = (async () => {
    for await (const _frame of connect(address, { signal: ac.signal })) frames++;
  })().catch(() => {});
  return {
    get frames() {
      return frames;
    },
    stop: () => ac.abort(),
    done,
  };
}

/**
 * A canvas's pixels, every `step`th one: distinct colours (top 2 bits per channel) and how many are
 * saturated (a chart's line, the test pattern's bars; not a grey background or text). Null if absent.
 */
async function canvasColours(
  page: Page,
  selector: string,
  step = 97,
): Promise<{ width: number; height: number; distinct: number; saturated: number } | null> {
  return page.evaluate(
    ([sel, every]) => {
      const c = (globalThis as unknown as InPage).document.querySelector(sel) as InPageCanvas | null;
      if (!c) return null;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const seen = new Set<string>();
      let saturated = 0;
      for (let i = 0; i < d.length; i += 4 * every) {
        const [r, g, b] = [d[i] as number, d[i + 1] as number, d[i + 2] as number];
        seen.add(`${r >> 6},${g >> 6},${b >> 6}`);
        if (Math.max(r, g, b) - Math.min(r, g, b) > 60) saturated++;
      }
      return { width: c.width, height: c.height, distinct: seen.size, saturated };
    },
    [selector, step] as const,
  );
}

describe.skipIf(!hasChromium)('pages of a server with several streams', () => {
  let browser: Browser;
  let server: FramecastServer;
  let base: string;
  let nativeBase: string;

  beforeAll(async () => {
    [browser, server] = await Promise.all([
      launchChromium(),
      serve({
        port: 0,
        httpPort: 0,
        streams: [
          { name: 'front', source: 'test', width: 320 },
          { name: 'back', source: 'test', width: 160 },
        ],
      }),
    ]);
    base = httpBase(server);
    nativeBase = `127.0.0.1:${server.address().port}`;
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await killTracked();
  });

  const transmissions = (name: string): number => server.streams.get(name)?.hub.totals.transmissions ?? -1;

  async function newPage(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (err) => {
      throw err;
    });
    return page;
  }

  it('the grid at / shows one linked tile per stream; idle tiles show their state and start nothing', async () => {
    const page = await newPage();
    const res = await page.goto(`${base}/`);
    expect(res?.headers()['content-security-policy']).toContain("default-src 'self'");
    const tiles = page.locator('.tile');
    await until(async () => (await tiles.count()) === 2, 10_000, 'two tiles');
    expect(
      await tiles.evaluateAll((els) => els.map((e) => (e as unknown as InPageCanvas).dataset.stream)),
    ).toEqual(['front', 'back']);
    expect(await tiles.locator('.tile-name').allInnerTexts()).toEqual(['front', 'back']);
    const hrefs = await tiles.evaluateAll((els) => els.map((e) => (e as unknown as { href: string }).href));
    expect(hrefs).toEqual([`${base}/streams/front/`, `${base}/streams/back/`]);
    // The link leads to that stream's viewer page.
    const viewer = await fetch(hrefs[1] as string);
    expect(viewer.status).toBe(200);
    expect(await viewer.text()).toContain('framecast — back');

    for (const name of ['front', 'back']) {
      const tile = page.locator(`.tile[data-stream="${name}"]`);
      expect(await tile.getAttribute('data-state')).toBe('idle');
      expect(await tile.getAttribute('data-picture')).toBe('0');
      expect(await tile.locator('.tile-state').innerText()).toBe('idle — starts when someone watches');
    }
    await page.waitForTimeout(2000);
    expect(transmissions('front')).toBe(0);
    expect(transmissions('back')).toBe(0);
    // ...while each tile does watch its stream: one passive viewer (a monitor) per stream.
    type Stats = { streams: { name: string; monitors: unknown[]; clients: unknown[] }[] };
    const stats = await getJson<Stats>(`${base}/stats`);
    expect(stats.streams.map((s) => [s.name, s.monitors.length, s.clients.length])).toEqual([
      ['front', 1, 0],
      ['back', 1, 0],
    ]);
    await page.close();
  });

  it("a tile draws its stream's frames once a native viewer starts it, and goes idle again after", async () => {
    const page = await newPage();
    await page.goto(`${base}/`);
    const front = page.locator('.tile[data-stream="front"]');
    await front.waitFor({ timeout: 10_000 });
    const viewer = nativeViewer(`${nativeBase}/front`);
    try {
      await page.locator('.tile[data-stream="front"][data-picture="1"]').waitFor({ timeout: 10_000 });
      const framesBefore = Number(await front.getAttribute('data-frames'));
      await until(
        async () => Number(await front.getAttribute('data-frames')) > framesBefore + 15,
        5000,
        'more frames drawn in the tile',
      );
      expect(await front.getAttribute('data-state')).toBe('live');
      expect(await front.locator('.tile-state').isHidden()).toBe(true);
      const colours = await canvasColours(page, '.tile[data-stream="front"] canvas');
      // The test pattern at the stream's width (320x180), colour bars and all.
      expect(colours).toMatchObject({ width: 320, height: 180 });
      expect(colours?.distinct).toBeGreaterThan(5);
      expect(viewer.frames).toBeGreaterThan(15);
      // Only 'front' was started.
      const back = page.locator('.tile[data-stream="back"]');
      expect(await back.getAttribute('data-picture')).toBe('0');
      expect(transmissions('back')).toBe(0);
      await page.locator('.tile-info').first().filter({ hasText: /live/ }).waitFor({ timeout: 5000 });
      await page.screenshot({ path: screenshotPath('grid.png') });
    } finally {
      viewer.stop();
      await viewer.done;
    }
    // The viewer left: the source stops and the tile shows its state again instead of a stale picture.
    await page
      .locator('.tile[data-stream="front"][data-state="idle"][data-picture="0"]')
      .waitFor({ timeout: 8000 });
    expect(await front.locator('.tile-state').innerText()).toBe('idle — starts when someone watches');
    await page.close();
  });

  it('the dashboard lists every stream with its figures and live charts, and ends one stream', async () => {
    const viewer = nativeViewer(`${nativeBase}/front`);
    try {
      const page = await newPage();
      await page.goto(`${base}/dashboard`);
      const cards = page.locator('.stream-card');
      await until(async () => (await cards.count()) === 2, 10_000, 'two stream cards');
      expect(await cards.locator('h3').allInnerTexts()).toEqual(['front', 'back']);
      const front = page.locator('.stream-card[data-stream="front"]');
      const back = page.locator('.stream-card[data-stream="back"]');
      const fpsChart = '.stream-card[data-stream="front"] [data-metric="fps"] canvas';
      // The README's picture gets a longer history than the test needs.
      const samples = process.env.UPDATE_SCREENSHOTS ? 45 : 5;
      await page.waitForFunction(
        ([sel, min]) =>
          Number(
            ((globalThis as unknown as InPage).document.querySelector(sel) as InPageCanvas | null)?.dataset
              .samples ?? 0,
          ) >= min,
        [fpsChart, samples] as const,
        { timeout: 15_000 + samples * 1000 },
      );
      await until(
        async () => Number(await front.locator('[data-metric="fps"] .now').innerText()) > 15,
        10_000,
        'front fps out in its chart caption',
      );
      expect(Number(await front.locator('[data-metric="kBps"] .now').innerText())).toBeGreaterThan(10);
      expect(await front.locator('[data-metric="clients"] .now').innerText()).toBe('1');
      expect(await front.locator('[data-card-stat="state"]').innerText()).toBe('live');
      expect(await front.locator('[data-card-stat="size"]').innerText()).toBe('320×180');
      expect(await front.locator('.clients-mini tbody tr[data-protocol="native"]').count()).toBe(1);
      expect(await back.locator('[data-card-stat="state"]').innerText()).toBe('idle');
      expect(await back.locator('[data-card-stat="transmissions"]').innerText()).toBe('0');
      // The chart is drawn: the line's colour is on the canvas, not only its background (the line
      // grows with its samples, so a starved page is given a few more of them).
      await until(
        async () => ((await canvasColours(page, fpsChart, 1))?.saturated ?? 0) > 20,
        10_000,
        'the fps chart has its line',
      );
      // The default stream's preview and figures stay as with one stream.
      expect(await page.locator('[data-stat="stream-name"]').innerText()).toBe('front');
      await page
        .locator('.preview [data-field="fps"]')
        .filter({ hasNotText: /^FPS: 0$/ })
        .waitFor({ timeout: 10_000 });
      await page.screenshot({ path: screenshotPath('dashboard-streams.png'), fullPage: true });

      // Its own End button ends that stream only: the native viewer gets END.
      await front.locator('button', { hasText: 'End' }).click();
      await viewer.done;
      await front.locator('.stream-card-head .state', { hasText: 'ended' }).waitFor({ timeout: 5000 });
      expect(transmissions('back')).toBe(0);
      await page.close();
    } finally {
      viewer.stop();
    }
  }, 90_000);
});
