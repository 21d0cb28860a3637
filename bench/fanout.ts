import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LoadgenResult, Percentiles } from './loadgen.js';
import { childPids, procSample, spawnWithFds, stop, treeCpuMs, waitForLine } from './lib/proc.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FRAMECAST = `${ROOT}bin/framecast`;
const LOADGEN = `${ROOT}bench/loadgen.ts`;
/** `framecast serve test`'s pattern: 30 fps. */
export const TEST_FPS = 30;

/** One fan-out run: N viewers of the 30 fps 800x450 test stream. */
export interface FanoutRow {
  viewers: number;
  slowViewers: number;
  protocol: string;
  connected: number;
  failed: number;
  /**
   * Fraction of the published frames each normal viewer received: worst and median. Native viewers
   * count sequence numbers; seed framing alone (no seqs) counts against the best-served viewer.
   */
  minFraction: number;
  medianFraction: number;
  /** What the fractions are shares of (absent in older results). */
  fractionsOf?: LoadgenResult['fractionsOf'];
  /**
   * Frames the server published in the window and their rate, from sequence numbers (null for seed
   * framing alone), against the source's rate: a server publishing 10 of 30 fps reads 100% above
   * and 10 here. Absent in older results.
   */
  framesPublished?: number | null;
  publishedFps?: number | null;
  sourceFps?: number;
  /** The best-served normal viewer's frames per second (absent in older results). */
  bestViewerFps?: number;
  windowSeconds?: number;
  /** Server process CPU in cores (fan-out and JPEG encoding), and its ffmpeg's. */
  serverCores: number;
  ffmpegCores: number;
  loadgenCores: number;
  /** Server RSS before any viewer, and at the end of the window. */
  rssIdleMB: number;
  rssMB: number;
  /** Capture (frame out of ffmpeg) to receive, normal viewers; null for legacy (no timestamps). */
  latencyMs: Percentiles | null;
  slowLatencyMs: Percentiles | null;
  slowFps: number;
  ttffMs: Percentiles | null;
  wireBytesPerFrame: number;
  joinTtffMs: LoadgenResult['joinTtffMs'] | null;
}

/** Settings of one fan-out run. */
export interface FanoutRun {
  viewers: number;
  slow?: number;
  protocol?: 'native' | 'legacy';
  seconds: number;
  /** Slow native viewers acknowledge frames (default true); false shows the kernel-buffered lag. */
  slowAck?: boolean;
  /**
   * Native viewers added to `viewers` of `protocol` (mixed load, same load generator: a process of
   * their own measured worse, p50 2.1-2.3 ms against 1.5-1.9, one more process on 2 cores); latency
   * and frames received are theirs.
   */
  nativeWatchers?: number;
  /** Viewers connected per second (default 1000 for seed framing, 2000 native). */
  ramp?: number;
  /** More `framecast serve` options (e.g. --preload). */
  serverArgs?: string[];
  /** The server's sources (default `test`). */
  sources?: string[];
  /** Native viewers watch this stream (default: the server's default stream). */
  stream?: string;
  /** The source's frame rate (default 30: the test pattern's). */
  sourceFps?: number;
  /** Native viewers ask for each frame's metadata (hello flag Meta). */
  meta?: boolean;
  /** Started once the server listens (e.g. a publisher feeding it); stopped when the run ends. */
  feed?: (port: number) => Promise<() => Promise<void>>;
}

/**
 * Starts `framecast serve test` (30 fps, 1280x720 scaled to 800x450, paced) with room for every viewer,
 * runs the load generator in its own process, and samples the server's CPU and RSS from /proc at the
 * load generator's window marks.
 */
