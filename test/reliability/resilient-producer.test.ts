import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ResilientProducer } from '../../src/encode/resilient-producer.js';
import { FramecastError } from '../../src/errors.js';
import { Frame } from '../../src/hub/frame.js';
import type { FrameProducer, ProducerEvents, SourceStatus } from '../../src/hub/producer.js';
import { redactCredentials } from '../../src/util/redact.js';

/** An inner producer the test drives by hand. */
class Inner extends EventEmitter<ProducerEvents> implements FrameProducer {
  started = 0;
  stopped = 0;
  paused = false;
  start(): void {
    this.started++;
  }
  stop(): void {
    this.stopped++;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  describe() {
    return { kind: 'url', name: 'rtsp://cam', width: 64, height: 48, inputFps: 30 };
  }
  frame(seq: number): void {
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);
    this.emit('frame', new Frame({ seq, width: 64, height: 48, capturedAt: 1, encodedAt: 2, jpeg }));
  }
}

function setup(retryOnEnd = true) {
  const inners: Inner[] = [];
  const p = new ResilientProducer({
    create: () => {
      const i = new Inner();
      inners.push(i);
      return i;
    },
    retryDelayMs: 100,
    maxRetryDelayMs: 400,
    retryOnEnd,
    noSignalWidth: 64,
    maxImagePixels: 4096 * 4096,
    quality: 50,
    noSignalIntervalMs: 1000,
  });
  const frames: Frame[] = [];
  const statuses: SourceStatus[] = [];
  p.on('frame', (f) => frames.push(f));
  p.on('status', (s) => statuses.push(s));
  return { p, inners, frames, statuses };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('ResilientProducer', () => {
  it('backs off 100, 200, 400, 400 ms and resets once frames flow again', async () => {
    vi.useFakeTimers();
    const { p, inners, statuses } = setup();
    p.start();
    inners[0]!.frame(0);
    const fail = (i: number): void => {
      inners[i]!.emit('error', new FramecastError('ERR_SOURCE_FAILED', 'gone'));
    };
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      fail(i);
      const s = statuses.at(-1) as SourceStatus;
      delays.push(Math.round((s.nextRetryAt as number) - Date.now()));
      expect(inners[i]!.stopped).toBe(1);
      await vi.advanceTimersByTimeAsync(delays.at(-1) as number);
      expect(inners.length).toBe(i + 2);
    }
    expect(delays).toEqual([100, 200, 400, 400]);
    inners[4]!.frame(0);
    expect(p.status.state).toBe('live');
    fail(4);
    expect(Math.round((p.status.nextRetryAt as number) - Date.now())).toBe(100);
    p.stop();
  });

  it('keeps one sequence across restarts, NO SIGNAL pictures included', async () => {
    const { p, inners, frames } = setup();
    p.start();
    inners[0]!.frame(0);
    inners[0]!.frame(1);
    inners[0]!.emit('end');
    await vi.waitFor(() => expect(frames.length).toBe(3)); // the NO SIGNAL picture
    expect(frames[2]!.width).toBe(64);
    await vi.waitFor(() => expect(inners.length).toBe(2), { timeout: 2000 });
    inners[1]!.frame(0);
    inners[1]!.frame(1);
    expect(frames.map((f) => f.seq)).toEqual([0, 1, 2, 3, 4]);
    p.stop();
  });

  it('a file-like source that ends ends the producer (no retry)', () => {
    const { p, inners } = setup(false);
    const ended = vi.fn();
    p.on('end', ended);
    p.start();
    inners[0]!.emit('end');
    expect(ended).toHaveBeenCalledOnce();
    expect(p.status.state).toBe('starting');
  });

  it('stop() cancels a pending retry; pause carries over to the next run', async () => {
    vi.useFakeTimers();
    const { p, inners } = setup();
    p.start();
    p.pause();
    inners[0]!.emit('error', new FramecastError('ERR_SOURCE_FAILED', 'gone'));
    await vi.advanceTimersByTimeAsync(100);
    expect(inners[1]!.paused).toBe(true);
    inners[1]!.emit('error', new FramecastError('ERR_SOURCE_FAILED', 'gone'));
    p.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(inners.length).toBe(2);
  });

  it('redacts passwords in the reasons it reports', () => {
    const { p, inners } = setup();
    p.start();
    inners[0]!.emit('error', new FramecastError('ERR_SOURCE_FAILED', 'rtsp://admin:pw@cam/x: 401'));
    expect(p.status.lastError).toBe('rtsp://admin:***@cam/x: 401');
    expect(p.describe().status?.state).toBe('no-signal');
    p.stop();
  });
});

describe('redactCredentials', () => {
  it('removes the password of every URL in a text, and nothing else', () => {
    expect(redactCredentials('rtsp://a:b@h/ and http://u:p@x:8080/s')).toBe(
      'rtsp://a:***@h/ and http://u:***@x:8080/s',
    );
    expect(redactCredentials('http://user@h/')).toBe('http://user:***@h/');
    expect(redactCredentials('/videos/a@b.mp4 http://h/p?q=a@b')).toBe('/videos/a@b.mp4 http://h/p?q=a@b');
  });
});
