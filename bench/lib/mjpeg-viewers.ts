/**
 * MJPEG viewers over HTTP in one process (run by bench/renditions.ts, never in the server's), in
 * groups that each ask for a width (`?width=`) or the stream itself: each viewer parses the multipart
 * framing only (part headers; the JPEG is skipped without a copy), noting each part's
 * `X-Framecast-Seq` and its latency, receive time (the part's last byte) minus its `X-Timestamp`
 * (capture time; same host clock). The stream's /stats is read at the window's two ends.
 *
 *   tsx bench/lib/mjpeg-viewers.ts --port HTTP_PORT --stream NAME --groups 320:100,480:100,main:10
 *                                  [--seconds S]
 *
 * Prints `{"event":"window-start"}` and `{"event":"window-end"}` as the window opens and closes (the
 * orchestrator samples the server's CPU there), then one JSON line (MjpegViewersResult).
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { nowMs } from '../../src/util/clock.js';
import type { Percentiles } from '../loadgen.js';

/** One group of viewers: their width (null: the stream itself) and what they received. */
export interface MjpegGroupResult {
  width: number | null;
  viewers: number;
  connected: number;
  failed: number;
  /** Seqs (the source frame's) any viewer of the group received in the window, edges left out. */
  framesInWindow: number;
  /** Per viewer, its share of framesInWindow, sorted ascending. */
  fractions: number[];
  /** The size of the pictures received (from the first part's JPEG header). */
  pictureWidth: number | null;
  pictureHeight: number | null;
  meanBytes: number;
  latencyMs: Percentiles | null;
}

/** A rendition in /stats. */
export interface StatsRendition {
  width: number;
  quality: number;
  viewers: number;
  encoded: number;
  skipped: number;
  lastEncodeMs: number | null;
  /** How long after the stream's own frame the rendition's was out, its last 128 frames (absent in runs before 2026-12-07 23:15 UTC). */
  delayMs?: { p50: number; p99: number; samples: number } | null;
}

/** The parts of /stats the bench reads, at the window's start and end. */
export interface StatsSnapshot {
  framesIn: number;
  renditions: StatsRendition[];
}

/** What the viewers' process prints. */
export interface MjpegViewersResult {
  windowSeconds: number;
  groups: MjpegGroupResult[];
  statsStart: StatsSnapshot;
  statsEnd: StatsSnapshot;
  loadgenCores: number;
}

const { values: args } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    stream: { type: 'string', default: 'default' },
    groups: { type: 'string', default: '320:100,main:10' },
    seconds: { type: 'string', default: '5' },
  },
});
const host = args.host as string;
const port = Number(args.port);
const stream = args.stream as string;
const windowMs = Number(args.seconds) * 1000;
const groupSpecs = String(args.groups)
  .split(',')
  .map((g) => {
    const [w, n] = g.split(':');
    return { width: w === 'main' ? null : Number(w), viewers: Number(n) };
  });
if (!port || groupSpecs.some((g) => !g.viewers)) throw new Error('usage: --port P --groups W:N,main:N');

/** Frames at each end of the window left out of the fractions: viewers are read at slightly different times. */
const EDGE = 5;
const CRLF2 = Buffer.from('\r\n\r\n');
const shared = Buffer.allocUnsafe(256 * 1024);
let measuring = false;

function percentiles(values: number[]): Percentiles | null {
  if (values.length === 0) return null;
  const s = Float64Array.from(values).sort();
  const at = (p: number): number => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] as number;
  const r = (x: number): number => Math.round(x * 100) / 100;
  return { p50: r(at(0.5)), p99: r(at(0.99)), max: r(s[s.length - 1] as number), samples: s.length };
}

/** The part headers read, compiled once (not per part: the load generator's own time is in the latency). */
const HEADER = {
  length: /^Content-Length:\s*(.+)$/im,
  seq: /^X-Framecast-Seq:\s*(.+)$/im,
  timestamp: /^X-Timestamp:\s*(.+)$/im,
};

