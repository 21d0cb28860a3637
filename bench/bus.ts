/**
 * The NATS frame bus: one origin (`framecast serve test --bus`, the fan-out section's 30 fps 800x450
 * paced test pattern), one nats-server, and 1, 2 or 4 edges, each in its own process, with native
 * viewers split evenly across the edges, then as many viewers on the origin directly: the baseline.
 * The load generator runs in its own process; on the edges it counts frames against the origin's
 * (read from the bus here, matched by capture time), since an edge numbers frames itself. CPU of every
 * process comes from /proc over the load generator's window.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LoadgenResult, Percentiles } from './loadgen.js';
import { TEST_FPS } from './fanout.js';
import { tapOrigin, type BusTap } from './lib/bus-tap.js';
import { childPids, procSample, spawnWithFds, stop, treeCpuMs, waitForLine } from './lib/proc.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FRAMECAST = `${ROOT}bin/framecast`;
const LOADGEN = `${ROOT}bench/loadgen.ts`;
/** Every edge takes all its viewers at once (an edge serves 100 per stream by default). */
const EDGE_ARGS = ['--max-clients', '100000', '--json'];
/** Debian installs it in /usr/sbin (as test/helpers/nats.ts finds it). */
const NATS_SERVER = process.env['NATS_SERVER'] || '/usr/sbin/nats-server';
/** `framecast serve test` names its one stream `default`; frames go to PREFIX.s.NAME.frame. */
const FRAME_SUBJECT = 'framecast.s.default.frame';

/** One group of viewers (through the edges, or on the origin directly). */
export interface BusGroup {
  viewers: number;
  failed: number;
  /** Each viewer's share of the frames the origin published in the window: worst and mean. */
  minFraction: number;
  meanFraction: number;
  /**
   * Frames the origin published in the window and their rate (via edges: as the bus carried them;
   * directly: the seqs its viewers saw), against the test pattern's 30 fps. Absent in older results.
   */
  framesPublished?: number | null;
  publishedFps?: number | null;
  sourceFps?: number;
  /** Capture (frame out of the origin's ffmpeg) to receive. */
  latencyMs: Percentiles | null;
  /**
   * Where the latency goes, from the frames' own timestamps: capture to the serving process having the
   * JPEG (on the origin: encoded; on an edge: received from NATS, whole-ms clock), and to its write.
   */
  readyMs: Percentiles | null;
  sendMs: Percentiles | null;
  wireBytesPerFrame: number;
  loadgenCores: number;
}

/** One run: `edges` edges with `viewersPerEdge` viewers each, and as many on the origin. */
export interface BusRow {
  edges: number;
  viewersPerEdge: number;
  viaEdges: BusGroup;
  direct: BusGroup;
  /** CPU of each edge process, in cores. */
  edgeCores: number[];
  /** While the edges' viewers watch: the origin process (encoding, publishing) and its ffmpeg. */
  originCores: number;
  ffmpegCores: number;
  natsCores: number;
  /** The origin process serving the same number of viewers itself (the baseline's window). */
  originDirectCores: number;
  /** The window of the viewers through the edges, in seconds. */
  windowSeconds: number;
}

/** The bus section: the rows and the nats-server they ran against. */
export interface BusRows {
  natsVersion: string;
  rows: BusRow[];
}

/** True when nats-server runs here. */
export function natsServerAvailable(): boolean {
  return spawnSync(NATS_SERVER, ['--version'], { encoding: 'utf8' }).status === 0;
}

/** Starts nats-server on a free loopback port; resolves with it and its URL once it accepts clients. */
async function startNats(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawnWithFds(NATS_SERVER, ['-a', '127.0.0.1', '-p', '-1']);
  child.stdout?.resume();
  const url = await new Promise<string>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`nats-server did not start: ${log}`)), 10_000);
    child.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${log}`)));
    child.stderr?.on('data', (d: Buffer) => {
      log += d.toString();
      const m = /Listening for client connections on ([\d.]+:\d+)/.exec(log);
      if (m && /Server is ready/.test(log)) {
        clearTimeout(timer);
        resolve(`nats://${m[1]}`);
      }
    });
  });
  return { child, url };
}

