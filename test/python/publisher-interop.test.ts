import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { killTracked, sleep, spawnTracked, waitExit } from '../helpers/processes.js';
import { PYTHON } from '../helpers/python.js';
import { serve } from '../../src/index.js';

afterAll(killTracked);

/** The Python package imports from its source folder (the installed copy is tested by package.test.ts). */
const env = { ...process.env, PYTHONPATH: join(REPO_ROOT, 'python', 'src') };
const usable =
  spawnSync(PYTHON, ['-c', 'import cv2, numpy, framecast'], { env, encoding: 'utf8' }).status === 0;
if (!usable && process.env['CI'] === 'true')
  throw new Error(`${PYTHON} cannot import cv2, numpy and framecast`);

/** A Python program that publishes 320x240 BGR frames (a moving bar) through framecast.Publisher. */
const PUBLISHER = `
import sys, time, numpy as np, framecast
with framecast.Publisher(sys.argv[1], token="py-pub-1") as pub:
    end = time.time() + float(sys.argv[2])
    i = 0
    while time.time() < end:
        img = np.zeros((240, 320, 3), np.uint8)
        img[:, (i * 4) % 320:(i * 4) % 320 + 20] = (0, 200, 255)
        pub.send_image(img)
        i += 1
        time.sleep(1 / 30)
`;

describe.skipIf(!usable)('a Python Publisher feeds framecast play and a browser', () => {
  it('framecast play and the viewer page in Chromium receive its frames', async () => {
    const server = await serve({
      port: 0,
      httpPort: 0,
      streams: [{ name: 'cam', source: 'publisher', publishToken: 'py-pub-1' }],
    });
    const browser = await launchChromium();
    try {
      const port = server.address().port;
      // 12 s of frames: play and the page must both see them, on a loaded 2-core machine too.
      const py = spawnTracked(PYTHON, ['-c', PUBLISHER, `127.0.0.1:${port}/cam`, '12'], { env });
      let pyErr = '';
      py.stderr?.on('data', (d: Buffer) => (pyErr += d.toString()));
      await sleep(800);
      const play = await runCli([
        'play',
        `127.0.0.1:${port}/cam`,
        '--view',
        'none',
        '--frames',
        '40',
        '--json',
      ]);
      expect(play.code).toBe(0);
      // The server's NO SIGNAL picture is 800x450; the Python frames are 320x240.
      expect(JSON.parse(play.stdout.trim().split('\n').at(-1) as string)).toMatchObject({
        frames: 40,
        width: 320,
        height: 240,
      });
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${server.httpAddress()?.port}/streams/cam/`);
      await page.waitForFunction(
        () =>
          ((globalThis as unknown as { framecastViewer?: { stats: { frames: number } } }).framecastViewer
            ?.stats.frames ?? 0) >= 30,
        undefined,
        { timeout: 10_000 },
      );
      const exit = await waitExit(py, 20_000);
      expect([exit.code, pyErr]).toEqual([0, '']);
    } finally {
      await browser.close();
      await server.close();
    }
  }, 60_000);
});