/** A group's shared tallies. */
class Group {
  readonly width: number | null;
  readonly viewers: Viewer[] = [];
  readonly latency: number[] = [];
  minSeq = Infinity;
  maxSeq = -Infinity;
  bytes = 0;
  parts = 0;
  pictureWidth: number | null = null;
  pictureHeight: number | null = null;
  constructor(width: number | null) {
    this.width = width;
  }
}

/** One MJPEG viewer: HTTP response head, then parts (head, JPEG, boundary line). */
class Viewer {
  readonly group: Group;
  readonly socket: net.Socket;
  firstFrameAt = 0;
  closed = false;
  /** Window seqs received (each frame's seq is the source frame's, renditions included). */
  readonly seqs: number[] = [];
  #head = Buffer.alloc(0);
  #phase: 'response' | 'part' | 'body' = 'response';
  #skip = 0;
  #length = 0;
  #seq = 0;
  #captured = 0;
  #wantSize = false;
  #sizeBuf = Buffer.alloc(0);

  constructor(group: Group) {
    this.group = group;
    const q = group.width === null ? '' : `?width=${group.width}`;
    this.socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: { buffer: shared, callback: (n: number, buf: Uint8Array) => this.#onRead(n, buf) },
    } as net.NetConnectOpts);
    this.socket.on('error', () => {});
    this.socket.on('close', () => (this.closed = true));
    this.socket.write(`GET /streams/${stream}/stream.mjpg${q} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  }

  #onRead(n: number, buf: Uint8Array): boolean {
    try {
      this.#parse(Buffer.from(buf.buffer, buf.byteOffset, n));
    } catch (err) {
      process.stderr.write(`viewer: ${(err as Error).message}\n`);
      this.socket.destroy();
    }
    return true;
  }

  #parse(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.#phase === 'body') {
        const k = Math.min(this.#skip, chunk.length - off);
        if (this.#wantSize) this.#sizeBuf = Buffer.concat([this.#sizeBuf, chunk.subarray(off, off + k)]);
        this.#skip -= k;
        off += k;
        if (this.#skip === 0) this.#partDone();
        continue;
      }
      // Heads are small: found in the chunk itself, or gathered (their bytes only) across chunks.
      let text: string;
      if (this.#head.length === 0) {
        const end = chunk.indexOf(CRLF2, off);
        if (end < 0) {
          this.#head = Buffer.from(chunk.subarray(off));
          return;
        }
        text = chunk.toString('latin1', off, end);
        off = end + 4;
      } else {
        const before = this.#head.length;
        const take = chunk.subarray(off, Math.min(chunk.length, off + 4096));
        this.#head = Buffer.concat([this.#head, take]);
        const end = this.#head.indexOf(CRLF2, Math.max(0, before - 3));
        if (end < 0) {
          if (this.#head.length > 16 * 1024) throw new Error('head over 16 KiB');
          off += take.length;
          continue;
        }
        text = this.#head.toString('latin1', 0, end);
        off += end + 4 - before;
        this.#head = Buffer.alloc(0);
      }
      if (this.#phase === 'response') {
        if (!text.startsWith('HTTP/1.1 200')) throw new Error(`response ${text.split('\r\n')[0]}`);
        // The body opens with the first delimiter line; each part's head then follows its delimiter.
        this.#phase = 'part';
        continue;
      }
      this.#onPartHead(text);
    }
  }

  #onPartHead(text: string): void {
    // The delimiter line ("--framecast-frame") opens the first head; later ones end the part before.
    const h = (re: RegExp): string | undefined => re.exec(text)?.[1]?.trim();
    const length = Number(h(HEADER.length));
    if (!Number.isFinite(length)) throw new Error(`part without Content-Length: ${text.slice(0, 200)}`);
    this.#seq = Number(h(HEADER.seq));
    this.#captured = Number(h(HEADER.timestamp)) * 1000;
    this.#skip = length;
    this.#length = length;
    this.#wantSize = this.group.pictureWidth === null;
    this.#sizeBuf = Buffer.alloc(0);
    this.#phase = 'body';
  }

  #partDone(): void {
    const now = nowMs();
    this.#phase = 'part';
    if (this.firstFrameAt === 0) this.firstFrameAt = now;
    if (this.#wantSize) {
      this.#wantSize = false;
      const size = jpegSize(this.#sizeBuf);
      if (size) [this.group.pictureWidth, this.group.pictureHeight] = size;
    }
    if (!measuring) return;
    const g = this.group;
    g.latency.push(now - this.#captured);
    g.bytes += this.#length;
    g.parts++;
    this.seqs.push(this.#seq);
    if (this.#seq < g.minSeq) g.minSeq = this.#seq;
    if (this.#seq > g.maxSeq) g.maxSeq = this.#seq;
  }
}

/** A baseline JPEG's width and height (its SOF marker), or null. */
function jpegSize(b: Buffer): [number, number] | null {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return null;
    const marker = b[i + 1] as number;
    const len = b.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc3) return [b.readUInt16BE(i + 7), b.readUInt16BE(i + 5)];
    i += 2 + len;
  }
  return null;
}

async function stats(): Promise<StatsSnapshot> {
  const r = await fetch(`http://${host}:${port}/streams/${stream}/stats`);
  const j = (await r.json()) as { totals: { framesIn: number }; renditions?: StatsRendition[] };
  return { framesIn: j.totals.framesIn, renditions: j.renditions ?? [] };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function main(): Promise<void> {
  const groups = groupSpecs.map((g) => new Group(g.width));
  // Viewers join in turns across the groups, 50 every 20 ms.
  const order: Group[] = [];
  const most = Math.max(...groupSpecs.map((g) => g.viewers));
  for (let i = 0; i < most; i++)
    groupSpecs.forEach((g, k) => {
      if (i < g.viewers) order.push(groups[k] as Group);
    });
  for (let i = 0; i < order.length; i++) {
    const g = order[i] as Group;
    g.viewers.push(new Viewer(g));
    if (i % 50 === 49) await sleep(20);
  }
  const all = groups.flatMap((g) => g.viewers);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && all.some((v) => v.firstFrameAt === 0 && !v.closed)) await sleep(50);
  await sleep(1000);
  const statsStart = await stats();
  const cpu0 = process.cpuUsage();
  const t0 = nowMs();
  process.stdout.write('{"event":"window-start"}\n');
  measuring = true;
  await sleep(windowMs);
  measuring = false;
  process.stdout.write('{"event":"window-end"}\n');
  const seconds = (nowMs() - t0) / 1000;
  const used = process.cpuUsage(cpu0);
  const statsEnd = await stats();
  const ok = (v: Viewer): boolean => v.firstFrameAt > 0 && !v.closed;
  const out: MjpegGroupResult[] = groups.map((g) => {
    // The group's frames: every seq any of its viewers received, its first and last EDGE left out.
    const from = g.minSeq + EDGE;
    const to = g.maxSeq - EDGE;
    const union = new Set<number>();
    for (const v of g.viewers) for (const s of v.seqs) if (s >= from && s <= to) union.add(s);
    const fractions = g.viewers
      .map((v) => {
        if (!union.size) return 0;
        const mine = new Set(v.seqs.filter((s) => s >= from && s <= to));
        return mine.size / union.size;
      })
      .sort((a, b) => a - b);
    return {
      width: g.width,
      viewers: g.viewers.length,
      connected: g.viewers.filter(ok).length,
      failed: g.viewers.filter((v) => !ok(v)).length,
      framesInWindow: union.size,
      fractions,
      pictureWidth: g.pictureWidth,
      pictureHeight: g.pictureHeight,
      meanBytes: g.parts ? Math.round(g.bytes / g.parts) : 0,
      latencyMs: percentiles(g.latency),
    };
  });
  const result: MjpegViewersResult = {
    windowSeconds: Math.round(seconds * 1000) / 1000,
    groups: out,
    statsStart,
    statsEnd,
    loadgenCores: (used.user + used.system) / 1000 / (seconds * 1000),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
  for (const v of all) v.socket.destroy();
}

main().catch((err: unknown) => {
  process.stderr.write(`mjpeg-viewers: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
