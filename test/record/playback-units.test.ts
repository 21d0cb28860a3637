import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FramecastError } from '../../src/errors.js';
import { Hub } from '../../src/hub/hub.js';
import { GAP_MS, RecordingProducer, playbackHub } from '../../src/record/recording-producer.js';
import type { RecordedFrame, RecordingReader } from '../../src/record/recording-reader.js';

const T0 = Date.UTC(2026, 11, 7, 3, 0, 0, 0);
const HOUR = 3600_000;

/** A reader over frames captured at `times` (ms after T0); `read.done` says its generator finished. */
function reader(times: number[], fail: Error | null = null): RecordingReader & { done: boolean } {
  const r = {
    stream: 'cam',
    done: false,
    spans: () => Promise.resolve([]),
    frameAt: () => Promise.resolve(null),
    async *frames(start: number, end = Infinity): AsyncGenerator<RecordedFrame> {
      try {
        for (const [i, dt] of times.entries()) {
          const t = T0 + dt;
          if (t < start || t > end) continue;
          yield {
            seq: i + 1,
            capturedAt: t,
            width: 8,
            height: 6,
            jpeg: Buffer.from([i]),
            meta: null,
            annotations: [
              { analyzer: 'det', seq: i + 1, t, receivedAt: t + 1, json: Buffer.from(`{"i":${i}}`) },
            ],
          };
        }
        if (fail) throw fail;
      } finally {
        r.done = true;
      }
    },
  };
  return r;
}

/** Plays `times` at `speed`: each frame's seq and when it came (ms after start()), and the end. */
function play(
  times: number[],
  speed = 1,
  fail: Error | null = null,
): {
  p: RecordingProducer;
  r: ReturnType<typeof reader>;
  got: [number, number][];
  notes: [string, number, string][];
  ended: () => boolean;
  errors: FramecastError[];
} {
  const r = reader(times, fail);
  const p = new RecordingProducer(r, { start: T0, end: Infinity, speed });
  const got: [number, number][] = [];
  const notes: [string, number, string][] = [];
  const errors: FramecastError[] = [];
  let ended = false;
  const at = performance.now();
  p.on('frame', (f) => got.push([f.seq, Math.round(performance.now() - at)]));
  p.on('annotation', (a, seq, json) => notes.push([a, seq, json.toString()]));
  p.on('end', () => (ended = true));
  p.on('error', (e) => errors.push(e));
  p.start();
  return { p, r, got, notes, ended: () => ended, errors };
}

beforeEach(() => {
  vi.useFakeTimers({ now: T0, toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('RecordingProducer', () => {
  it('plays at the recorded pace, a 3-hour gap skipped (not waited out), then ends', async () => {
    const { got, notes, ended } = play([0, 100, 250, 250 + 3 * HOUR, 3 * HOUR + 400]);
    await vi.advanceTimersByTimeAsync(99);
    expect(got).toEqual([[1, 0]]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(got).toEqual([
      [1, 0],
      [2, 100],
      [3, 250],
      [4, 250],
      [5, 400],
    ]);
    expect(ended()).toBe(true);
    // Each frame's annotation follows it.
    expect(notes.map((n) => n[1])).toEqual([1, 2, 3, 4, 5]);
    expect(notes[2]).toEqual(['det', 3, '{"i":2}']);
  });

  it('a pause of GAP_MS is played as it was; one just longer is a gap', async () => {
    const a = play([0, GAP_MS, GAP_MS + 100]);
    const b = play([0, GAP_MS + 1, GAP_MS + 101]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(a.got).toEqual([
      [1, 0],
      [2, GAP_MS],
      [3, GAP_MS + 100],
    ]);
    expect(b.got).toEqual([
      [1, 0],
      [2, 0],
      [3, 100],
    ]);
  });

  it('honours the speed: twice as fast, and a tenth as fast', async () => {
    const fast = play([0, 100, 300, 300 + HOUR, HOUR + 500], 2);
    const slow = play([0, 100, 300], 0.1);
    await vi.advanceTimersByTimeAsync(5000);
    expect(fast.got).toEqual([
      [1, 0],
      [2, 50],
      [3, 150],
      [4, 150],
      [5, 250],
    ]);
    expect(slow.got).toEqual([
      [1, 0],
      [2, 1000],
      [3, 3000],
    ]);
  });

  it('pausing holds the recorded clock: after resume() the frames keep their spacing', async () => {
    const { p, got } = play([0, 100, 200, 300]);
    await vi.advanceTimersByTimeAsync(50);
    p.pause();
    await vi.advanceTimersByTimeAsync(950);
    expect(got).toEqual([[1, 0]]);
    p.resume();
    await vi.advanceTimersByTimeAsync(500);
    expect(got).toEqual([
      [1, 0],
      [2, 1000],
      [3, 1100],
      [4, 1200],
    ]);
  });

  it('stop() during a wait: no frame and no end follow, and the reading is closed', async () => {
    const { p, r, got, ended } = play([0, 100, 1500]);
    await vi.advanceTimersByTimeAsync(150);
    expect(got.map((g) => g[0])).toEqual([1, 2]);
    p.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(got.map((g) => g[0])).toEqual([1, 2]);
    expect(ended()).toBe(false);
    expect(r.done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a reading that fails is an ERR_SOURCE_FAILED error, not an end', async () => {
    const { got, ended, errors } = play([0, 10], 1, new Error('disk gone'));
    await vi.advanceTimersByTimeAsync(100);
    expect(got.map((g) => g[0])).toEqual([1, 2]);
    expect(ended()).toBe(false);
    expect(errors.map((e) => [e.code, e.message])).toEqual([['ERR_SOURCE_FAILED', 'playback: disk gone']]);
  });

  it('describe(): the stream and start, the size once a frame came', async () => {
    const { p } = play([0, 10]);
    expect(p.describe()).toMatchObject({ kind: 'recording', width: null, height: null });
    expect(p.describe().name).toBe(`cam from ${new Date(T0).toISOString()}`);
    await vi.advanceTimersByTimeAsync(100);
    expect(p.describe()).toMatchObject({ width: 8, height: 6 });
  });
});

describe('playbackHub', () => {
  it('an empty range is told at once (why), a range with a frame is a hub', async () => {
    const r = reader([0, 100]);
    expect(await playbackHub(r, { start: T0 + 200, end: Infinity, speed: 1 })).toBe(
      `no recording of cam at or after ${new Date(T0 + 200).toISOString()}`,
    );
    expect(await playbackHub(r, { start: T0 + 200, end: T0 + 300, speed: 1 })).toBe(
      `no recording of cam from ${new Date(T0 + 200).toISOString()} to ${new Date(T0 + 300).toISOString()}`,
    );
    expect(r.done).toBe(true);
    const hub = await playbackHub(r, { start: T0 + 50, end: T0 + 300, speed: 1 });
    expect(hub).toBeInstanceOf(Hub);
  });
});
