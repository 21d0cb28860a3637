/**
 * The producer of a publisher stream: the publisher's JPEGs pass through as they came; without a
 * publisher the stream is no-signal and shows the NO SIGNAL picture once a second (fake clock; the
 * picture itself is rendered for real and awaited).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { noSignalJpeg } from '../../src/encode/no-signal.js';
import type { Frame } from '../../src/hub/frame.js';
import type { SourceStatus } from '../../src/hub/producer.js';
import { IngestProducer, type IngestSettings } from '../../src/ingest/publish/ingest-producer.js';
import {
  PublisherSlot,
  type IngestFrame,
  type PublisherConnection,
} from '../../src/ingest/publish/publisher-slot.js';
import { nowMs } from '../../src/util/clock.js';

afterEach(() => {
  vi.useRealTimers();
});

const SETTINGS: IngestSettings = { quality: 80, width: 0, maxImagePixels: 4096 * 4096 };

function conn(address: string, via = 'tcp'): PublisherConnection {
  return { address, via, evict: () => {} };
}

/** A producer on a fresh slot, recording its frames and status changes. */
function producer(settings: IngestSettings = SETTINGS, slot = new PublisherSlot(false)) {
  const p = new IngestProducer(slot, settings);
  const frames: Frame[] = [];
  const statuses: SourceStatus[] = [];
  p.on('frame', (f) => frames.push(f));
  p.on('status', (s) => statuses.push(s));
  return { p, slot, frames, statuses };
}

const ingest = (n: number, receivedAt = nowMs()): IngestFrame => ({
  jpeg: Buffer.from(`jpeg ${n}`),
  width: 640,
  height: 480,
  capturedAt: 1000 + n,
  receivedAt,
});

/** Waits until the NO SIGNAL picture of this size has been rendered and handed on. */
async function rendered(width: number, height: number, quality = 80): Promise<Buffer> {
  const jpeg = await noSignalJpeg(width, height, quality);
  await Promise.resolve();
  return jpeg;
}

const NO_FRAMES_YET = 'no frames yet (no publisher connected, or its origin is not sending)';

