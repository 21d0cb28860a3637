/** /stats (StatsSampler) and /metrics (ServerMetrics) over a hand-driven hub, clocks held by the test. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FramecastError } from '../../../src/errors.js';
import { Frame } from '../../../src/hub/frame.js';
import type { Subscriber, SubscriberStats } from '../../../src/hub/subscriber.js';
import { ServerMetrics } from '../../../src/transports/http/metrics.js';
import { StatsSampler } from '../../../src/transports/http/stats.js';
import { setup } from '../../hub/fakes.js';

// A test that waits for what a mutant broke fails within 3 s (mutation runs retry a failure twice).
vi.setConfig({ testTimeout: 3000 });

let nextId = 50_000;

/** A subscriber whose counters the test sets. */
class Counted implements Subscriber {
  readonly id = nextId++;
  readonly address: string;
  readonly protocol: string;
  readonly backlogged = false;
  framesSent = 0;
  bytesSent = 0;
  drops = 0;
  latency: number | null = null;
  connectedAt = 0;
  constructor(protocol: string, address = 'peer:1') {
    this.protocol = protocol;
    this.address = address;
  }
  offer(): void {}
  end(): void {}
  stats(): SubscriberStats {
    return {
      id: this.id,
      protocol: this.protocol,
      address: this.address,
      connectedAt: this.connectedAt,
      framesSent: this.framesSent,
      bytesSent: this.bytesSent,
      drops: this.drops,
      lastLatencyMs: this.latency,
    };
  }
}

function frame(seq: number, capturedAt: number, encodedAt: number, bytes = 10): Frame {
  return new Frame({ seq, width: 8, height: 8, capturedAt, encodedAt, jpeg: Buffer.alloc(bytes) });
}

const encoder = { kind: 'libjpeg', implementation: 'native', quality: 75, width: 320 };

afterEach(() => {
  vi.restoreAllMocks();
});

