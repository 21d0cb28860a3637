/**
 * Watching a recording back in the viewer page (Chromium): the timeline under the picture shows the
 * recorded span, a click in it switches the picture to a playback from that time (frames from the
 * past arrive, the time shown is theirs), another speed restarts it at that speed, and Live returns
 * to the live stream. A stream without recordings shows no timeline. With a token, the page's
 * fetches carry it. FRAMECAST_WRITE_SCREENSHOTS=1 writes docs/timeline.png for the README.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/index.js';
import { artifactPath, launchChromium } from '../helpers/browser.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { openMjpeg, type MjpegViewer } from '../helpers/mjpeg.js';
import { postAnnotation } from '../meta/http-support.js';
import { killTracked } from '../helpers/processes.js';
import { httpBase, until } from '../http/support.js';

let tmp: { dir: string; cleanup: () => void };
let server: FramecastServer | null = null;
let browser: Browser | null = null;
beforeAll(() => {
  tmp = makeTempDir('framecast-timeline-');
});
afterEach(async () => {
  await browser?.close();
  browser = null;
  await server?.close();
  server = null;
});
afterAll(async () => {
  tmp.cleanup();
  await killTracked();
});

const TOKEN = 's3cret-view';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Evaluates an expression in the page (a string: the page's own globals, no TypeScript types). */
function inPage<T>(page: Page, expr: string): Promise<T> {
  return page.evaluate(expr) as Promise<T>;
}

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

async function box(page: Page, selector: string): Promise<Box> {
  const b = await page.locator(selector).boundingBox();
  if (!b) throw new Error(`${selector} is not shown`);
  return b;
}

/** Annotates every frame `viewer` gets for `ms` (as an analyzer would): how many were accepted, and when. */
async function annotateFor(
  base: string,
  viewer: MjpegViewer,
  ms: number,
): Promise<{ count: number; from: number; to: number }> {
  const start = Date.now();
  const end = start + ms;
  const done = new Set<string>();
  const posts: Promise<boolean>[] = [];
  const from = viewer.parts.length;
  while (Date.now() < end) {
    for (const p of viewer.parts.slice(from)) {
      const seq = p.headers['x-framecast-seq'] as string;
      if (done.has(seq)) continue;
      done.add(seq);
      const body = { analyzer: 'detector', seq: Number(seq), data: { objects: [{ box: [1, 2, 3, 4] }] } };
      posts.push(
        postAnnotation(`${base}/streams/cam/annotations`, body, { Authorization: `Bearer ${TOKEN}` }).then(
          (r) => r.status === 202,
        ),
      );
    }
    await sleep(20);
  }
  const count = (await Promise.all(posts)).filter(Boolean).length;
  return { count, from: start, to: Date.now() };
}