/** Runs the load generator; calls `mark` at its window lines; resolves with its result. */
function loadgen(args: string[], mark: (which: 'start' | 'end') => void): Promise<LoadgenResult> {
  const lg = spawnWithFds(process.execPath, ['--import', 'tsx', LOADGEN, ...args], undefined, ROOT);
  let stderr = '';
  lg.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  let result: LoadgenResult | null = null;
  createInterface({ input: lg.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    if (line.includes('"window-start"')) mark('start');
    else if (line.includes('"window-end"')) mark('end');
    else if (line.startsWith('{"clients"')) result = JSON.parse(line) as LoadgenResult;
  });
  return new Promise((resolve, reject) =>
    lg.once('exit', (code) =>
      code === 0 && result
        ? resolve(result)
        : reject(new Error(`load generator failed (${code}): ${stderr}`)),
    ),
  );
}

function group(r: LoadgenResult): BusGroup {
  const f = r.fractions;
  return {
    viewers: r.clients,
    failed: r.failed,
    minFraction: f[0] ?? 0,
    meanFraction: f.length ? f.reduce((a, x) => a + x, 0) / f.length : 0,
    framesPublished: r.framesPublished,
    publishedFps: r.publishedFps,
    sourceFps: r.sourceFps,
    latencyMs: r.latencyMs,
    readyMs: r.encodeMs,
    sendMs: r.sendMs,
    wireBytesPerFrame: r.wireBytesPerFrame,
    loadgenCores: r.loadgenCores,
  };
}

/** CPU (ms) of every process that matters, at one instant. */
interface CpuMark {
  t: number;
  edges: number[];
  origin: number;
  ffmpeg: number;
  nats: number;
}

/** A load generator's run, and the CPU of the processes over its window. */
async function measured(
  args: string[],
  sample: () => CpuMark,
  onMark: (which: 'start' | 'end') => void = () => {},
): Promise<{ result: LoadgenResult; cores: (pick: (m: CpuMark) => number) => number; secs: number }> {
  let w0: CpuMark | null = null;
  let w1: CpuMark | null = null;
  const result = await loadgen(args, (which) => {
    if (which === 'start') w0 = sample();
    else w1 = sample();
    onMark(which);
  });
  const a = w0 as CpuMark | null;
  const b = w1 as CpuMark | null;
  if (!a || !b) throw new Error('the load generator never reported its window');
  const secs = (b.t - a.t) / 1000;
  return { result, secs, cores: (pick) => (pick(b) - pick(a)) / 1000 / secs };
}

/**
 * One row against a running origin and nats-server: the viewers through the edges, then the same
 * number on the origin directly (back to back, so each window has the same number of viewers on
 * this machine, and the origin's bus publishing does not wait behind its own direct viewers).
 */
async function runRow(
  env: { natsUrl: string; natsPid: number; originPid: number; originPort: string },
  edges: number,
  viewersPerEdge: number,
  seconds: number,
): Promise<BusRow> {
  const procs = Array.from({ length: edges }, () =>
    spawnWithFds(
      process.execPath,
      [FRAMECAST, 'edge', '--bus', env.natsUrl, ...['--port', '0', '--http-port', 'off'], ...EDGE_ARGS],
      undefined,
      ROOT,
    ),
  );
  const sample = (): CpuMark => ({
    t: performance.now(),
    edges: procs.map((p) => procSample(p.pid as number)?.cpuMs ?? 0),
    origin: procSample(env.originPid)?.cpuMs ?? 0,
    ffmpeg: childPids(env.originPid).reduce((a, c) => a + treeCpuMs(c), 0),
    nats: procSample(env.natsPid)?.cpuMs ?? 0,
  });
  const n = edges * viewersPerEdge;
  const common = ['--clients', String(n), '--seconds', String(seconds), '--probes', '0'];
  common.push('--fps', String(TEST_FPS));
  let bus: Awaited<ReturnType<typeof measured>>;
  const dir = mkdtempSync(join(tmpdir(), 'framecast-bus-'));
  const originFrames = join(dir, 'origin-frames.json');
  let tap: BusTap | null = null;
  try {
    const ports = await Promise.all(
      procs.map(async (p) => {
        const m = await waitForLine(p, /"event":"listening".*?"port":(\d+)/, 30_000);
        p.stdout?.resume();
        return m[1] as string;
      }),
    );
    const t = await tapOrigin(env.natsUrl, FRAME_SUBJECT);
    tap = t;
    bus = await measured(
      ['--port', ports.join(','), ...common, '--origin-frames', originFrames],
      sample,
      (w) => (w === 'start' ? t.open() : t.write(originFrames)),
    );
  } finally {
    await tap?.close();
    await Promise.all(procs.map((p) => stop(p)));
    rmSync(dir, { recursive: true, force: true });
  }
  const direct = await measured(['--port', env.originPort, ...common], sample);
  return {
    edges,
    viewersPerEdge,
    viaEdges: group(bus.result),
    direct: group(direct.result),
    edgeCores: procs.map((_, i) => bus.cores((m) => m.edges[i] ?? 0)),
    originCores: bus.cores((m) => m.origin),
    ffmpegCores: bus.cores((m) => m.ffmpeg),
    natsCores: bus.cores((m) => m.nats),
    originDirectCores: direct.cores((m) => m.origin),
    windowSeconds: bus.secs,
  };
}