describe('StatsSampler', () => {
  it('an idle hub: zeros and nulls, uptime in seconds (1 decimal), the encoder as given', () => {
    const { hub } = setup();
    vi.spyOn(Date, 'now').mockReturnValue(1_000_000 + 12_345);
    const s = new StatsSampler(hub, () => [], 1_000_000);
    const r = s.report(encoder, 3);
    expect(r).toEqual({
      uptimeSeconds: 12.3,
      source: {
        kind: null,
        name: null,
        width: null,
        height: null,
        fpsIn: null,
        fpsOut: 0,
        state: 'idle',
        signal: null,
        lastEnd: null,
      },
      encoder: { kind: 'libjpeg', implementation: 'native', quality: 75, width: 320, msPerFrame: null },
      clients: [],
      monitors: [],
      waiting: 0,
      annotations: { accepted: 0, refused: 0, analyzers: [] },
      recording: null,
      totals: {
        framesIn: 0,
        bytesIn: 0,
        transmissions: 0,
        clientsServed: 0,
        framesSent: 0,
        bytesSent: 0,
        drops: 0,
        byProtocol: {},
        imagesRefused: 3,
      },
    });
    expect(s.report({ kind: 'ffmpeg', quality: 5, width: 1 }).encoder.implementation).toBeNull();
    expect(s.report(encoder).totals.imagesRefused).toBe(0);
    s.close();
  });

  it('source state: starting before the first frame, live after, no-signal from the producer', () => {
    const { hub, current } = setup();
    const s = new StatsSampler(hub, () => [], 0);
    hub.join(new Counted('x'));
    let r = s.report(encoder);
    expect(r.source).toMatchObject({
      kind: 'fake',
      name: 'fake#0',
      width: 8,
      height: 8,
      fpsIn: 30,
      state: 'starting',
    });
    expect(r.source.signal).toBeNull();
    current().frame();
    expect(s.report(encoder).source.state).toBe('live');
    const status = { state: 'no-signal' as const, since: 1, retries: 2, nextRetryAt: 3, lastError: 'gone' };
    current().status = status;
    r = s.report(encoder);
    expect(r.source.state).toBe('no-signal');
    expect(r.source.signal).toEqual(status);
    current().status = { ...status, state: 'live' };
    expect(s.report(encoder).source.state).toBe('live');
    s.close();
  });

  it('fps: frames over the sampled interval, rounded to 1 decimal; 0 when not transmitting', () => {
    const { hub, current } = setup();
    const now = vi.spyOn(performance, 'now').mockReturnValue(1000);
    const s = new StatsSampler(hub, () => [], 0, 60_000);
    const sub = new Counted('ws');
    hub.join(sub);
    for (let i = 0; i < 10; i++) current().frame();
    now.mockReturnValue(4000);
    s.sample();
    // 10 frames in 3 s.
    expect(s.report(encoder).source.fpsOut).toBe(3.3);
    // The client's first sample only starts its window.
    expect(s.report(encoder).clients[0]?.fps).toBe(0);
    sub.framesSent = 7;
    now.mockReturnValue(6000);
    s.sample();
    expect(s.report(encoder).clients[0]?.fps).toBe(3.5);
    expect(s.report(encoder).source.fpsOut).toBe(0);
    // No time passed: the previous rate stays.
    s.sample();
    expect(s.report(encoder).clients[0]?.fps).toBe(3.5);
    hub.stopTransmission();
    expect(s.report(encoder).source.fpsOut).toBe(0);
    s.close();
  });

  it('msPerFrame: the mean capture-to-JPEG time of the last interval, 2 decimals; null without frames', () => {
    const { hub, current } = setup();
    const s = new StatsSampler(hub, () => [], 0, 60_000);
    hub.join(new Counted('x'));
    current().emit('frame', frame(0, 100, 103));
    current().emit('frame', frame(1, 200, 204.333));
    current().emit('frame', frame(2, 300, 303));
    s.sample();
    expect(s.report(encoder).encoder.msPerFrame).toBe(3.44);
    s.sample();
    expect(s.report(encoder).encoder.msPerFrame).toBeNull();
    s.close();
    current().emit('frame', frame(3, 300, 400));
    s.sample();
    expect(s.report(encoder).encoder.msPerFrame).toBeNull();
  });

  it('clients: connected seconds, counters, latency to 1 decimal; monitors apart', () => {
    const { hub } = setup();
    vi.spyOn(Date, 'now').mockReturnValue(100_000);
    const monitor = new Counted('ws-monitor', 'm:1');
    monitor.framesSent = 4;
    const s = new StatsSampler(hub, () => [monitor], 0, 60_000);
    const a = new Counted('mjpeg', '10.0.0.1:5');
    a.connectedAt = 100_000 - 2_260;
    a.framesSent = 12;
    a.bytesSent = 3400;
    a.drops = 2;
    a.latency = 12.345;
    hub.join(a);
    const r = s.report(encoder);
    expect(r.clients).toEqual([
      {
        id: a.id,
        protocol: 'mjpeg',
        address: '10.0.0.1:5',
        connectedSeconds: 2.3,
        fps: 0,
        framesSent: 12,
        bytesSent: 3400,
        drops: 2,
        latencyMs: 12.3,
      },
    ]);
    expect(r.monitors.map((m) => [m.protocol, m.framesSent, m.latencyMs])).toEqual([['ws-monitor', 4, null]]);
    // Monitors are not in the totals (they are no hub clients).
    expect(r.totals.framesSent).toBe(12);
    s.close();
  });

  it('a monitor is sampled too, and a departed client is forgotten', () => {
    const { hub } = setup();
    const now = vi.spyOn(performance, 'now').mockReturnValue(0);
    const monitor = new Counted('ws-monitor');
    const monitors: Subscriber[] = [monitor];
    const s = new StatsSampler(hub, () => monitors, 0, 60_000);
    s.sample();
    monitor.framesSent = 10;
    now.mockReturnValue(2000);
    s.sample();
    expect(s.report(encoder).monitors[0]?.fps).toBe(5);
    monitors.pop();
    now.mockReturnValue(3000);
    s.sample();
    monitors.push(monitor);
    // Forgotten: its next report starts from 0 again.
    expect(s.report(encoder).monitors[0]?.fps).toBe(0);
    s.close();
  });

  it('totals by protocol: departed clients plus current ones', () => {
    const { hub } = setup();
    const s = new StatsSampler(hub, () => [], 0, 60_000);
    const a = new Counted('mjpeg');
    const b = new Counted('mjpeg');
    const c = new Counted('ws');
    for (const x of [a, b, c]) hub.join(x);
    a.framesSent = 5;
    a.bytesSent = 50;
    a.drops = 1;
    b.framesSent = 7;
    b.bytesSent = 70;
    b.drops = 2;
    c.framesSent = 1;
    c.bytesSent = 9;
    hub.leave(a);
    a.framesSent = 1000; // after it left: not counted again
    const t = s.report(encoder).totals;
    expect(t.byProtocol).toEqual({
      mjpeg: { framesSent: 12, bytesSent: 120, drops: 3 },
      ws: { framesSent: 1, bytesSent: 9, drops: 0 },
    });
    expect([t.framesSent, t.bytesSent, t.drops]).toEqual([13, 129, 3]);
    hub.leave(b);
    expect(s.totalsByProtocol().get('mjpeg')).toEqual({ framesSent: 12, bytesSent: 120, drops: 3 });
    // totalsByProtocol returns copies.
    const copy = s.totalsByProtocol().get('mjpeg');
    if (copy) copy.framesSent = 0;
    expect(s.totalsByProtocol().get('mjpeg')?.framesSent).toBe(12);
    s.close();
    // Closed: a client leaving now is not added.
    hub.leave(c);
    expect(s.totalsByProtocol().get('ws')).toBeUndefined();
  });

  it('lastEnd: the reason and error of the last transmission end', () => {
    const { hub, current } = setup();
    const s = new StatsSampler(hub, () => [], 0, 60_000);
    hub.join(new Counted('x'));
    current().emit('error', new FramecastError('ERR_SOURCE_FAILED', 'camera unplugged'));
    expect(s.report(encoder).source.lastEnd).toEqual({ reason: 'source-error', error: 'camera unplugged' });
    hub.join(new Counted('y'));
    hub.stopTransmission();
    expect(s.report(encoder).source.lastEnd).toEqual({ reason: 'stopped', error: null });
    s.close();
    hub.join(new Counted('z'));
    current().emit('end');
    expect(s.report(encoder).source.lastEnd).toEqual({ reason: 'stopped', error: null });
  });

  it('annotations: counts and the analyzers with a recent newest one; waiting clients', () => {
    const { hub, current } = setup({ maxClients: 1 });
    const s = new StatsSampler(hub, () => [], 0, 60_000);
    hub.join(new Counted('x'));
    hub.join(new Counted('y'));
    current().frame();
    hub.annotate('det', { seq: 0 }, { a: 1 });
    hub.annotate('bad name!', { seq: 0 }, {});
    const r = s.report(encoder);
    expect(r.annotations).toEqual({ accepted: 1, refused: 1, analyzers: ['det'] });
    expect(r.waiting).toBe(1);
    s.close();
  });

  it('samples on its own timer', () => {
    vi.useFakeTimers();
    try {
      const { hub, current } = setup();
      const s = new StatsSampler(hub, () => [], 0, 500);
      hub.join(new Counted('x'));
      current().emit('frame', frame(0, 0, 4));
      vi.advanceTimersByTime(499);
      expect(s.report(encoder).encoder.msPerFrame).toBeNull();
      vi.advanceTimersByTime(1);
      expect(s.report(encoder).encoder.msPerFrame).toBe(4);
      s.close();
      current().emit('frame', frame(1, 0, 8));
      vi.advanceTimersByTime(5000);
      expect(s.report(encoder).encoder.msPerFrame).toBe(4);
    } finally {
      vi.useRealTimers();
    }
  });
});

