/**
 * examples/python_client.py, a client written from docs/PROTOCOL.md alone, against the real server.
 * It needs only the Python standard library, so any python3 runs it.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startServe } from '../helpers/cli.js';
import { makeClip, makeTempDir } from '../helpers/fixtures.js';
import { killTracked, spawnTracked, waitExit } from '../helpers/processes.js';

const PY = process.env.PYTHON || 'python3';
const hasPython = spawnSync(PY, ['--version']).status === 0;
const SCRIPT = join(REPO_ROOT, 'examples', 'python_client.py');
const env = { FRAMECAST_TOKEN: '' };

let tmp: ReturnType<typeof makeTempDir>;
beforeAll(() => {
  tmp = makeTempDir('framecast-pyclient-');
});
afterEach(killTracked);
afterAll(async () => {
  await killTracked();
  tmp.cleanup();
});

interface PySummary {
  frames: number;
  badFrames: number;
  width: number | null;
  height: number | null;
  firstSeq: number | null;
  lastSeq: number | null;
  server: string | null;
  end: { reason: number; message: string } | null;
  latencyMs: { p50: number; p95: number; p99: number } | null;
  clock: { sync: string } | null;
  error?: string;
}

async function runPython(
  args: string[],
): Promise<{ code: number | null; summary: PySummary; stderr: string }> {
  const child = spawnTracked(PY, [SCRIPT, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exit = await waitExit(child, 30_000);
  return { code: exit.code, summary: JSON.parse(out.trim() || '{}') as PySummary, stderr: err };
}

describe.skipIf(!hasPython)('examples/python_client.py', () => {
  it('receives whole JPEGs with their header fields and latency', async () => {
    const srv = await startServe(['test', '--http-port', 'off', '--token', 'py-token'], { env });
    const dir = join(tmp.dir, 'py-frames');
    const r = await runPython([
      '127.0.0.1',
      String(srv.port),
      '--frames',
      '25',
      '--token',
      'py-token',
      '--save-dir',
      dir,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.summary).toMatchObject({
      frames: 25,
      badFrames: 0,
      width: 800,
      height: 450,
      server: expect.stringMatching(/^framecast\//),
      clock: { sync: 'same-host' },
    });
    expect(r.summary.latencyMs?.p50).toBeGreaterThanOrEqual(0);
    expect(readdirSync(dir)).toHaveLength(25);
    await srv.stop();
  });

  it('is told why it was refused', async () => {
    const srv = await startServe(['test', '--http-port', 'off', '--token', 'py-token'], { env });
    const r = await runPython(['127.0.0.1', String(srv.port), '--frames', '5', '--token', 'wrong']);
    expect(r.code).toBe(1);
    expect(r.summary.error).toBe('refused (code 4): wrong token');
    expect(r.summary.frames).toBe(0);
    await srv.stop();
  });

  it('reads a whole file to its END', async () => {
    const clip = makeClip({ seconds: 1 });
    const srv = await startServe([clip.path, '--http-port', 'off', '--no-pace'], { env });
    const r = await runPython(['127.0.0.1', String(srv.port)]);
    expect(r.code).toBe(0);
    expect(r.summary.end).toEqual({ reason: 1, message: 'end of the source' });
    expect(r.summary.frames).toBe(clip.frames);
    expect([r.summary.firstSeq, r.summary.lastSeq]).toEqual([0, clip.frames - 1]);
    await srv.stop();
  });
});