describe('the viewer timeline: watching recordings back in the browser', () => {
  it('shows the recorded span; a click plays back from that time, speed restarts it, Live returns', async () => {
    server = await serve({
      port: 0,
      httpPort: 0,
      token: TOKEN,
      recordPath: join(tmp.dir, 'rec'),
      streams: [
        { name: 'cam', source: 'test', width: 640, record: true, recordSegmentDuration: 1 },
        { name: 'plain', source: 'test', width: 320 },
      ],
    });
    const base = httpBase(server);
    const recordingStarted = Date.now();
    // An analyzer annotates the frames of the second second (the timeline marks that activity).
    const mjpeg = openMjpeg(`${base}/streams/cam/stream.mjpg?token=${TOKEN}`, { keep: true });
    await sleep(1000);
    const annotated = await annotateFor(base, mjpeg, 1000);
    await sleep(1000);
    mjpeg.close();
    expect(annotated.count).toBeGreaterThan(10);

    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 960, height: 720 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // What the page asks of the server: recordings listings and playbacks (with their headers).
    const requests: { url: string; auth: string | undefined }[] = [];
    page.on('request', (r) => {
      if (/\/(recordings|playback\.mjpg)\?/.test(r.url()))
        requests.push({ url: r.url(), auth: r.headers()['authorization'] });
    });
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));

    // A stream that is not recorded: no timeline.
    await page.goto(`${base}/streams/plain/?token=${TOKEN}`);
    await until(
      () => inPage<boolean>(page, 'window.framecastViewer?.stats.frames > 2'),
      15_000,
      'live frames',
    );
    await until(() => requests.some((r) => r.url.includes('/plain/recordings?')), 10_000, 'a listing');
    await sleep(300);
    expect(await page.locator('.timeline').isHidden()).toBe(true);

    // The recorded stream: one span, from when recording began to about now.
    requests.length = 0;
    await page.goto(`${base}/streams/cam/?token=${TOKEN}`);
    await page.locator('.timeline').waitFor({ state: 'visible', timeout: 10_000 });
    await until(
      () => inPage<boolean>(page, 'window.framecastViewer?.stats.frames > 2'),
      15_000,
      'live frames',
    );
    expect(await page.locator('.timeline').getAttribute('data-mode')).toBe('live');
    // The listing may still be on its way on a loaded machine: wait for its span, then count.
    await page.locator('.timeline-span').first().waitFor({ timeout: 10_000 });
    expect(await page.locator('.timeline-span').count()).toBe(1);
    // The page's token goes in the Authorization header of its fetches.
    expect(requests[0]?.auth).toBe(`Bearer ${TOKEN}`);
    const listing = (await (
      await fetch(`${base}/streams/cam/recordings`, { headers: { Authorization: `Bearer ${TOKEN}` } })
    ).json()) as { spans: { start: string; end: string }[] };
    expect(listing.spans).toHaveLength(1);
    const spanStart = Date.parse(listing.spans[0]?.start as string);
    expect(spanStart).toBeGreaterThanOrEqual(recordingStarted - 1000);
    // Under a minute recorded: the bar is the last minute, and the span (being recorded) reaches now.
    const bar = await box(page, '.timeline-bar');
    const span = await box(page, '.timeline-span');
    const now = Date.now();
    const expectedWidth = ((now - spanStart) / 60_000) * bar.width;
    expect(Math.abs(span.width - expectedWidth)).toBeLessThan(0.02 * bar.width);
    expect(Math.abs(span.x + span.width - (bar.x + bar.width))).toBeLessThan(0.02 * bar.width);
    expect(span.width).toBeGreaterThan(0.03 * bar.width);
    // The annotations are marked: every one of them, over the second second of the span.
    await until(
      async () =>
        (await page.locator('.timeline-activity').getAttribute('data-total')) === String(annotated.count),
      10_000,
      'the activity row',
    );
    const marks = await box(page, '.timeline-activity');
    const bar0 = page.locator('.timeline-bar');
    const activity = (await page.evaluate(`(() => {
      const c = document.querySelector('.timeline-activity');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const cols = [];
      for (let x = 0; x < c.width; x++) {
        let on = false;
        for (let y = 0; y < c.height; y++) if (d[(y * c.width + x) * 4 + 3] > 0) on = true;
        if (on) cols.push(x / c.width);
      }
      return cols;
    })()`)) as number[];
    // Marked columns (fractions of the bar) lie within the annotated second (plus a bucket or so).
    expect(activity.length).toBeGreaterThan(0);
    const [from, to] = [
      Number(await bar0.getAttribute('data-from')),
      Number(await bar0.getAttribute('data-to')),
    ];
    for (const f of activity) {
      const t = from + ((marks.x + f * marks.width - bar.x) / bar.width) * (to - from);
      // Counted per second of capture time (at its middle), in buckets of 3 pixels.
      expect(t).toBeGreaterThan(annotated.from - 800);
      expect(t).toBeLessThan(annotated.to + 800);
    }

    // A click in the middle of the span: playback from that time.
    const liveSockets = sockets.length;
    requests.length = 0;
    const clickedAt = Date.now();
    await page.mouse.click(span.x + span.width / 2, span.y + span.height / 2);
    await until(() => requests.some((r) => r.url.includes('playback.mjpg?')), 10_000, 'a playback request');
    const playback = new URL(requests.find((r) => r.url.includes('playback.mjpg?'))?.url as string);
    expect(requests.find((r) => r.url.includes('playback.mjpg?'))?.auth).toBe(`Bearer ${TOKEN}`);
    expect(playback.pathname).toBe('/streams/cam/playback.mjpg');
    const start = Date.parse(playback.searchParams.get('start') as string);
    // Inside the span, near its middle (it grew while the page rendered it: a second or so of slack).
    expect(start).toBeGreaterThan(spanStart + 200);
    expect(start).toBeLessThan(clickedAt);
    const middle = spanStart + (clickedAt - spanStart) / 2;
    expect(Math.abs(start - middle)).toBeLessThan(1500);
    expect(playback.searchParams.get('speed')).toBe('1');
    await until(
      () => inPage<boolean>(page, 'window.framecastPlayback?.stats.frames > 5'),
      10_000,
      'playback frames',
    );
    const played = await inPage<{ frames: number; position: number; width: number }>(
      page,
      `({ frames: window.framecastPlayback.stats.frames, position: window.framecastPlayback.position,
          width: document.querySelector('canvas').width })`,
    );
    expect(played.width).toBe(640);
    // The picture is from the past: the playback's own capture times, from the clicked time on.
    expect(played.position).toBeGreaterThanOrEqual(start - 100);
    expect(played.position).toBeLessThan(Date.now() - 1000);
    const tl = page.locator('.timeline');
    expect(await tl.getAttribute('data-mode')).toBe('playback');
    expect(Number(await tl.getAttribute('data-position'))).toBeGreaterThanOrEqual(start - 100);
    expect(await page.locator('[data-field="playtime"]').textContent()).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \(/,
    );
    expect(await page.locator('.timeline-head').isVisible()).toBe(true);
    expect(await page.locator('[data-field="state"]').getAttribute('data-state')).toBe('playback');
    // The live WebSocket was closed: no frames drawn by two sources.
    await until(
      async () => {
        const stats = (await (await fetch(`${base}/streams/cam/stats?token=${TOKEN}`)).json()) as {
          clients: { protocol: string }[];
        };
        return stats.clients.every((c) => c.protocol !== 'ws');
      },
      5000,
      'the live viewer to leave',
    );
    // It plays at the recorded pace: two seconds later the picture is about two seconds further.
    const t1 = Date.now();
    const p1 = await inPage<number>(page, 'window.framecastPlayback.position');
    await sleep(2000);
    const p2 = await inPage<number>(page, 'window.framecastPlayback.position');
    const wall = Date.now() - t1;
    expect(p2 - p1).toBeGreaterThan(wall * 0.5);
    expect(p2 - p1).toBeLessThan(wall * 1.5);

    if (process.env.FRAMECAST_WRITE_SCREENSHOTS === '1')
      await page.screenshot({ path: join(REPO_ROOT, 'docs', 'timeline.png') });
    await page.screenshot({ path: artifactPath('timeline-playback.png') });

    // Another speed: the playback starts again from the picture shown, at that speed.
    requests.length = 0;
    await page.selectOption('[data-field="speed"]', '4');
    await until(() => requests.some((r) => r.url.includes('speed=4')), 5000, 'a 4x playback');
    const fast = new URL(requests.find((r) => r.url.includes('speed=4'))?.url as string);
    expect(Math.abs(Date.parse(fast.searchParams.get('start') as string) - p2)).toBeLessThan(1500);

    // Live: the live stream again, and the playback closed.
    await page.click('[data-field="live"]');
    await until(async () => (await tl.getAttribute('data-mode')) === 'live', 5000, 'live mode');
    // The page opens the live WebSocket right after it shows live mode: one, not more.
    await until(() => sockets.length >= liveSockets + 1, 5000, 'the live WebSocket');
    expect(sockets.length).toBe(liveSockets + 1);
    await until(
      () =>
        inPage<boolean>(page, 'window.framecastPlayback === null && window.framecastViewer.stats.frames > 3'),
      10_000,
      'live frames again',
    );
    const latency = await inPage<number>(page, 'window.framecastViewer.stats.latencyMs');
    expect(latency).toBeLessThan(1000);
    expect(await page.locator('.timeline-head').isHidden()).toBe(true);
    expect(await page.locator('[data-field="live"]').getAttribute('aria-pressed')).toBe('true');
    expect(errors).toEqual([]);
  }, 60_000);
});
