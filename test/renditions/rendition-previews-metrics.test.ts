/**
 * Renditions as previews and as metrics: a passive viewer (`?passive=1&width=`, the grid's tiles and
 * the dashboard's preview) gets its size without ever starting the stream's source, and /metrics has
 * one series per rendition (viewers, frames encoded and skipped, last encode time).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/index.js';
import { openMjpeg } from '../helpers/mjpeg.js';
import { httpBase, openWs, parsePrometheus, sampleValue, until, type WsViewer } from '../http/support.js';

let server: FramecastServer | null = null;
const opened: WsViewer[] = [];
afterEach(async () => {
  for (const v of opened.splice(0)) v.ws.terminate();
  await server?.close();
  server = null;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function start(): Promise<string> {
  server = await serve({ port: 0, httpPort: 0, streams: [{ name: 'cam', source: 'test', width: 800 }] });
  return httpBase(server);
}

interface Stats {
  source: { state: string };
  monitors: { protocol: string }[];
  clients: unknown[];
  renditions: {
    width: number;
    viewers: number;
    encoded: number;
    passive: boolean;
    delayMs: { p50: number; p99: number; samples: number } | null;
  }[];
  totals: { transmissions: number };
}
const stats = async (base: string): Promise<Stats> =>
  (await (await fetch(`${base}/streams/cam/stats`)).json()) as Stats;

describe('renditions for previews and in /metrics', () => {
  it('a passive viewer at width=400 never starts the source, then gets 400-px frames while someone else watches', async () => {
    const base = await start();
    const ws = base.replace('http:', 'ws:');
    const a = openWs(`${ws}/streams/cam/ws?passive=1&width=400`, true);
    const b = openWs(`${ws}/streams/cam/ws?passive=1&width=410`, true); // the same rung: 400
    opened.push(a, b);
    await Promise.all([a.opened, b.opened]);
    await sleep(1000);
    let s = await stats(base);
    expect(s.source.state).toBe('idle');
    expect(s.totals.transmissions).toBe(0);
    expect(a.count + b.count).toBe(0);
    // Both previews are the stream's monitors (passive), served by one passive rendition.
    expect(s.monitors.map((m) => m.protocol)).toEqual(['ws-monitor', 'ws-monitor']);
    expect(s.clients).toEqual([]);
    expect(s.renditions.map((r) => [r.width, r.viewers, r.passive])).toEqual([[400, 2, true]]);

    const main = openMjpeg(`${base}/streams/cam/stream.mjpg`);
    await until(() => a.count > 15 && b.count > 15, 10_000, 'preview frames');
    main.close();
    expect(new Set(a.frames.map((f) => `${f.width}x${f.height}`))).toEqual(new Set(['400x225']));
    expect(new Set(b.frames.map((f) => `${f.width}x${f.height}`))).toEqual(new Set(['400x225']));
    // Encoded once per frame for both: the same bytes for the same seq.
    const bySeq = new Map(a.frames.map((f) => [f.seq, f.jpeg]));
    expect(b.frames.filter((f) => bySeq.get(f.seq)?.equals(f.jpeg)).length).toBeGreaterThan(10);
    // The source stops with its last (non-passive) viewer; the previews stay connected.
    await until(async () => (await stats(base)).source.state === 'idle', 5000, 'the source idle again');
    s = await stats(base);
    expect(s.totals.transmissions).toBe(1);
    expect(a.ws.readyState).toBe(a.ws.OPEN);
    const after = a.count;
    await sleep(800);
    expect(a.count - after).toBeLessThanOrEqual(1);
    // Closing the previews stops their rendition.
    a.ws.close();
    b.ws.close();
    await until(async () => (await stats(base)).renditions.length === 0, 5000, 'no rendition left');
  }, 30_000);

  it('/metrics has per-rendition series: a viewer at width=320 shows as viewers 1, frames encoded, last encode', async () => {
    const base = await start();
    const v = openMjpeg(`${base}/streams/cam/stream.mjpg?width=320`);
    try {
      await until(() => v.count > 20, 10_000, 'frames at 320');
      const samples = parsePrometheus(await (await fetch(`${base}/metrics`)).text());
      const labels = { stream: 'cam', width: '320', quality: '80', passive: '0' };
      expect(sampleValue(samples, 'framecast_rendition_viewers', labels)).toBe(1);
      expect(sampleValue(samples, 'framecast_rendition_frames_encoded_total', labels)).toBeGreaterThan(15);
      expect(sampleValue(samples, 'framecast_rendition_frames_skipped_total', labels)).toBeGreaterThanOrEqual(
        0,
      );
      const encode = sampleValue(samples, 'framecast_rendition_encode_seconds', labels) as number;
      expect(encode).toBeGreaterThan(0);
      expect(encode).toBeLessThan(1);
      // Behind the stream's own frame by at least its encode, far less than a second.
      const delay = sampleValue(samples, 'framecast_rendition_delay_seconds', labels) as number;
      expect(delay).toBeGreaterThan(0);
      expect(delay).toBeLessThan(1);
      const [st] = (await stats(base)).renditions;
      expect(st?.delayMs?.samples).toBeGreaterThan(10);
      expect(st?.delayMs?.p50).toBeGreaterThan(0);
      expect(st?.delayMs?.p99).toBeGreaterThanOrEqual(st?.delayMs?.p50 ?? Infinity);
      // One rendition, one series of each.
      expect(samples.filter((s) => s.name === 'framecast_rendition_viewers')).toHaveLength(1);
    } finally {
      v.close();
    }
    // Gone with its last viewer: its series disappear.
    await until(
      async () => !(await (await fetch(`${base}/metrics`)).text()).includes('framecast_rendition_viewers{'),
      5000,
      'the rendition series gone',
    );
  }, 30_000);
});