export async function runFanout(run: FanoutRun): Promise<FanoutRow> {
  const server = spawnWithFds(process.execPath, [
    FRAMECAST,
    'serve',
    ...(run.sources ?? ['test']),
    ...['--port', '0', '--http-port', 'off', '--max-clients', '100000', '--json'],
    ...(run.serverArgs ?? []),
  ]);
  const pid = server.pid as number;
  let unfeed: (() => Promise<void>) | null = null;
  try {
    const m = await waitForLine(server, /"event":"listening".*?"port":(\d+)/, 20_000);
    server.stdout?.resume();
    if (run.feed) unfeed = await run.feed(Number(m[1]));
    const idle = procSample(pid);
    const protocol = run.protocol ?? 'native';
    const loadgen = spawnWithFds(
      process.execPath,
      [
        ...['--import', 'tsx', LOADGEN, '--port', m[1] as string, '--clients', String(run.viewers)],
        ...['--protocol', protocol, '--seconds', String(run.seconds), '--slow', String(run.slow ?? 0)],
        ...['--ramp', String(run.ramp ?? (protocol === 'legacy' ? 1000 : 2000))],
        ...['--slow-ack', run.slowAck === false ? '0' : '1'],
        ...['--native-watchers', String(run.nativeWatchers ?? 0)],
        ...['--fps', String(run.sourceFps ?? TEST_FPS)],
        ...(run.stream ? ['--stream', run.stream] : []),
        ...(run.meta ? ['--meta', '1'] : []),
      ],
      undefined,
      ROOT,
    );
    let stderr = '';
    loadgen.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    let start: { t: number; cpu: number; ff: number } | null = null;
    let end: { t: number; cpu: number; ff: number; rss: number } | null = null;
    let result: LoadgenResult | null = null;
    const ffmpegCpu = (): number => childPids(pid).reduce((a, c) => a + treeCpuMs(c), 0);
    const rl = createInterface({ input: loadgen.stdout as NodeJS.ReadableStream });
    rl.on('line', (line) => {
      const now = performance.now();
      if (line.includes('"window-start"'))
        start = { t: now, cpu: procSample(pid)?.cpuMs ?? 0, ff: ffmpegCpu() };
      else if (line.includes('"window-end"')) {
        const s = procSample(pid);
        end = { t: now, cpu: s?.cpuMs ?? 0, ff: ffmpegCpu(), rss: s?.rssBytes ?? 0 };
      } else if (line.startsWith('{')) result = JSON.parse(line) as LoadgenResult;
    });
    const code = await new Promise<number | null>((resolve) => loadgen.once('exit', resolve));
    const r = result as LoadgenResult | null;
    const s0 = start as { t: number; cpu: number; ff: number } | null;
    const s1 = end as { t: number; cpu: number; ff: number; rss: number } | null;
    if (code !== 0 || !r || !s0 || !s1) throw new Error(`load generator failed (${code}): ${stderr}`);
    const secs = (s1.t - s0.t) / 1000;
    const f = r.fractions;
    return {
      viewers: run.viewers,
      slowViewers: run.slow ?? 0,
      protocol,
      connected: r.connected,
      failed: r.failed,
      minFraction: f[0] ?? 0,
      medianFraction: f[Math.floor(f.length / 2)] ?? 0,
      fractionsOf: r.fractionsOf,
      framesPublished: r.framesPublished,
      publishedFps: r.publishedFps,
      sourceFps: r.sourceFps,
      bestViewerFps: r.bestViewerFps,
      windowSeconds: r.windowSeconds,
      serverCores: (s1.cpu - s0.cpu) / 1000 / secs,
      ffmpegCores: (s1.ff - s0.ff) / 1000 / secs,
      loadgenCores: r.loadgenCores,
      rssIdleMB: (idle?.rssBytes ?? 0) / 2 ** 20,
      rssMB: s1.rss / 2 ** 20,
      latencyMs: r.latencyMs,
      slowLatencyMs: r.slow.latencyMs,
      slowFps: r.slow.fps,
      ttffMs: r.ttffMs,
      wireBytesPerFrame: r.wireBytesPerFrame,
      joinTtffMs: r.joinTtffMs ?? null,
    };
  } finally {
    await unfeed?.();
    await stop(server);
  }
}

/**
 * Only the slow-viewer row, with acknowledging slow viewers and again without (the lag the kernel's
 * socket buffers add), for `npm run bench -- --only slow`.
 */
