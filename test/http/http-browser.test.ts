import net from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAuthSettings } from '../../src/access/auth-settings.js';
import { hashPassword } from '../../src/access/password.js';
import { signLink } from '../../src/access/signed-link.js';
import { serve, type FramecastServer } from '../../src/app/serve.js';
import { artifactPath, launchChromium } from '../helpers/browser.js';
import { collectOutput, spawnCli } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { killTracked } from '../helpers/processes.js';
import { httpBase, until } from './support.js';

/** What the tests touch inside the page (this file is type-checked without the DOM library). */
interface InPage {
  framecastViewer?: { stats: { frames: number } };
  document: {
    querySelector(selector: string): { textContent: string | null } | null;
    fullscreenElement: { className: string } | null;
  };
}
interface InPageCanvas {
  width: number;
  height: number;
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> };
  };
}

let browser: Browser;
let server: FramecastServer;
let base: string;

beforeAll(async () => {
  [browser, server] = await Promise.all([launchChromium(), serve({ source: 'test', port: 0, httpPort: 0 })]);
  base = httpBase(server);
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await killTracked();
});

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
  page.on('pageerror', (err) => {
    throw err;
  });
  return page;
}

/** The page's "FPS: n" overlay text as a number. */
async function overlayFps(page: Page, root = 'body'): Promise<number> {
  const text = await page.locator(`${root} [data-field="fps"]`).innerText();
  const m = /^FPS: (\d+)$/.exec(text);
  if (!m) throw new Error(`unexpected overlay text ${JSON.stringify(text)}`);
  return Number(m[1]);
}

/** Waits for `frames` drawn frames and a settled FPS overlay, returning the last FPS read. */
async function settledFpsOnce(page: Page, root = 'body'): Promise<number> {
  // Page code is given as strings: this file is type-checked without the DOM library.
  await page.waitForFunction(
    () => ((globalThis as unknown as InPage).framecastViewer?.stats.frames ?? 0) >= 60,
    null,
    {
      timeout: 15_000,
    },
  );
  await page.waitForTimeout(1100); // one full FPS window after frames flow
  return overlayFps(page, root);
}

/**
 * The FPS overlay once settled, read again (one FPS window apart, at most 3 reads) while it is under
 * `floor`: one window in which a loaded CI machine starved the page does not decide; a page that stays
 * under it does (the last read is returned).
 */
async function settledFps(page: Page, root = 'body', floor = 24): Promise<number> {
  let fps = await settledFpsOnce(page, root);
  for (let i = 1; i < 3 && fps < floor; i++) {
    await page.waitForTimeout(1100);
    fps = await overlayFps(page, root);
  }
  return fps;
}

describe('viewer page at /', () => {
  it('draws the stream on a canvas with the FPS overlay, latency and resolution as page text', async () => {
    const page = await newPage();
    await page.goto(`${base}/`);
    const fps = await settledFps(page);
    expect(fps).toBeGreaterThanOrEqual(24); // the test pattern runs at 30 fps
    expect(fps).toBeLessThanOrEqual(36);
    expect(await page.locator('[data-field="resolution"]').innerText()).toBe('800×450');
    expect(await page.locator('[data-field="latency"]').innerText()).toMatch(/^latency: \d+ ms$/);
    expect(await page.locator('[data-field="state"]').innerText()).toBe('live');
    // The canvas really holds the picture: sample pixels from the colour bars of the test pattern.
    const colours = await page.evaluate(() => {
      const c = (globalThis as unknown as InPage).document.querySelector('canvas') as unknown as InPageCanvas;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const seen = new Set<string>();
      for (let i = 0; i < d.length; i += 4 * 997)
        seen.add(`${(d[i] as number) >> 6},${(d[i + 1] as number) >> 6},${(d[i + 2] as number) >> 6}`);
      return { width: c.width, height: c.height, distinct: seen.size };
    });
    expect(colours).toMatchObject({ width: 800, height: 450 });
    expect(colours.distinct).toBeGreaterThan(5);
    await page.screenshot({ path: artifactPath('viewer.png') });
    await page.locator('[data-field="fullscreen"]').click();
    await page.waitForFunction(
      () => (globalThis as unknown as InPage).document.fullscreenElement?.className === 'stage',
      null,
      { timeout: 5000 },
    );
    await page.close();
  });
});

