/**
 * Load generator: N viewers over TCP in one process, each counting the frames it receives.
 * Run by bench/fanout.ts in its own process (never inside the server's). Every socket reads into one
 * shared buffer (net's onread) and parses only the framing, so a viewer costs a few hundred bytes here.
 *
 *   tsx bench/loadgen.ts --port P --clients N [--protocol native|legacy] [--seconds S]
 *                        [--slow K] [--slow-factor 4] [--slow-ack 1] [--fps 30] [--ramp 2000] [--probes 5]
 *                        [--native-watchers K] [--stream NAME] [--origin-frames FILE]
 *
 * --port P1,P2,... spreads the viewers over several servers (round robin), e.g. the edges of a bus.
 * --origin-frames FILE counts frames against an origin's: an edge numbers frames itself, so a frame
 * lost between the origin and an edge would not show as a gap in the edge's seqs. After the window
 * the load generator waits for FILE (JSON {"window": [minSeq, maxSeq], "frames": [[seq, capturedAt],
 * ...]}, written by whoever read the origin's frames from the bus) and matches each viewer's frames
 * to the origin's by capture time. Reading the bus in this process measured 0.4-0.7 ms more latency
 * at p50 (its messages arrive with the viewers' frames, on the same event loop).
 *
 * --native-watchers K adds K native viewers to N viewers of --protocol legacy (mixed load): latency
 * and fractions are then those of the native viewers, which alone carry timestamps.
 * Slow native viewers acknowledge each frame as they read it (hello flag Ack) unless --slow-ack 0.
 *
 * Prints one JSON line (LoadgenResult) on stdout when done.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { HelloFlag, encodeAck, encodeHello } from '../src/protocol/native.js';
import { nowMs } from '../src/util/clock.js';

/** What the load generator reports. */
export interface LoadgenResult {
  clients: number;
  connected: number;
  /** Viewers that got no frame before the window started, or lost their connection. */
  failed: number;
  windowSeconds: number;
  /**
   * Frames the server published during the window, from the sequence numbers viewers saw (or the
   * origin's, with --origin-frames); null for seed framing alone, which carries none.
   */
  framesPublished: number | null;
  /** framesPublished per second of the window: what the server sent, against the source's --fps. */
  publishedFps: number | null;
  /** The source's frame rate given as --fps (the rate a server keeping up would publish). */
  sourceFps: number;
  /** Frames per second of the best-served normal viewer: seed framing's reference for its fractions. */
  bestViewerFps: number;
  /** What the fractions are shares of: sequence numbers, or the best-served viewer's count (seed framing). */
  fractionsOf: 'seq' | 'best-viewer';
  /** Per normal viewer, received / published during the window, sorted ascending. */
  fractions: number[];
  slow: { clients: number; fps: number; latencyMs: Percentiles | null };
  latencyMs: Percentiles | null;
  /** Capture to JPEG ready, and capture to the server's write, for normal viewers (native only). */
  encodeMs: Percentiles | null;
  sendMs: Percentiles | null;
  ttffMs: Percentiles | null;
  /** Mean bytes on the wire per frame (framing included). */
  wireBytesPerFrame: number;
  /** Time to first frame of viewers joining the running stream (legacy includes the ~100 ms hello grace). */
  joinTtffMs?: { native: Percentiles | null; legacy: Percentiles | null };
  /** CPU the load generator itself used during the window, in cores. */
  loadgenCores: number;
}

/** Percentiles of a sample, in ms. */
export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

function percentiles(values: Float64Array | number[]): Percentiles | null {
  if (values.length === 0) return null;
  const s = Float64Array.from(values).sort();
  const at = (p: number): number => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] as number;
  const r = (x: number): number => Math.round(x * 100) / 100;
  return { p50: r(at(0.5)), p99: r(at(0.99)), max: r(s[s.length - 1] as number), samples: s.length };
}

/** Latency samples kept per group (enough for p99 over a 10 s window of 1000 viewers). */
class Samples {
  readonly values = new Float64Array(2_000_000);
  length = 0;
  add(v: number): void {
    if (this.length < this.values.length) this.values[this.length++] = v;
  }
  get view(): Float64Array {
    return this.values.subarray(0, this.length);
  }
}

const { values: args } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    clients: { type: 'string', default: '100' },
    protocol: { type: 'string', default: 'native' },
    seconds: { type: 'string', default: '5' },
    slow: { type: 'string', default: '0' },
    'slow-factor': { type: 'string', default: '4' },
    'slow-ack': { type: 'string', default: '1' },
    fps: { type: 'string', default: '30' },
    ramp: { type: 'string', default: '2000' },
    probes: { type: 'string', default: '5' },
    'native-watchers': { type: 'string', default: '0' },
    stream: { type: 'string' },
    'origin-frames': { type: 'string' },
    meta: { type: 'string', default: '0' },
  },
});
const host = args.host as string;
const ports = String(args.port ?? '')
  .split(',')
  .map(Number)
  .filter((p) => p > 0);
