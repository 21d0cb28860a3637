import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/app/serve.js';
import { jpegInfo, looksLikeJpeg } from '../../src/util/jpeg.js';
import { openMjpeg } from '../helpers/mjpeg.js';
import { killTracked } from '../helpers/processes.js';
import type { StatsReport } from '../../src/transports/http/stats.js';
import { getJson, httpBase, openWs, parsePrometheus, sampleValue, until } from './support.js';

const run = promisify(execFile);
const DELIMITER = Buffer.from('\r\n--framecast-frame\r\n', 'latin1');

let server: FramecastServer;
let base: string;

beforeAll(async () => {
  server = await serve({ source: 'test', port: 0, httpPort: 0 });
  base = httpBase(server);
});

afterAll(async () => {
  await server?.close();
  await killTracked();
});

/** Waits until nobody watches and the source stopped, so each test starts from idle. */
async function idle(): Promise<void> {
  await until(() => !server.hub.transmitting && server.hub.clients.length === 0, 5000, 'idle server');
}

describe('GET /stream.mjpg', () => {
  it('streams 800-px JPEG parts, no-cache, not chunked, each followed at once by the next boundary', async () => {
    await idle();
    const v = openMjpeg(`${base}/stream.mjpg`, { keep: true, raw: true });
    const headers = await v.headers;
    await until(() => v.count >= 15, 10_000, '15 MJPEG parts');
    v.close();
    expect(headers['content-type']).toBe('multipart/x-mixed-replace; boundary=framecast-frame');
    expect(headers['cache-control']).toContain('no-store');
    expect(headers['transfer-encoding']).toBeUndefined();
    const seqs = v.parts.map((p) => Number(p.headers['x-framecast-seq']));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    for (const p of v.parts.slice(0, 15)) {
      expect(p.headers['content-type']).toBe('image/jpeg');
      expect(looksLikeJpeg(p.body)).toBe(true);
      expect(jpegInfo(p.body)).toEqual({ width: 800, height: 450 });
      expect(Number(p.headers['x-timestamp'])).toBeGreaterThan(1.6e9);
    }
    // The uStreamer/Chrome rule: a frame's bytes and the delimiter that ends it leave together, so
    // the reads that end a burst end on a delimiter (with lazy delimiters none ever would).
    const endingOnDelimiter = v.raw.filter(
      (c) => c.length >= DELIMITER.length && c.subarray(-DELIMITER.length).equals(DELIMITER),
    );
    expect(endingOnDelimiter.length).toBeGreaterThanOrEqual(10);
  });

  it('is read by OpenCV cv2.VideoCapture (the seed client library)', async () => {
    await idle();
    const script = [
      'import cv2, json, sys',
      'cap = cv2.VideoCapture(sys.argv[1])',
      'n, shape = 0, None',
      'while n < 30:',
      '    ok, img = cap.read()',
      '    if not ok: break',
      '    n += 1; shape = list(img.shape)',
      'print(json.dumps({"opened": cap.isOpened(), "frames": n, "shape": shape}))',
    ].join('\n');
    const { stdout } = await run('/usr/bin/python3', ['-c', script, `${base}/stream.mjpg`], {
      timeout: 20_000,
    });
    expect(JSON.parse(stdout)).toEqual({ opened: true, frames: 30, shape: [450, 800, 3] });
  });

  it('is read by ffprobe as an 800x450 MJPEG stream', async () => {
    await idle();
    const { stdout } = await run(
      'ffprobe',
      [
        '-v',
        'error',
        '-read_intervals',
        '%+#5',
        '-select_streams',
        'v:0',
        '-show_entries',
        'stream=codec_name,width,height',
        '-of',
        'json',
        `${base}/stream.mjpg`,
      ],
      { timeout: 20_000 },
    );
    const stream = (JSON.parse(stdout) as { streams: Record<string, unknown>[] }).streams[0];
    expect(stream).toMatchObject({ codec_name: 'mjpeg', width: 800, height: 450 });
  });
});

