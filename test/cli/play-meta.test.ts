/**
 * The CLI's side of metadata and annotations, against a real server on 127.0.0.1:0: `framecast play
 * --json-frames --meta --annotations` printing each frame with its metadata and each annotation tagged
 * with its frame's seq, and `framecast publish --meta-file` sending line N with frame N.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  parseServerAddress,
  publish,
  serve,
  StreamClient,
  type FramecastServer,
  type StreamFrame,
} from '../../src/index.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { makeJpeg } from '../helpers/native.js';
import { killTracked, sleep, waitExit } from '../helpers/processes.js';

let server: FramecastServer | null = null;
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  await killTracked();
  await server?.close();
  server = null;
});

async function until(cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(20);
  expect(cond()).toBe(true);
}

async function camServer(): Promise<number> {
  server = await serve({
    port: 0,
    httpPort: null,
    streams: [{ name: 'cam', source: 'publisher', publishToken: 'pub-secret-1' }],
  });
  return server.address().port;
}

type Line = Record<string, unknown>;

describe('framecast play --json-frames', () => {
  it('prints each frame with its metadata and each annotation tagged with its frame', async () => {
    const port = await camServer();
    const play = spawnCli([
      'play',
      `127.0.0.1:${port}/cam`,
      '--view',
      'none',
      '--protocol',
      'native',
      '--json-frames',
      '--meta',
      '--annotations',
      '--json',
    ]);
    const lines: Line[] = [];
    let partial = '';
    play.stdout?.setEncoding('utf8');
    play.stdout?.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const p of parts) lines.push(JSON.parse(p) as Line);
    });
    const analyzer = new StreamClient(parseServerAddress(`127.0.0.1:${port}/cam`), {
      protocol: 'native',
      annotate: true,
    });
    const seen: StreamFrame[] = [];
    analyzer.on('frame', (f) => seen.push(f));
    analyzer.on('error', () => {});
    analyzer.connect();
    closers.push(() => analyzer.close());
    const pub = publish(`127.0.0.1:${port}/cam`, { token: 'pub-secret-1', reconnect: false });
    pub.on('error', () => {});
    closers.push(() => pub.close());
    const frames = (): Line[] => lines.filter((l) => l.type === 'frame' && (l.width as number) < 800);
    let annotated: StreamFrame | null = null;
    // The width tells which frame it is: its metadata must say the same. Publish until play has shown
    // frames and the analyzer's annotation of one of them.
    for (let k = 0; k < 200 && !(frames().length >= 5 && lines.some((l) => l.type === 'annotation')); k++) {
      await pub.ready();
      const width = 64 + 8 * (k % 40);
      pub.publish(await makeJpeg(width, 48, k), k % 3 === 2 ? {} : { meta: { width, k } });
      await sleep(20);
      const mine = seen.filter((f) => f.width === width);
      if (annotated === null && k >= 5 && mine.length > 0) {
        annotated = mine[0] as StreamFrame;
        analyzer.annotate(annotated, 'motion', { objects: [{ box: [1, 2, 3, 4], label: 'motion' }] });
      }
    }
    play.kill('SIGTERM');
    await waitExit(play, 10_000);
    expect(frames().length).toBeGreaterThanOrEqual(5);
    for (const f of frames()) {
      expect(Object.keys(f)).toEqual(['type', 'seq', 'capturedAt', 'width', 'height', 'bytes', 'meta']);
      const meta = f.meta as { width: number; k: number } | null;
      if (meta !== null) expect(meta.width).toBe(f.width);
    }
    expect(frames().some((f) => f.meta === null)).toBe(true);
    expect(frames().some((f) => f.meta !== null)).toBe(true);
    const a = annotated as StreamFrame;
    expect(lines.filter((l) => l.type === 'annotation')).toEqual([
      {
        type: 'annotation',
        analyzer: 'motion',
        seq: a.seq,
        capturedAt: a.capturedAt,
        data: { objects: [{ box: [1, 2, 3, 4], label: 'motion' }] },
      },
    ]);
    // The --json summary is still the last line.
    expect(lines.at(-1)).toMatchObject({ protocol: 'native' });
  }, 60_000);

  it('--meta and --annotations need --json-frames and the native protocol', async () => {
    const r = await runCli(['play', '127.0.0.1:1', '--meta']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--meta prints with --json-frames/);
    const l = await runCli(['play', '127.0.0.1:1', '--json-frames', '--annotations', '--protocol', 'legacy']);
    expect(l.code).toBe(2);
    expect(l.stderr).toMatch(/--annotations needs the native protocol/);
  });
});

describe('framecast publish --meta-file', () => {
  it('sends line N as the metadata of frame N', async () => {
    const port = await camServer();
    const dir = makeTempDir();
    const file = join(dir.dir, 'meta.jsonl');
    writeFileSync(file, ['{"n":1}', '{"n":2}', '', '{"n":4}', '{"n":5}', '{"n":6}'].join('\n') + '\n');
    const viewer = new StreamClient(parseServerAddress(`127.0.0.1:${port}/cam`), {
      protocol: 'native',
      meta: true,
    });
    const metas: { seq: number; n: number }[] = [];
    viewer.on('frame', (f) => f.meta && metas.push({ seq: f.seq, n: (f.meta as { n: number }).n }));
    viewer.on('error', () => {});
    viewer.connect();
    closers.push(() => viewer.close());
    const r = await runCli(
      [
        'publish',
        'test',
        `127.0.0.1:${port}/cam`,
        '--token',
        'pub-secret-1',
        '--meta-file',
        file,
        '--frames',
        '12',
        '--fps',
        '10',
        '--no-pace',
        '--width',
        '160',
        '--json',
      ],
      { timeoutMs: 30_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    await until(() => metas.length > 0);
    // What the viewer saw is line N with frame N: the first frame (never dropped: nothing was in flight)
    // carries line 1, and each later one line seq - first seq + 1 (latest frame wins may skip some).
    const first = metas[0] as { seq: number; n: number };
    expect(first.n).toBe(1);
    for (const m of metas) expect(m.n).toBe(m.seq - first.seq + 1);
    expect(metas.map((m) => m.n).every((n) => [1, 2, 4, 5, 6].includes(n))).toBe(true);
    dir.cleanup();
  }, 60_000);

  it('a bad line is a usage error naming the file and the line', async () => {
    const dir = makeTempDir();
    const file = join(dir.dir, 'bad.jsonl');
    writeFileSync(file, '{"n":1}\n[1,2]\n');
    const r = await runCli(['publish', 'test', '127.0.0.1:1/cam', '--meta-file', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--meta-file ${file}:2: metadata must be a JSON object`);
    dir.cleanup();
  });
});
