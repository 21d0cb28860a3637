import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/index.js';
import { startServe } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { liveGaps } from './support.js';
import { openMjpeg } from '../helpers/mjpeg.js';

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = makeTempDir('framecast-rec-faults-');
});
afterAll(() => tmp.cleanup());

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, ms: number, f: () => Promise<T | null | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== null && v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(100);
  }
}

/** Frames of a Matroska file as ffprobe counts them (decoding each). */
function ffprobeCount(path: string): number {
  const out = execFileSync('ffprobe', [
    ...['-v', 'error', '-count_frames', '-select_streams', 'v:0'],
    ...['-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', path],
  ]);
  return Number(out.toString());
}

/** A tmpfs of `size` mounted at `dir` (root only); false when it cannot be mounted. */
function mountTmpfs(dir: string, size: string): boolean {
  mkdirSync(dir, { recursive: true });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]).status === 0;
}

const canMount = ((): boolean => {
  const probe = join(makeTempDir('framecast-mount-probe-').dir, 'm');
  const ok = mountTmpfs(probe, '64k');
  if (ok) spawnSync('umount', [probe]);
  return ok;
})();

describe('recording when things go wrong', () => {
  // A full disk needs a small file system: a tmpfs, which only root can mount. CI runs as root.
  it.runIf(canMount || process.env.CI === 'true')(
    'a full disk is a state: recording stops (stats, metrics), live viewers go on, recording resumes by itself when space is back',
    async () => {
      const mnt = join(tmp.dir, 'small');
      expect(mountTmpfs(mnt, '160k')).toBe(true);
      let server: FramecastServer | null = null;
      try {
        server = await serve({
          port: 0,
          httpPort: 0,
          recordPath: mnt,
          streams: [{ name: 'cam', source: 'test', width: 160, record: true, recordSegmentDuration: 1 }],
        });
        const base = `http://127.0.0.1:${server.httpAddress()?.port}`;
        const failedEvents: string[] = [];
        server.on('record-failed', (_s, e) => failedEvents.push(e.message));
        const live = openMjpeg(`${base}/streams/cam/stream.mjpg`, { keep: true });
        type Rec = { state: string; error: string | null; framesDropped: number };
        const stats = async (): Promise<Rec | null> =>
          ((await (await fetch(`${base}/streams/cam/stats`)).json()) as { recording: Rec | null }).recording;
        const failing = await until('recording failing', 15_000, async () => {
          const r = await stats();
          return r?.state === 'failing' ? r : null;
        });
        expect(failing.error).toMatch(/ENOSPC|no space/i);
        expect(failedEvents).toHaveLength(1);
        const metrics = await (await fetch(`${base}/metrics`)).text();
        expect(metrics).toMatch(/framecast_recording_failing\{stream="cam"\} 1/);
        // Space comes back: recording resumes without anyone asking.
        expect(spawnSync('mount', ['-o', 'remount,size=20m', mnt]).status).toBe(0);
        await until('recording resumed', 10_000, async () =>
          (await stats())?.state === 'recording' ? true : null,
        );
        await sleep(1500);
        live.close();
        // Live viewing never noticed: consecutive frames throughout.
        const seqs = live.parts.map((p) => Number(p.headers['x-framecast-seq']));
        expect(seqs.length).toBeGreaterThan(60);
        expect(liveGaps(seqs)).toBeLessThanOrEqual(15);
        await server.close();
        server = null;
        // Nothing corrupt: every listed segment decodes, frame for frame, the one cut by the full disk included.
        const dir = join(mnt, 'cam');
        const lines = readFileSync(join(dir, 'catalog.ndjson'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { name?: string; frames?: number; del?: string });
        const segs = lines.filter((l) => l.name !== undefined);
        expect(segs.length).toBeGreaterThanOrEqual(3);
        for (const s of segs) expect(ffprobeCount(join(dir, `${s.name}.mkv`))).toBe(s.frames);
      } finally {
        await server?.close();
        spawnSync('umount', ['-l', mnt]);
      }
    },
    40_000,
  );

  it('SIGKILL while recording: at the next start the cut segment is repaired, listed, and plays back up to the cut', async () => {
    const root = join(tmp.dir, 'killed');
    const args = ['cam=test', '--width', '160', '--record', '--record-path', root, '--http-port', '0'];
    const first = await startServe(args);
    const listening = first.events.find((e) => e.event === 'listening') as unknown as { httpPort: number };
    let base = `http://127.0.0.1:${listening.httpPort}`;
    // Recording is demand: nobody watches, the source runs anyway.
    await sleep(2500);
    const before = (await (await fetch(`${base}/streams/cam/recordings`)).json()) as {
      spans: { frames: number }[];
    };
    expect(before.spans[0]?.frames).toBeGreaterThan(40);
    const killedAt = Date.now();
    await first.stop('SIGKILL');
    const dir = join(root, 'cam');
    const mkv = readdirSync(dir).filter((f) => f.endsWith('.mkv'));
    expect(mkv).toHaveLength(1); // 60 s segments: the one being written
    const second = await startServe(args);
    try {
      const l2 = second.events.find((e) => e.event === 'listening') as unknown as { httpPort: number };
      base = `http://127.0.0.1:${l2.httpPort}`;
      const after = (await (await fetch(`${base}/streams/cam/recordings`)).json()) as {
        spans: { start: string; end: string; frames: number }[];
      };
      // The killed run's recording is there, up to at most 2 s before the kill.
      const killed = after.spans[0];
      expect(killed).toBeDefined();
      expect(Date.parse(killed?.end ?? '')).toBeGreaterThan(killedAt - 2000);
      expect(killed?.frames).toBeGreaterThanOrEqual(before.spans[0]?.frames ?? Infinity);
      // The repair is logged, naming the file.
      const note = second.events.find((e) => e.event === 'record-note');
      expect(String(note?.message)).toMatch(/\.mkv: recovered after an unclean stop \(\d+ frames/);
      const file = join(dir, mkv[0] as string);
      const catalog = readFileSync(join(dir, 'catalog.ndjson'), 'utf8');
      const listed = JSON.parse(catalog.split('\n')[0] ?? '') as { frames: number };
      expect(ffprobeCount(file)).toBe(listed.frames);
      const res = await fetch(`${base}/streams/cam/playback.mjpg?start=${killed?.start}&speed=16`);
      const body = Buffer.from(await res.arrayBuffer());
      // Every frame of the killed run plays back.
      const parts = body.toString('latin1').split('Content-Type: image/jpeg').length - 1;
      expect(parts).toBeGreaterThanOrEqual(listed.frames);
    } finally {
      await second.stop();
    }
  }, 40_000);

  it('a recordPath that cannot be written stops serve at start: exit 2, one line naming the path', async () => {
    const file = join(tmp.dir, 'not-a-folder');
    execFileSync('touch', [file]);
    const r = spawnSync(
      process.execPath,
      [
        join(import.meta.dirname, '../../bin/framecast'),
        'serve',
        'cam=test',
        '--record',
        '--record-path',
        file,
        '--port',
        '0',
      ],
      { encoding: 'utf8', timeout: 15_000 },
    );
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`stream cam: cannot record in ${join(file, 'cam')}`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 20_000);
});