const total = Number(args.clients);
const slowCount = Number(args.slow);
const native = args.protocol === 'native';
const fps = Number(args.fps);
const slowAck = args['slow-ack'] !== '0';
const slowDelayMs = (Number(args['slow-factor']) * 1000) / fps;
const rampPerSec = Number(args.ramp);
const windowMs = Number(args.seconds) * 1000;
const probes = Number(args.probes);
const nativeWatchers = Number(args['native-watchers']);
/** A named stream to watch (native viewers only: a version-2 hello), or the server's default. */
const streamName = args.stream ?? null;
/** --meta 1: native viewers ask for each frame's metadata (hello flag Meta); META messages are skipped. */
const metaFlag = args.meta === '1' ? HelloFlag.Meta : 0;
/** Whose latency and fractions are reported: the native watchers in a mixed load, else every viewer. */
const measured = (v: Viewer): boolean => !v.slow && (nativeWatchers === 0 || v.native);
if (ports.length === 0 || !total) throw new Error('usage: loadgen --port P[,P2...] --clients N');
/** Counting against the origin's frames on the bus (see the head of this file). */
const originFrames = args['origin-frames'] ?? null;
const tapping = originFrames !== null;

let measuring = false;
let minSeq = Infinity;
let maxSeq = -Infinity;
/** Seqs are recorded relative to this (first seq seen in the window minus a margin for laggards). */
let seqBase = -1;
const SEQ_SLOTS = 4096;
/** Frames at each end of the window left out of the fractions: viewers are read at slightly different times. */
const EDGE = 5;
const latency = new Samples();
const slowLatency = new Samples();
// Where the latency goes (server clock, same host): capture -> JPEG ready, capture -> handed to the socket.
const encodeDelay = new Samples();
let wireBytes = 0;
let wireFrames = 0;
const sendDelay = new Samples();
const shared = Buffer.allocUnsafe(256 * 1024);

/** One viewer: a framing parser that skips payloads without copying them. */
class Viewer {
  readonly slow: boolean;
  readonly native: boolean;
  readonly startedAt = nowMs();
  firstFrameAt = 0;
  frames = 0;
  windowFrames = 0;
  /** Which seqs (relative to seqBase) this viewer received during the window. */
  readonly seen = new Uint8Array(SEQ_SLOTS);
  /** With --bus: capture times of the frames received during the window, matched to seqs at the end. */
  readonly captured = tapping ? new Float64Array(SEQ_SLOTS) : null;
  capturedCount = 0;
  closed = false;
  socket: net.Socket;
  // Parser state: bytes still to skip in the current body, and the small head being assembled.
  #skip = 0;
  readonly #head = Buffer.allocUnsafe(96);
  #headFill = 0;
  #headWant: number;
  #phase: 'preamble' | 'envelope' | 'header' | 'body' = 'envelope';
  #type = 0;
  #bodyLength = 0;
  #seq = 0;
  readonly #acks: boolean;