/**
 * Every row: `plan` lists [edges, viewers per edge]. One nats-server and one origin serve them all;
 * each row starts its own edges.
 */
export async function busRows(opts: {
  plan: [number, number][];
  seconds: number;
  log: (s: string) => void;
}): Promise<BusRows> {
  const version = spawnSync(NATS_SERVER, ['--version'], { encoding: 'utf8' });
  if (version.status !== 0)
    throw new Error(`the bus section needs nats-server (${NATS_SERVER}): apt-get install nats-server`);
  const nats = await startNats();
  let origin: ChildProcess | null = null;
  try {
    origin = spawnWithFds(process.execPath, [
      FRAMECAST,
      ...['serve', 'test', '--bus', nats.url],
      ...['--port', '0', '--http-port', 'off', '--max-clients', '100000', '--json'],
    ]);
    const m = await waitForLine(origin, /"event":"listening".*?"port":(\d+)/, 20_000);
    origin.stdout?.resume();
    const env = {
      natsUrl: nats.url,
      natsPid: nats.child.pid as number,
      originPid: origin.pid as number,
      originPort: m[1] as string,
    };
    const rows: BusRow[] = [];
    for (const [edges, perEdge] of opts.plan) {
      const row = await runRow(env, edges, perEdge, opts.seconds);
      const v = row.viaEdges;
      const d = row.direct;
      opts.log(
        `bus: ${edges} edge(s) x ${perEdge} viewers: min ${(v.minFraction * 100).toFixed(1)}% ` +
          `(direct ${(d.minFraction * 100).toFixed(1)}%) of ${v.publishedFps ?? '-'} (direct ${d.publishedFps ?? '-'}) fps published, latency p50/p99 ${v.latencyMs?.p50}/${v.latencyMs?.p99} ms ` +
          `(direct ${d.latencyMs?.p50}/${d.latencyMs?.p99}), edges ${row.edgeCores.map((c) => c.toFixed(2)).join(' ')} cores, ` +
          `origin ${row.originCores.toFixed(2)} + ffmpeg ${row.ffmpegCores.toFixed(2)} (serving them itself ` +
          `${row.originDirectCores.toFixed(2)}), nats ${row.natsCores.toFixed(3)}, ` +
          `window ${row.windowSeconds.toFixed(1)} s; ready p50/p99 ${v.readyMs?.p50}/${v.readyMs?.p99} ` +
          `(direct ${d.readyMs?.p50}/${d.readyMs?.p99}), written ${v.sendMs?.p50}/${v.sendMs?.p99} ` +
          `(direct ${d.sendMs?.p50}/${d.sendMs?.p99}) ms`,
      );
      rows.push(row);
    }
    return { natsVersion: version.stdout.trim(), rows };
  } finally {
    if (origin) await stop(origin);
    await stop(nats.child);
  }
}