export async function slowViewers(opts: {
  seconds: number;
  log: (s: string) => void;
}): Promise<{ slow: FanoutRow; slowNoAck: FanoutRow }> {
  const out: FanoutRow[] = [];
  for (const slowAck of [true, false]) {
    const row = await runFanout({ viewers: 110, slow: 10, seconds: opts.seconds, slowAck });
    opts.log(
      `slow viewers ${slowAck ? 'with' : 'without'} ACK: normal min ${(row.minFraction * 100).toFixed(1)}%, ` +
        `latency p50/p99 ${row.latencyMs?.p50 ?? '-'}/${row.latencyMs?.p99 ?? '-'} ms; slow ${row.slowFps.toFixed(1)} fps, ` +
        `p50/p99 ${row.slowLatencyMs?.p50 ?? '-'}/${row.slowLatencyMs?.p99 ?? '-'} ms, RSS ${row.rssMB.toFixed(0)} MB`,
    );
    out.push(row);
  }
  return { slow: out[0] as FanoutRow, slowNoAck: out[1] as FanoutRow };
}

/** The fan-out curve, latency at 1 viewer, and slow-viewer isolation. */
export async function fanout(opts: {
  viewers: number[];
  seconds: number;
  log: (s: string) => void;
}): Promise<{
  curve: FanoutRow[];
  single: FanoutRow;
  slow: FanoutRow;
  slowNoAck: FanoutRow;
  legacy: FanoutRow | null;
  burst: FanoutRow;
  mixed: FanoutRow;
}> {
  const fmt = (r: FanoutRow): string =>
    `${r.viewers}${r.slowViewers ? `+${r.slowViewers} slow` : ''} ${r.protocol}: min ${(r.minFraction * 100).toFixed(1)}% ` +
    `median ${(r.medianFraction * 100).toFixed(1)}%, published ${r.publishedFps ?? '-'} of ${r.sourceFps} fps, server ${r.serverCores.toFixed(2)} cores, ` +
    `RSS ${r.rssMB.toFixed(0)} MB, latency p50/p99 ${r.latencyMs?.p50 ?? '-'}/${r.latencyMs?.p99 ?? '-'} ms`;
  const single = await runFanout({ viewers: 1, seconds: opts.seconds });
  opts.log(`fan-out ${fmt(single)}`);
  const curve: FanoutRow[] = [];
  for (const n of opts.viewers) {
    const row = await runFanout({ viewers: n, seconds: opts.seconds });
    opts.log(`fan-out ${fmt(row)}`);
    curve.push(row);
  }
  const { slow, slowNoAck } = await slowViewers(opts);
  const legacy = await runFanout({ viewers: 1000, protocol: 'legacy', seconds: opts.seconds });
  opts.log(`fan-out ${fmt(legacy)}`);
  const { burst, mixed } = await crowdRows(opts);
  return { curve, single, slow, slowNoAck, legacy, burst, mixed };
}

/**
 * A reconnect storm (1000 seed clients opened as fast as one process can, on a running stream) and
 * a mixed audience (one native viewer whose latency is measured, among 100 seed viewers and 10 slow
 * seed viewers that do not acknowledge).
 */
export async function crowdRows(opts: {
  seconds: number;
  log: (s: string) => void;
}): Promise<{ burst: FanoutRow; mixed: FanoutRow }> {
  const burst = await runFanout({
    viewers: 1000,
    protocol: 'legacy',
    seconds: opts.seconds,
    ramp: 1_000_000,
    serverArgs: ['--preload'],
  });
  opts.log(
    `burst of 1000 seed clients: ${burst.connected} served, ${burst.failed} failed, ` +
      `first frame p50 ${burst.ttffMs?.p50 ?? '-'} ms, last ${burst.ttffMs?.max ?? '-'} ms`,
  );
  const mixed = await runFanout({
    viewers: 110,
    slow: 10,
    slowAck: false,
    protocol: 'legacy',
    nativeWatchers: 1,
    seconds: Math.max(10, opts.seconds),
  });
  opts.log(
    `mixed (1 native + 100 seed + 10 slow seed): native latency p50/p99 ` +
      `${mixed.latencyMs?.p50 ?? '-'}/${mixed.latencyMs?.p99 ?? '-'} ms`,
  );
  return { burst, mixed };
}
