/** Shared bits of the HTTP tests: URLs, JSON fetches, WebSocket frames, Prometheus text parsing. */
import { WebSocket } from 'ws';
import type { FramecastServer } from '../../src/app/serve.js';

/** `http://127.0.0.1:PORT` of a server's HTTP transport. */
export function httpBase(server: FramecastServer): string {
  const a = server.httpAddress();
  if (!a) throw new Error('HTTP is off');
  return `http://127.0.0.1:${a.port}`;
}

/** GET + JSON. */
export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** Resolves once `cond()` holds (polled every 25 ms), rejects after `timeoutMs`. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A decoded native FRAME message. */
export interface WsFrame {
  type: number;
  headerLength: number;
  seq: number;
  width: number;
  height: number;
  capturedAt: number;
  jpeg: Buffer;
}

/** Decodes one binary WebSocket message per the native FRAME layout (docs/PROTOCOL.md). */
export function decodeWsFrame(msg: Buffer): WsFrame {
  const headerLength = msg.readUInt16BE(2);
  const bodyLength = msg.readUInt32BE(4);
  return {
    type: msg.readUInt8(0),
    headerLength,
    seq: msg.readUInt32BE(8),
    width: msg.readUInt16BE(12),
    height: msg.readUInt16BE(14),
    capturedAt: msg.readDoubleBE(16),
    jpeg: msg.subarray(8 + headerLength, 8 + headerLength + bodyLength),
  };
}

/** A WebSocket viewer that counts (and optionally keeps) frames. */
export interface WsViewer {
  ws: WebSocket;
  frames: WsFrame[];
  readonly count: number;
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens a WebSocket viewer on `url`. */
export function openWs(url: string, keep = false, headers: Record<string, string> = {}): WsViewer {
  const ws = new WebSocket(url, { headers, perMessageDeflate: false });
  const frames: WsFrame[] = [];
  let count = 0;
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return;
    count++;
    if (keep) frames.push(decodeWsFrame(data as Buffer));
  });
  const opened = new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
  });
  opened.catch(() => {});
  const closed = new Promise<{ code: number; reason: string }>((res) =>
    ws.once('close', (code, reason) => res({ code, reason: reason.toString() })),
  );
  return {
    ws,
    frames,
    get count() {
      return count;
    },
    opened,
    closed,
  };
}

/** One sample of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses Prometheus text exposition (format 0.0.4) strictly: every line is blank, a `# HELP`/`# TYPE`
 * comment, or `name{label="v",...} value`; anything else throws.
 */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').split(',').filter(Boolean)) {
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"$/.exec(l);
      if (!lm) throw new Error(`bad label ${l} in ${line}`);
      labels[lm[1] as string] = lm[2] as string;
    }
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    if (Number.isNaN(value)) throw new Error(`bad value in ${line}`);
    out.push({ name: m[1] as string, labels, value });
  }
  return out;
}

/** The value of the sample `name` whose labels include `labels`, or undefined. */
export function sampleValue(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}