describe('IngestProducer', () => {
  it('before any publisher: describes itself as no-signal with no size', () => {
    vi.useFakeTimers();
    const created = nowMs();
    const { p } = producer();
    const d = p.describe();
    expect(d).toEqual({
      kind: 'publisher',
      name: 'publisher (none connected)',
      width: null,
      height: null,
      inputFps: null,
      status: { state: 'no-signal', since: created, retries: 0, nextRetryAt: null, lastError: NO_FRAMES_YET },
    });
    // A copy: what a caller does with it changes nothing.
    (d.status as SourceStatus).state = 'live';
    expect(p.describe().status?.state).toBe('no-signal');
  });

  it('started without a publisher: says no-signal, then shows the NO SIGNAL picture once a second', async () => {
    vi.useFakeTimers();
    const { p, frames, statuses } = producer();
    p.start();
    expect(statuses.map((s) => [s.state, s.lastError])).toEqual([['no-signal', NO_FRAMES_YET]]);
    const picture = await rendered(800, 450);
    expect(frames.map((f) => [f.seq, f.width, f.height])).toEqual([[0, 800, 450]]);
    expect(frames[0]?.jpeg).toBe(picture);
    vi.advanceTimersByTime(999);
    await rendered(800, 450);
    expect(frames).toHaveLength(1);
    vi.advanceTimersByTime(1);
    await rendered(800, 450);
    expect(frames.map((f) => f.seq)).toEqual([0, 1]);
    p.stop();
  });

  it("the NO SIGNAL picture has the stream's width, within its pixel bound", async () => {
    const wide = producer({ quality: 70, width: 320, maxImagePixels: 4096 * 4096 });
    wide.p.start();
    await rendered(320, 180, 70);
    expect(wide.frames.map((f) => [f.width, f.height])).toEqual([[320, 180]]);
    wide.p.stop();
    const bounded = producer({ quality: 80, width: 800, maxImagePixels: 400 * 225 });
    bounded.p.start();
    await rendered(400, 224);
    expect(bounded.frames.map((f) => [f.width, f.height])).toEqual([[400, 224]]);
    bounded.p.stop();
  });

  it("passes the publisher's JPEGs through as they came, numbered on from the NO SIGNAL pictures", async () => {
    vi.useFakeTimers();
    const { p, slot, frames, statuses } = producer();
    p.start();
    await rendered(800, 450);
    const c = conn('10.0.0.7:5000');
    slot.claim(c);
    const at = nowMs();
    expect(statuses.map((s) => s.state)).toEqual(['no-signal', 'live']);
    expect(statuses[1]).toEqual({ state: 'live', since: at, retries: 0, nextRetryAt: null, lastError: null });
    const f1 = ingest(1, 5000);
    slot.frame(c, f1);
    slot.frame(c, ingest(2));
    expect(frames.slice(1).map((f) => [f.seq, f.width, f.height, f.capturedAt])).toEqual([
      [1, 640, 480, 1001],
      [2, 640, 480, 1002],
    ]);
    expect(frames[1]?.jpeg).toBe(f1.jpeg);
    expect(frames[1]?.encodedAt).toBe(5000);
    // The publisher's metadata goes with its frame; a frame without any has none.
    const meta = Buffer.from('{"n":3}');
    slot.frame(c, { ...ingest(3), meta });
    expect(frames.slice(1).map((f) => f.meta)).toEqual([null, null, meta]);
    expect(p.describe()).toMatchObject({ name: 'publisher 10.0.0.7:5000 (tcp)', width: 640, height: 480 });
    // Live: no NO SIGNAL picture comes any more.
    vi.advanceTimersByTime(5000);
    await rendered(800, 450);
    expect(frames).toHaveLength(4);
    p.stop();
  });

  it('when the publisher leaves: no-signal with the reason, and NO SIGNAL pictures shaped like its frames', async () => {
    vi.useFakeTimers();
    const { p, slot, frames, statuses } = producer();
    const c = conn('a', 'http');
    slot.claim(c);
    p.start();
    slot.frame(c, ingest(1));
    expect(statuses).toEqual([]);
    slot.release(c, 'the connection closed');
    expect(statuses.map((s) => [s.state, s.lastError])).toEqual([
      ['no-signal', 'the publisher left: the connection closed'],
    ]);
    await rendered(800, 600);
    expect(frames.map((f) => [f.seq, f.width, f.height])).toEqual([
      [0, 640, 480],
      [1, 800, 600],
    ]);
    expect(p.describe().name).toBe('publisher (none connected)');
    p.stop();
  });

  it('a publisher that comes and goes within a second: the NO SIGNAL picture is back at once, not a second later', async () => {
    vi.useFakeTimers();
    const { p, slot, frames } = producer();
    p.start();
    await rendered(800, 450);
    expect(vi.getTimerCount()).toBe(1); // the next NO SIGNAL picture
    const c = conn('a');
    slot.claim(c);
    // Live: the next NO SIGNAL picture is cancelled.
    expect(vi.getTimerCount()).toBe(1); // the slot's idle deadline only
    vi.advanceTimersByTime(100);
    slot.release(c, 'the connection closed');
    await rendered(800, 450);
    expect(frames.map((f) => f.seq)).toEqual([0, 1]);
    p.stop();
  });

  it('a first viewer sees the last frame at once when it is under 2 s old, not when older', () => {
    vi.useFakeTimers();
    const fresh = producer();
    const c = conn('a');
    fresh.slot.claim(c);
    fresh.slot.frame(c, ingest(1, nowMs() - 1900));
    fresh.p.start();
    expect(fresh.frames.map((f) => f.capturedAt)).toEqual([1001]);
    expect(fresh.p.describe().status).toMatchObject({ state: 'live', lastError: null });
    expect(fresh.statuses).toEqual([]);
    fresh.p.stop();

    const stale = producer();
    stale.slot.claim(c);
    stale.slot.frame(c, ingest(1, nowMs() - 2100));
    stale.p.start();
    expect(stale.frames).toEqual([]);
    expect(stale.p.describe().status?.state).toBe('live');
    stale.p.stop();
  });

  it('a publisher that connects while the NO SIGNAL picture renders stops it from being shown', async () => {
    const { p, slot, frames } = producer();
    p.start();
    slot.claim(conn('a'));
    await rendered(800, 450);
    expect(frames).toEqual([]);
    p.stop();
  });

  it('paused (lossless backpressure): frames that arrive are dropped, NO SIGNAL pictures too; resume goes on', async () => {
    vi.useFakeTimers();
    const { p, slot, frames } = producer();
    p.start();
    p.pause();
    await rendered(800, 450);
    expect(frames).toEqual([]);
    // The once-a-second picture goes on being scheduled while paused.
    p.resume();
    vi.advanceTimersByTime(1000);
    await rendered(800, 450);
    expect(frames.map((f) => f.seq)).toEqual([0]);
    const c = conn('a');
    slot.claim(c);
    p.pause();
    slot.frame(c, ingest(1));
    p.resume();
    slot.frame(c, ingest(2));
    expect(frames.map((f) => [f.seq, f.capturedAt])).toEqual([
      [0, frames[0]?.capturedAt],
      [1, 1002],
    ]);
    p.stop();
  });

  it('stop() ends everything: no frame, no status, no timer, no listener left on the slot', async () => {
    vi.useFakeTimers();
    const { p, slot, frames, statuses } = producer();
    p.start();
    p.start(); // idempotent: one set of listeners
    expect(slot.listenerCount('frame')).toBe(1);
    await rendered(800, 450);
    expect(vi.getTimerCount()).toBe(1);
    p.stop();
    expect(vi.getTimerCount()).toBe(0);
    expect(['frame', 'connected', 'disconnected'].map((e) => slot.listenerCount(e))).toEqual([0, 0, 0]);
    const c = conn('a');
    slot.claim(c);
    slot.frame(c, ingest(1));
    slot.release(c, 'gone');
    vi.advanceTimersByTime(5000);
    await rendered(800, 450);
    expect(frames).toHaveLength(1);
    expect(statuses).toHaveLength(1);
  });

  it('stopped while the NO SIGNAL picture renders: it is never shown', async () => {
    const { p, frames } = producer();
    p.start();
    p.stop();
    await rendered(800, 450);
    expect(frames).toEqual([]);
  });

  it('a second connect of the same publisher says live once', () => {
    const { p, slot, statuses } = producer();
    p.start();
    const c = conn('a');
    slot.claim(c);
    slot.claim(c);
    expect(statuses.map((s) => s.state)).toEqual(['no-signal', 'live']);
    p.stop();
  });
});