describe('GET /snapshot.jpg', () => {
  it('starts the source when nobody watches, returns one 800-px JPEG, and lets the source stop again', async () => {
    await idle();
    const before = server.hub.totals.transmissions;
    const res = await fetch(`${base}/snapshot.jpg`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.headers.get('cache-control')).toContain('no-store');
    const jpeg = Buffer.from(await res.arrayBuffer());
    expect(looksLikeJpeg(jpeg)).toBe(true);
    expect(jpegInfo(jpeg)?.width).toBe(800);
    expect(Number(res.headers.get('content-length'))).toBe(jpeg.length);
    expect(server.hub.totals.transmissions).toBe(before + 1);
    await idle(); // the snapshot's transmission ended by itself
  });

  it('returns the newest frame of a running transmission without starting another', async () => {
    await idle();
    const v = openMjpeg(`${base}/stream.mjpg`);
    await until(() => v.count >= 3, 10_000, 'MJPEG frames');
    const transmissions = server.hub.totals.transmissions;
    const res = await fetch(`${base}/snapshot.jpg`);
    const seq = Number(res.headers.get('x-framecast-seq'));
    expect(res.status).toBe(200);
    expect(seq).toBeGreaterThanOrEqual(2);
    expect(server.hub.totals.transmissions).toBe(transmissions);
    v.close();
  });
});