/** The value of one series in Prometheus text, or undefined. */
function series(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('ServerMetrics', () => {
  it('counts frames encoded and their encode time per stream', async () => {
    const { hub, current } = setup();
    const m = new ServerMetrics();
    m.add({ name: 'cam', hub, sampler: new StatsSampler(hub, () => [], 0) });
    hub.join(new Counted('x'));
    current().emit('frame', frame(0, 100, 103));
    current().emit('frame', frame(1, 200, 190)); // a clock step back counts as 0
    const { contentType, body } = await m.render();
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(series(body, 'framecast_frames_encoded_total{stream="cam"}')).toBe(2);
    expect(series(body, 'framecast_encode_seconds_count{stream="cam"}')).toBe(2);
    expect(series(body, 'framecast_encode_seconds_sum{stream="cam"}')).toBeCloseTo(0.003, 9);
    expect(series(body, 'framecast_encode_seconds_bucket{le="0.001",stream="cam"}')).toBe(1);
    expect(series(body, 'framecast_encode_seconds_bucket{le="0.0025",stream="cam"}')).toBe(1);
    expect(series(body, 'framecast_encode_seconds_bucket{le="0.005",stream="cam"}')).toBe(2);
    expect(body).toContain('# HELP framecast_encode_seconds Time from a decoded frame to its JPEG');
    m.close();
  });

  it('observes latency once per frame a client actually sent', async () => {
    const { hub, current } = setup();
    const m = new ServerMetrics();
    m.add({ name: 'cam', hub, sampler: new StatsSampler(hub, () => [], 0) });
    const a = new Counted('ws');
    const silent = new Counted('mjpeg');
    hub.join(a);
    hub.join(silent);
    current().frame(); // a has sent nothing yet
    a.framesSent = 1;
    a.latency = 20;
    silent.latency = 5; // a latency but no new frame sent
    current().frame();
    current().frame(); // same framesSent: not observed again
    a.framesSent = 2;
    a.latency = -3;
    current().frame();
    const body = (await m.render()).body;
    expect(series(body, 'framecast_latency_seconds_count{protocol="ws",stream="cam"}')).toBe(2);
    expect(series(body, 'framecast_latency_seconds_sum{protocol="ws",stream="cam"}')).toBeCloseTo(0.02, 9);
    expect(series(body, 'framecast_latency_seconds_bucket{le="0.001",protocol="ws",stream="cam"}')).toBe(1);
    expect(series(body, 'framecast_latency_seconds_count{protocol="mjpeg",stream="cam"}')).toBeUndefined();
    // A client that left and came back under the same id starts over.
    hub.leave(a);
    hub.join(a);
    a.latency = 30;
    current().frame();
    const again = (await m.render()).body;
    expect(series(again, 'framecast_latency_seconds_count{protocol="ws",stream="cam"}')).toBe(3);
    m.close();
  });

  it('reads clients, sent frames, drops, bytes, waiting and transmissions at scrape time', async () => {
    const { hub } = setup({ maxClients: 2 });
    const m = new ServerMetrics();
    const sampler = new StatsSampler(hub, () => [], 0);
    m.add({ name: 'cam', hub, sampler });
    // A first transmission, over: the counters below are of two.
    const early = new Counted('old');
    hub.join(early);
    hub.stopTransmission();
    hub.leave(early);
    const a = new Counted('ws');
    const b = new Counted('ws');
    const c = new Counted('mjpeg');
    const d = new Counted('mjpeg');
    for (const x of [a, b, c, d]) hub.join(x);
    a.framesSent = 3;
    a.drops = 2;
    a.bytesSent = 300;
    b.framesSent = 4;
    b.drops = 1;
    const body = (await m.render()).body;
    expect(series(body, 'framecast_clients{protocol="ws",stream="cam"}')).toBe(2);
    expect(series(body, 'framecast_clients_waiting{stream="cam"}')).toBe(2);
    expect(series(body, 'framecast_transmitting{stream="cam"}')).toBe(1);
    expect(series(body, 'framecast_transmissions_total{stream="cam"}')).toBe(2);
    expect(series(body, 'framecast_frames_sent_total{protocol="ws",stream="cam"}')).toBe(7);
    expect(series(body, 'framecast_frames_dropped_total{protocol="ws",stream="cam"}')).toBe(3);
    expect(series(body, 'framecast_bytes_sent_total{protocol="ws",stream="cam"}')).toBe(300);
    expect(body).toContain('# TYPE framecast_transmissions_total counter');
    expect(body).toContain('# TYPE framecast_transmitting gauge');
    expect(body).toContain('# TYPE framecast_clients gauge');
    // Scraped twice: the same values, not doubled.
    const twice = (await m.render()).body;
    expect(series(twice, 'framecast_frames_sent_total{protocol="ws",stream="cam"}')).toBe(7);
    expect(series(twice, 'framecast_clients{protocol="ws",stream="cam"}')).toBe(2);
    expect(series(twice, 'framecast_transmissions_total{stream="cam"}')).toBe(2);
    hub.stopTransmission();
    for (const x of [a, b, c, d]) hub.leave(x);
    const after = (await m.render()).body;
    expect(series(after, 'framecast_transmitting{stream="cam"}')).toBe(0);
    expect(series(after, 'framecast_clients{protocol="ws",stream="cam"}')).toBeUndefined();
    m.close();
  });

  it('a removed stream disappears; adding a name again replaces it; close() stops listening', async () => {
    const one = setup();
    const two = setup();
    const m = new ServerMetrics();
    m.add({ name: 'a', hub: one.hub, sampler: new StatsSampler(one.hub, () => [], 0) });
    m.add({ name: 'b', hub: two.hub, sampler: new StatsSampler(two.hub, () => [], 0) });
    one.hub.join(new Counted('x'));
    two.hub.join(new Counted('x'));
    one.current().frame();
    two.current().frame();
    let body = (await m.render()).body;
    expect(series(body, 'framecast_transmitting{stream="a"}')).toBe(1);
    expect(series(body, 'framecast_transmitting{stream="b"}')).toBe(1);
    m.remove('b');
    two.current().frame();
    body = (await m.render()).body;
    expect(series(body, 'framecast_transmitting{stream="b"}')).toBeUndefined();
    expect(series(body, 'framecast_frames_encoded_total{stream="b"}')).toBe(1);
    // The same name again: frames are counted once.
    m.add({ name: 'a', hub: one.hub, sampler: new StatsSampler(one.hub, () => [], 0) });
    one.current().frame();
    body = (await m.render()).body;
    expect(series(body, 'framecast_frames_encoded_total{stream="a"}')).toBe(2);
    m.close();
    one.current().frame();
    body = (await m.render()).body;
    expect(series(body, 'framecast_frames_encoded_total{stream="a"}')).toBe(2);
    expect(series(body, 'framecast_transmitting{stream="a"}')).toBeUndefined();
  });
});