describe('viewer memory', () => {
  it('releases every decoded frame (ImageBitmaps closed, no object URLs) and its JS heap stays flat', async () => {
    const page = await newPage();
    // Count bitmaps made and closed, and object URLs, from inside the page (before its script runs).
    await page.addInitScript(`
      const counts = (globalThis.__frameCounts = { made: 0, closed: 0, urls: 0 });
      const make = globalThis.createImageBitmap.bind(globalThis);
      globalThis.createImageBitmap = async (...args) => { const b = await make(...args); counts.made++; return b; };
      const close = ImageBitmap.prototype.close;
      ImageBitmap.prototype.close = function () { counts.closed++; return close.call(this); };
      const url = URL.createObjectURL.bind(URL);
      URL.createObjectURL = (o) => { counts.urls++; return url(o); };
    `);
    const cdp = await page.context().newCDPSession(page);
    const heapAfterGc = async (): Promise<number> => {
      await cdp.send('HeapProfiler.collectGarbage');
      return ((await cdp.send('Runtime.getHeapUsage')) as { usedSize: number }).usedSize;
    };
    const framesDrawn = (n: number): Promise<unknown> =>
      page.waitForFunction(
        (min) => ((globalThis as unknown as InPage).framecastViewer?.stats.frames ?? 0) >= min,
        n,
        { timeout: 20_000 },
      );
    await page.goto(`${base}/`);
    await framesDrawn(60);
    const before = await heapAfterGc();
    await framesDrawn(300); // ~8 s more at 30 fps
    const after = await heapAfterGc();
    type Counts = { made: number; closed: number; urls: number };
    const counts = await page.evaluate(
      () => (globalThis as unknown as { __frameCounts: Counts }).__frameCounts,
    );
    expect(counts.made).toBeGreaterThanOrEqual(300);
    // At most the bitmap on screen and one being decoded are open.
    expect(counts.made - counts.closed).toBeLessThanOrEqual(2);
    expect(counts.urls).toBe(0);
    // 240 frames of ~25 kB held anywhere in JS would be ~6 MB; allow GC noise only.
    expect(after - before).toBeLessThan(1_000_000);
    await page.close();
  }, 40_000);
});

describe('dashboard at /dashboard', () => {
  it('lists a connected seed client, and its button ends the transmission', async () => {
    // A seed (legacy) client: connects and only reads.
    const seed = net.connect(server.address().port, '127.0.0.1');
    let bytes = 0;
    seed.on('data', (c: Buffer) => (bytes += c.length));
    const seedClosed = new Promise<void>((r) => seed.once('close', () => r()));

    const page = await newPage();
    await page.goto(`${base}/dashboard`);
    const row = page.locator('#clients tbody tr[data-protocol="legacy"]');
    await row.waitFor({ timeout: 10_000 });
    await until(
      async () => Number(await row.locator('td').nth(2).innerText()) > 15,
      10_000,
      'client fps in the table',
    );
    expect(await row.locator('td').nth(1).innerText()).toMatch(/^127\.0\.0\.1:\d+$/);
    await until(
      async () => Number(await page.locator('[data-stat="fps-out"]').innerText()) > 15,
      10_000,
      'source fps',
    );
    await page.waitForFunction(
      () =>
        (globalThis as unknown as InPage).document.querySelector('.preview [data-field="fps"]')
          ?.textContent !== 'FPS: 0',
      null,
      { timeout: 10_000 },
    );
    await page.screenshot({ path: artifactPath('dashboard.png') });

    const ended = new Promise<string>((r) => server.once('transmission-end', (reason) => r(reason)));
    await page.locator('#stop').click();
    expect(await ended).toBe('stopped');
    await seedClosed;
    expect(bytes).toBeGreaterThan(10_000);
    await page.locator('#stop-result', { hasText: 'transmission ended' }).waitFor({ timeout: 5000 });
    await row.waitFor({ state: 'detached', timeout: 5000 });
    await page.close();
  });
});