describe('GET /ws', () => {
  it('sends one binary native FRAME message per frame: header, then the JPEG', async () => {
    await idle();
    const v = openWs(`${base.replace('http', 'ws')}/ws`, true);
    await until(() => v.count >= 10, 10_000, '10 WebSocket frames');
    v.ws.close();
    const now = Date.now();
    for (const f of v.frames.slice(0, 10)) {
      expect(f.type).toBe(2);
      expect(f.headerLength).toBeGreaterThanOrEqual(32);
      expect(looksLikeJpeg(f.jpeg)).toBe(true);
      expect(jpegInfo(f.jpeg)).toEqual({ width: f.width, height: f.height });
      expect(f.width).toBe(800);
      expect(Math.abs(now - f.capturedAt)).toBeLessThan(10_000);
    }
    const seqs = v.frames.map((f) => f.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('drops (and counts) frames for a viewer that stops reading, instead of queueing them', async () => {
    await idle();
    const { port } = server.httpAddress()!;
    // A raw client: completes the upgrade, then never reads again.
    const sock = net.connect(port, '127.0.0.1');
    sock.setNoDelay(true);
    sock.write(
      'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await new Promise<void>((r) => sock.once('data', () => r()));
    sock.pause();
    try {
      await until(
        async () => {
          const s = await getJson<StatsReport>(`${base}/stats`);
          return (s.clients.find((c) => c.protocol === 'ws')?.drops ?? 0) >= 3;
        },
        15_000,
        'drops by the stalled WebSocket viewer',
      );
      const s = await getJson<StatsReport>(`${base}/stats`);
      const c = s.clients.find((x) => x.protocol === 'ws')!;
      expect(c.framesSent + c.drops).toBeLessThanOrEqual(s.totals.framesIn);
    } finally {
      sock.destroy();
    }
  });

  it('a passive viewer (?passive=1) neither starts the source nor counts as a client', async () => {
    await idle();
    const passive = openWs(`${base.replace('http', 'ws')}/ws?passive=1`);
    await passive.opened;
    await new Promise((r) => setTimeout(r, 400));
    expect(server.hub.transmitting).toBe(false);
    const v = openMjpeg(`${base}/stream.mjpg`);
    await until(() => passive.count >= 5, 10_000, 'frames to the passive viewer');
    const s = await getJson<StatsReport>(`${base}/stats`);
    expect(s.clients.map((c) => c.protocol)).toEqual(['mjpeg']);
    expect(s.monitors.map((c) => c.protocol)).toEqual(['ws-monitor']);
    v.close();
    await idle();
    expect(passive.ws.readyState).toBe(passive.ws.OPEN); // stays for the next transmission
    passive.ws.close();
  });
});

describe('GET /stats and /metrics', () => {
  it('report the source, the encoder, each client with its fps, and totals', async () => {
    await idle();
    const m = openMjpeg(`${base}/stream.mjpg`);
    const w = openWs(`${base.replace('http', 'ws')}/ws`);
    await until(() => m.count >= 5 && w.count >= 5, 10_000, 'both viewers receiving');
    await new Promise((r) => setTimeout(r, 2200)); // two sampling intervals
    const s = await getJson<StatsReport>(`${base}/stats`);
    expect(s.source).toMatchObject({ kind: 'test', width: 800, height: 450, fpsIn: 30, state: 'live' });
    expect(s.source.fpsOut).toBeGreaterThan(15);
    expect(s.encoder.quality).toBe(80);
    expect(s.encoder.kind).toBe('libjpeg');
    expect(s.encoder.msPerFrame).toBeGreaterThan(0);
    expect(s.uptimeSeconds).toBeGreaterThan(0);
    expect(s.clients.map((c) => c.protocol).sort()).toEqual(['mjpeg', 'ws']);
    for (const c of s.clients) {
      expect(c.fps).toBeGreaterThan(15);
      expect(c.address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(c.latencyMs).not.toBeNull();
    }
    expect(s.totals.framesSent).toBeGreaterThan(10);

    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parsePrometheus(await res.text());
    expect(samples.every((x) => x.name.startsWith('framecast_'))).toBe(true);
    expect(sampleValue(samples, 'framecast_frames_encoded_total')).toBeGreaterThan(10);
    expect(sampleValue(samples, 'framecast_frames_sent_total', { protocol: 'mjpeg' })).toBeGreaterThan(5);
    expect(sampleValue(samples, 'framecast_frames_sent_total', { protocol: 'ws' })).toBeGreaterThan(5);
    expect(sampleValue(samples, 'framecast_frames_dropped_total', { protocol: 'ws' })).toBeGreaterThanOrEqual(
      0,
    );
    expect(sampleValue(samples, 'framecast_clients', { protocol: 'mjpeg' })).toBe(1);
    expect(sampleValue(samples, 'framecast_encode_seconds_count')).toBeGreaterThan(10);
    expect(sampleValue(samples, 'framecast_latency_seconds_count', { protocol: 'ws' })).toBeGreaterThan(3);
    expect(sampleValue(samples, 'framecast_latency_seconds_bucket', { protocol: 'ws', le: '+Inf' })).toBe(
      sampleValue(samples, 'framecast_latency_seconds_count', { protocol: 'ws' }),
    );
    m.close();
    w.ws.close();
  });
});

describe('POST /transmission/stop', () => {
  it('ends the transmission: MJPEG responses end, WebSocket viewers close with 1000 "stopped"', async () => {
    await idle();
    const m = openMjpeg(`${base}/stream.mjpg`);
    const w = openWs(`${base.replace('http', 'ws')}/ws`);
    await until(() => m.count >= 3 && w.count >= 3, 10_000, 'viewers receiving');
    const res = await fetch(`${base}/transmission/stop`, { method: 'POST' });
    expect(await res.json()).toEqual({ stopped: true });
    await m.ended;
    expect(await w.closed).toEqual({ code: 1000, reason: 'stopped' });
    expect(server.hub.transmitting).toBe(false);
    const again = await fetch(`${base}/transmission/stop`, { method: 'POST' });
    expect(await again.json()).toEqual({ stopped: false });
  });

  it('refuses a cross-site POST (a form on another origin) with 403', async () => {
    const res = await fetch(`${base}/transmission/stop`, {
      method: 'POST',
      headers: { Origin: 'https://evil.example' },
    });
    expect(res.status).toBe(403);
  });
});

describe('pages', () => {
  it('serve the viewer at / and the dashboard at /dashboard, with their scripts', async () => {
    const viewer = await (await fetch(`${base}/`)).text();
    expect(viewer).toContain('data-page="viewer"');
    const dash = await (await fetch(`${base}/dashboard`)).text();
    expect(dash).toContain('End transmission');
    for (const file of ['viewer.js', 'dashboard.js', 'frame-message.js', 'framecast.css']) {
      expect((await fetch(`${base}/${file}`)).status).toBe(200);
    }
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});
