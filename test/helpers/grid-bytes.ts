/**
 * What the grid page costs a browser: six 800-px streams of `framecast serve` (5 fps) on a 1280x720
 * page (DPR 1) in headless Chromium, its bytes and frames per second by the browser's own network
 * accounting (every WebSocket message the page received), with each tile at its displayed size (a
 * passive rendition, quality 70) against the same page with `?full=1` (every tile at the stream's own
 * size, as the grid was before). Used by test/renditions/grid-bytes-browser.test.ts (which asserts the
 * target) and by the bench (which reports it).
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { serve, type FramecastServer } from '../../src/index.js';
import { openMjpeg, type MjpegViewer } from './mjpeg.js';
import { httpBase, until } from '../http/support.js';

export const GRID_STREAMS = ['s1', 's2', 's3', 's4', 's5', 's6'];
const WINDOW_MS = 5000;

/** One page's measure over the window. */
export interface GridMeasure {
  bytesPerSecond: number;
  framesPerSecond: number;
  /** The previews' bytes by the server's count (its monitors of every stream). */
  serverBytesPerSecond: number;
  /** The tiles' canvas widths (the pictures' widths). */
  widths: number[];
}

/** Both pages and the ratio the target is about: bytes per frame, thumbnails / full. */
export interface GridBytes {
  full: GridMeasure;
  thumbs: GridMeasure;
  /** Bytes per second, thumbnails / full. */
  ratio: number;
  /** Bytes per frame, thumbnails / full (like for like when the full page takes fewer frames). */
  perFrame: number;
  /** Each page's measuring window. */
  windowSeconds: number;
}

/**
 * The server the grid is measured on: six streams of the test pattern at 800 px and 5 fps (on a small
 * shared machine the full-size page then still takes every frame), each kept transmitting by one
 * cheap viewer outside the page (a frame a second). `close()` stops both.
 */
export async function gridServer(): Promise<{
  server: FramecastServer;
  base: string;
  close: () => Promise<void>;
}> {
  const server = await serve({
    port: 0,
    httpPort: 0,
    streams: GRID_STREAMS.map((name) => ({ name, source: 'test', width: 800, fps: 5 })),
  });
  const base = httpBase(server);
  const drivers: MjpegViewer[] = GRID_STREAMS.map((n) => openMjpeg(`${base}/streams/${n}/stream.mjpg?fps=1`));
  return {
    server,
    base,
    close: async () => {
      for (const d of drivers) d.close();
      await server.close();
    },
  };
}

async function serverPreviewBytes(base: string): Promise<number> {
  const s = (await (await fetch(`${base}/stats`)).json()) as {
    streams: { monitors: { bytesSent: number }[] }[];
  };
  return s.streams.flatMap((st) => st.monitors).reduce((a, m) => a + m.bytesSent, 0);
}

/** One page (`query`: '' for the grid as it is, '?full=1' for every tile at full size). */
export async function measureGridPage(page: Page, base: string, query: string): Promise<GridMeasure> {
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
    async () => (await page.locator('.tile[data-picture="1"]').count()) === GRID_STREAMS.length,
    20_000,
    'six tiles live',
  );
  await page.waitForTimeout(1500); // every tile at its size, past its first frames
  const widths = await page
    .locator('.tile canvas')
    .evaluateAll((els) => els.map((e) => (e as unknown as { width: number }).width));
  const [b0, f0, s0, t0] = [bytes, frames, await serverPreviewBytes(base), performance.now()];
  await page.waitForTimeout(WINDOW_MS);
  const [b1, f1, s1, t1] = [bytes, frames, await serverPreviewBytes(base), performance.now()];
  const seconds = (t1 - t0) / 1000;
  return {
    bytesPerSecond: Math.round((b1 - b0) / seconds),
    framesPerSecond: Math.round(((f1 - f0) / seconds) * 10) / 10,
    serverBytesPerSecond: Math.round((s1 - s0) / seconds),
    widths,
  };
}

/**
 * The full-size page, then the grid as it is, in one 1280x720 context at DPR 1; `thenWhileOpen` runs
 * with the grid's page still open (its previews still running) before the context closes.
 */
export async function measureGrid(
  browser: Browser,
  base: string,
  thenWhileOpen?: (context: BrowserContext) => Promise<void>,
): Promise<GridBytes> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, deviceScaleFactor: 1 });
  try {
    const full = await measureGridPage(await context.newPage(), base, '?full=1');
    await Promise.all(context.pages().map((p) => p.close()));
    const thumbs = await measureGridPage(await context.newPage(), base, '');
    await thenWhileOpen?.(context);
    return {
      full,
      thumbs,
      ratio: thumbs.bytesPerSecond / full.bytesPerSecond,
      perFrame: thumbs.bytesPerSecond / thumbs.framesPerSecond / (full.bytesPerSecond / full.framesPerSecond),
      windowSeconds: WINDOW_MS / 1000,
    };
  } finally {
    await context.close();
  }
}