describe("play --view browser (the client's own window)", () => {
  it("serves the viewer on a local port fed by the client's TCP connection", async () => {
    const child = spawnCli([
      'play',
      `127.0.0.1:${server.address().port}`,
      '--view',
      'browser',
      '--no-open',
      '--duration',
      '30',
    ]);
    const out = collectOutput(child);
    let url = '';
    await until(
      () => {
        const m = /viewer: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out.text());
        if (m) url = m[1] as string;
        return url !== '';
      },
      10_000,
      'the viewer URL',
    );
    const page = await newPage();
    await page.goto(url);
    const fps = await settledFps(page);
    expect(fps).toBeGreaterThanOrEqual(24);
    expect(fps).toBeLessThanOrEqual(36);
    expect(await page.title()).toContain('RECIBIDO');
    expect(await page.locator('[data-field="resolution"]').innerText()).toBe('800×450');
    await page.screenshot({ path: artifactPath('client-viewer.png') });
    child.kill('SIGTERM');
    await page.close();
  });
});

describe('viewer resilience and auth', () => {
  it("with auth: users, the browser's own login (HTTP Basic) and a signed link each play the viewer page", async () => {
    const secret = 'browser-test-link-secret-32-bytes-long';
    const server = await serve({
      port: 0,
      httpPort: 0,
      auth: parseAuthSettings(
        {
          users: { alice: { password: await hashPassword('pw', 10), permissions: [{ action: 'read' }] } },
          linkSecret: secret,
        },
        '.',
      ),
      streams: [{ name: 'cam', source: 'test', width: 320, fps: 15 }],
    });
    const base = httpBase(server);
    const frames = (page: Page) =>
      page.waitForFunction(
        () => ((globalThis as unknown as InPage).framecastViewer?.stats.frames ?? 0) >= 30,
        null,
        {
          timeout: 15_000,
        },
      );
    try {
      // Without a login the page itself is refused with a Basic challenge (a browser then asks).
      const refused = await fetch(`${base}/streams/cam/`);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Basic /);
      const ctx = await browser.newContext({ httpCredentials: { username: 'alice', password: 'pw' } });
      const page = await ctx.newPage();
      await page.goto(`${base}/streams/cam/`);
      await frames(page);
      await ctx.close();
      const link = signLink({ stream: 'cam', actions: ['read'], expiresAt: Date.now() + 60_000 }, secret);
      const linked = await newPage();
      await linked.goto(`${base}/streams/cam/?token=${link}`);
      await frames(linked);
      await linked.close();
    } finally {
      await server.close();
    }
  });

  it('with --token, the page opened with ?token= streams; it reconnects by itself after a server restart', async () => {
    const port = await freePort();
    const opts = { source: 'test', port: 0, httpPort: port, token: 'pa55' } as const;
    let restarted: FramecastServer | null = await serve(opts);
    try {
      const page = await newPage();
      await page.goto(`http://127.0.0.1:${port}/?token=pa55`);
      const state = page.locator('[data-field="state"]');
      await state.filter({ hasText: /^live$/ }).waitFor({ timeout: 10_000 });
      await restarted.close();
      restarted = null;
      await state.filter({ hasText: /reconnecting/ }).waitFor({ timeout: 5000 });
      const framesBefore = await page.evaluate(
        () => (globalThis as unknown as InPage).framecastViewer?.stats.frames ?? 0,
      );
      restarted = await serve(opts);
      await page.waitForFunction(
        (n) => ((globalThis as unknown as InPage).framecastViewer?.stats.frames ?? 0) > n + 30,
        framesBefore,
        { timeout: 15_000 },
      );
      expect(await state.innerText()).toBe('live');
      await page.close();
    } finally {
      await restarted?.close();
    }
  });
});
