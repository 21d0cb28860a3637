/**
 * Streams side by side: N streams of the same 640x360 footage at 30 fps in one server, 10 native
 * viewers each (one load generator per stream), against one such stream alone. Every viewer's share
 * of its stream's frames, and the CPU of the server and its ffmpegs per stream, from /proc over the
 * window all load generators have in common.
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LoadgenResult } from './loadgen.js';
import { childPids, procSample, spawnWithFds, stop, treeCpuMs, waitForLine } from './lib/proc.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FRAMECAST = `${ROOT}bin/framecast`;
const LOADGEN = `${ROOT}bench/loadgen.ts`;

/** One run: `streams` streams, `viewers` each. */
export interface MultiStreamRow {
  streams: number;
  viewersPerStream: number;
  /** Worst viewer's share of its stream's frames (by sequence number), and the median. */
  minFraction: number;
  medianFraction: number;
  /**
   * Frames per second each stream's server published in the window (from the sequence numbers its
   * viewers saw), in stream order, against the clip's own rate. Absent in older results.
   */
  publishedFps?: (number | null)[];
  sourceFps?: number;
  failed: number;
  /** Server process and its ffmpegs, in cores, for all streams and per stream. */
  serverCores: number;
  ffmpegCores: number;
  coresPerStream: number;
  rssMB: number;
  latencyP99Ms: number | null;
}

/** Runs `streams` streams of `clip` (looped), `viewers` native viewers each, for `seconds`. */
export async function runStreams(
  clip: string,
  sourceFps: number,
  streams: number,
  viewers: number,
  seconds: number,
): Promise<MultiStreamRow> {
  const names = Array.from({ length: streams }, (_, i) => `cam${i + 1}`);
  const server = spawnWithFds(process.execPath, [
    FRAMECAST,
    'serve',
    ...names.map((n) => `${n}=${clip}`),
    ...['--loop', '--width', '640', '--port', '0', '--http-port', 'off', '--json'],
  ]);
  const pid = server.pid as number;
  try {
    const m = await waitForLine(server, /"event":"listening".*?"port":(\d+)/, 20_000);
    server.stdout?.resume();
    const port = m[1] as string;
    const ffmpegCpu = (): number => childPids(pid).reduce((a, c) => a + treeCpuMs(c), 0);
    let started = 0;
    let windowStart: { t: number; cpu: number; ff: number } | null = null;
    let windowEnd: { t: number; cpu: number; ff: number; rss: number } | null = null;
    const runs = names.map(
      (name) =>
        new Promise<LoadgenResult>((resolve, reject) => {
          const lg = spawnWithFds(
            process.execPath,
            [
              '--import',
              'tsx',
              LOADGEN,
              '--port',
              port,
              '--clients',
              String(viewers),
              '--stream',
              name,
            ].concat(['--seconds', String(seconds), '--probes', '0', '--fps', String(sourceFps)]),
            undefined,
            ROOT,
          );
          let result: LoadgenResult | null = null;
          createInterface({ input: lg.stdout as NodeJS.ReadableStream }).on('line', (line) => {
            if (line.includes('"window-start"') && ++started === names.length)
              windowStart = { t: performance.now(), cpu: procSample(pid)?.cpuMs ?? 0, ff: ffmpegCpu() };
            else if (line.includes('"window-end"') && !windowEnd && windowStart) {
              const s = procSample(pid);
              windowEnd = {
                t: performance.now(),
                cpu: s?.cpuMs ?? 0,
                ff: ffmpegCpu(),
                rss: s?.rssBytes ?? 0,
              };
            } else if (line.startsWith('{"clients"')) result = JSON.parse(line) as LoadgenResult;
          });
          lg.once('exit', (code) =>
            code === 0 && result
              ? resolve(result)
              : reject(new Error(`load generator for ${name} failed (${code})`)),
          );
        }),
    );
    const results = await Promise.all(runs);
    const w0 = windowStart as { t: number; cpu: number; ff: number } | null;
    const w1 = windowEnd as { t: number; cpu: number; ff: number; rss: number } | null;
    if (!w0 || !w1) throw new Error('the load generators never shared a window');
    const secs = (w1.t - w0.t) / 1000;
    const fractions = results.flatMap((r) => r.fractions).sort((a, b) => a - b);
    const serverCores = (w1.cpu - w0.cpu) / 1000 / secs;
    const ffmpegCores = (w1.ff - w0.ff) / 1000 / secs;
    const p99s = results.map((r) => r.latencyMs?.p99 ?? NaN).filter((x) => Number.isFinite(x));
    return {
      streams,
      viewersPerStream: viewers,
      minFraction: fractions[0] ?? 0,
      medianFraction: fractions[Math.floor(fractions.length / 2)] ?? 0,
      publishedFps: results.map((r) => r.publishedFps),
      sourceFps,
      failed: results.reduce((n, r) => n + r.failed, 0),
      serverCores,
      ffmpegCores,
      coresPerStream: (serverCores + ffmpegCores) / streams,
      rssMB: w1.rss / 2 ** 20,
      latencyP99Ms: p99s.length ? Math.max(...p99s) : null,
    };
  } finally {
    await stop(server);
  }
}

/** One stream alone, then `streams` side by side, same clip and viewers. */
export async function multiStream(opts: {
  clip: string;
  /** The clip's own frame rate (what each stream should publish). */
  sourceFps: number;
  streams: number;
  seconds: number;
  log: (s: string) => void;
}): Promise<{ alone: MultiStreamRow; together: MultiStreamRow }> {
  const fmt = (r: MultiStreamRow): string =>
    `${r.streams} stream(s) x ${r.viewersPerStream} viewers: min ${(r.minFraction * 100).toFixed(1)}% of frames, ` +
    `published ${(r.publishedFps ?? []).join(', ')} of ${r.sourceFps} fps, ` +
    `${r.coresPerStream.toFixed(3)} cores per stream (server ${r.serverCores.toFixed(2)}, ffmpeg ${r.ffmpegCores.toFixed(2)})`;
  const alone = await runStreams(opts.clip, opts.sourceFps, 1, 10, opts.seconds);
  opts.log(fmt(alone));
  const together = await runStreams(opts.clip, opts.sourceFps, opts.streams, 10, opts.seconds);
  opts.log(fmt(together));
  return { alone, together };
}