  constructor(slow: boolean, nativeProtocol = native, port = ports[0] as number) {
    this.slow = slow;
    this.native = nativeProtocol;
    this.#headWant = this.native ? 8 : 4;
    if (this.native) this.#phase = 'preamble';
    this.socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: slow ? Buffer.allocUnsafe(16 * 1024) : shared,
        callback: (n: number, buf: Uint8Array) => this.#onRead(n, buf),
      },
    } as net.NetConnectOpts);
    this.socket.on('error', () => {});
    this.socket.on('close', () => (this.closed = true));
    this.#acks = this.native && slow && slowAck;
    if (this.native)
      this.socket.write(
        encodeHello('', nowMs(), undefined, (this.#acks ? HelloFlag.Ack : 0) | metaFlag, streamName),
      );
  }

  #onRead(n: number, buf: Uint8Array): boolean {
    try {
      return this.#parse(n, buf);
    } catch {
      this.socket.destroy();
      return false;
    }
  }

  #parse(n: number, buf: Uint8Array): boolean {
    const chunk = Buffer.from(buf.buffer, buf.byteOffset, n);
    const before = this.frames;
    let off = 0;
    while (off < n) {
      if (this.#skip > 0) {
        const k = Math.min(this.#skip, n - off);
        this.#skip -= k;
        off += k;
        if (this.#skip === 0 && this.#phase === 'body') this.#frameDone();
        continue;
      }
      const k = Math.min(this.#headWant - this.#headFill, n - off);
      chunk.copy(this.#head, this.#headFill, off, off + k);
      this.#headFill += k;
      off += k;
      if (this.#headFill < this.#headWant) break;
      this.#headFill = 0;
      if (this.#onHead()) this.#frameDone();
    }
    const done = this.frames - before;
    if (!this.slow || done === 0) return true;
    // A slow viewer takes `slow-factor` frame intervals per frame it reads: stop reading meanwhile.
    setTimeout(() => this.socket.resume(), slowDelayMs * done);
    return false;
  }

  /** A complete head arrived; returns true when a whole (empty-bodied) frame completed. */
  #onHead(): boolean {
    const h = this.#head;
    if (!this.native) {
      this.#skip = h.readUInt32BE(0);
      if (measuring) {
        wireBytes += 4 + this.#skip;
        wireFrames++;
      }
      this.#phase = 'body';
      return this.#skip === 0;
    }
    switch (this.#phase) {
      case 'preamble':
        // A hello that reached a loaded server after its grace period gets the seed framing instead.
        if (h.toString('latin1', 0, 4) !== 'FCST')
          throw new Error('no native preamble (taken for a seed client)');
        this.#phase = 'envelope';
        this.#headWant = 8;
        return false;
      case 'envelope':
        this.#type = h.readUInt8(0);
        this.#bodyLength = h.readUInt32BE(4);
        this.#headWant = h.readUInt16BE(2);
        this.#phase = 'header';
        if (this.#headWant === 0) return this.#onHead();
        if (this.#headWant > this.#head.length) throw new Error(`header of ${this.#headWant} bytes`);
        return false;
      case 'header':
        if (this.#type === 2) {
          const seq = h.readUInt32BE(0);
          this.#seq = seq;
          const capturedAt = h.readDoubleBE(8);
          if (measuring && this.captured) {
            if (this.capturedCount < SEQ_SLOTS) this.captured[this.capturedCount++] = capturedAt;
          } else if (measuring) {
            // The window's frames are what normal viewers saw: slow ones may read old frames.
            if (!this.slow && seq < minSeq) minSeq = seq;
            if (!this.slow && seq > maxSeq) maxSeq = seq;
            if (seqBase < 0) seqBase = Math.max(0, seq - 64);
            const slot = seq - seqBase;
            if (slot >= 0 && slot < SEQ_SLOTS) this.seen[slot] = 1;
          }
          if (measuring) {
            (this.slow ? slowLatency : latency).add(nowMs() - capturedAt);
            wireBytes += 8 + this.#headWant + this.#bodyLength;
            wireFrames++;
            if (!this.slow) {
              encodeDelay.add(h.readDoubleBE(16) - capturedAt);
              sendDelay.add(h.readDoubleBE(24) - capturedAt);
            }
          }
        }
        this.#skip = this.#bodyLength;
        this.#headWant = 8;
        this.#phase = this.#type === 2 ? 'body' : 'envelope';
        if (this.#skip === 0) this.#phase = 'envelope';
        return false;
      default:
        return false;
    }
  }

  #frameDone(): void {
    this.#phase = 'envelope';
    this.#headWant = this.native ? 8 : 4;
    this.frames++;
    if (this.#acks) this.socket.write(encodeAck(this.#seq));
    if (this.firstFrameAt === 0) this.firstFrameAt = nowMs();
    if (measuring) this.windowFrames++;
  }
}

/** The origin's frames: its window's seqs, and each frame's seq by capture time. */
interface OriginFrames {
  window: [number, number];
  frames: [number, number][];
}

/** Waits (up to 10 s) for the origin's frames to be written to `file`. */
async function readOriginFrames(file: string): Promise<OriginFrames> {
  for (let i = 0; i < 200 && !existsSync(file); i++) await sleep(50);
  return JSON.parse(readFileSync(file, 'utf8')) as OriginFrames;
}

/** Marks each viewer's window frames by the origin's seq (found by capture time). */
function matchOriginFrames(viewers: Viewer[], origin: OriginFrames): void {
  const [originMin, originMax] = origin.window;
  if (originMax < originMin) return;
  const originSeq = new Map(origin.frames.map(([seq, capturedAt]) => [capturedAt, seq]));
  minSeq = originMin;
  maxSeq = originMax;
  seqBase = Math.max(0, originMin - 64);
  for (const v of viewers) {
    if (!v.captured) continue;
    for (let i = 0; i < v.capturedCount; i++) {
      const seq = originSeq.get(v.captured[i] as number);
      const slot = seq === undefined ? -1 : seq - seqBase;
      if (slot >= 0 && slot < SEQ_SLOTS) v.seen[slot] = 1;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function main(): Promise<void> {
  const viewers: Viewer[] = [];
  const batch = Math.max(1, Math.round(rampPerSec / 100));
  for (let i = 0; i < total; i += batch) {
    for (let j = i; j < Math.min(total, i + batch); j++)
      viewers.push(new Viewer(j >= total - slowCount, native, ports[j % ports.length]));
    await sleep(10);
  }
  // Mixed load: the native watchers join last, behind every seed viewer already being served.
  for (let i = 0; i < nativeWatchers; i++) viewers.push(new Viewer(false, true));
  // Everyone should be watching before the window opens (legacy viewers wait ~100 ms for their first frame).
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && viewers.some((v) => v.firstFrameAt === 0 && !v.closed)) await sleep(50);
  await sleep(500);
  const cpu0 = process.cpuUsage();
  const t0 = nowMs();
  // The orchestrator samples the server's CPU and memory at these two lines.
  process.stdout.write('{"event":"window-start"}\n');
  measuring = true;
  await sleep(windowMs);
  measuring = false;
  process.stdout.write('{"event":"window-end"}\n');
  const seconds = (nowMs() - t0) / 1000;
  const used = process.cpuUsage(cpu0);
  if (originFrames) matchOriginFrames(viewers, await readOriginFrames(originFrames));
  const bySeq = native || nativeWatchers > 0;
  const published = bySeq && maxSeq >= minSeq ? maxSeq - minSeq + 1 : null;
  // Native: each viewer's share of the frames published in the window minus its edges; legacy: count.
  const from = minSeq + EDGE - seqBase;
  const to = Math.min(SEQ_SLOTS - 1, maxSeq - EDGE - seqBase);
  // Legacy frames carry no sequence number: the reference is the best-served viewer's count.
  const best = Math.max(1, ...viewers.filter((v) => !v.slow).map((v) => v.windowFrames));
  const fraction = (v: Viewer): number => {
    if (!v.native) return v.windowFrames / best;
    if (to < from) return published ? Math.min(1, v.windowFrames / published) : 0;
    let got = 0;
    for (let i = from; i <= to; i++) got += v.seen[i] as number;
    return got / (to - from + 1);
  };
  const normal = viewers.filter(measured);
  const slow = viewers.filter((v) => v.slow);
  const ok = (v: Viewer): boolean => v.firstFrameAt > 0 && !v.closed;
  const result: LoadgenResult = {
    clients: total,
    connected: viewers.filter(ok).length,
    failed: viewers.filter((v) => !ok(v)).length,
    windowSeconds: Math.round(seconds * 1000) / 1000,
    framesPublished: published,
    publishedFps: published === null ? null : Math.round((published / seconds) * 100) / 100,
    sourceFps: fps,
    bestViewerFps: Math.round((best / seconds) * 100) / 100,
    fractionsOf: bySeq ? 'seq' : 'best-viewer',
    fractions: normal.map(fraction).sort((a, b) => a - b),
    slow: {
      clients: slow.length,
      fps: slow.length ? slow.reduce((a, v) => a + v.windowFrames, 0) / slow.length / seconds : 0,
      latencyMs: percentiles(slowLatency.view),
    },
    latencyMs: percentiles(latency.view),
    wireBytesPerFrame: wireFrames ? Math.round(wireBytes / wireFrames) : 0,
    encodeMs: percentiles(encodeDelay.view),
    sendMs: percentiles(sendDelay.view),
    ttffMs: percentiles(viewers.filter((v) => v.firstFrameAt > 0).map((v) => v.firstFrameAt - v.startedAt)),
    loadgenCores: (used.user + used.system) / 1000 / (seconds * 1000),
  };
  // Time to first frame for viewers joining the running stream, one at a time, each protocol.
  const joinMs = async (nativeProtocol: boolean): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < probes; i++) {
      const v = new Viewer(false, nativeProtocol);
      const end = Date.now() + 5000;
      while (v.firstFrameAt === 0 && !v.closed && Date.now() < end) await sleep(1);
      if (v.firstFrameAt > 0) out.push(v.firstFrameAt - v.startedAt);
      v.socket.destroy();
      await sleep(20);
    }
    return out;
  };
  result.joinTtffMs = { native: percentiles(await joinMs(true)), legacy: percentiles(await joinMs(false)) };
  process.stdout.write(JSON.stringify(result) + '\n');
  for (const v of viewers) v.socket.destroy();
}

main().catch((err: unknown) => {
  process.stderr.write(`loadgen: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
