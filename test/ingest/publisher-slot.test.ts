/**
 * A stream's publisher slot: who holds it, who is refused or evicted, and when an idle publisher
 * loses it (fake clock).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  PUBLISH_IDLE_MS,
  PUBLISH_IDLE_REASON,
  PublisherSlot,
  type IngestFrame,
  type PublisherConnection,
} from '../../src/ingest/publish/publisher-slot.js';
import { ImageBound } from '../../src/util/jpeg.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A connection that records how the slot ended it. */
function conn(address: string): PublisherConnection & { evicted: string[] } {
  const evicted: string[] = [];
  return { address, via: 'tcp', evicted, evict: (reason) => evicted.push(reason) };
}

const frame = (n: number): IngestFrame => ({
  jpeg: Buffer.from([n]),
  width: 16,
  height: 8,
  capturedAt: n,
  receivedAt: n,
});

/** Everything the slot says, in order. */
function record(slot: PublisherSlot): string[] {
  const log: string[] = [];
  slot.on('connected', (c) => log.push(`connected ${c.address}`));
  slot.on('disconnected', (c, why) => log.push(`disconnected ${c.address}: ${why}`));
  slot.on('frame', (f) => log.push(`frame ${f.capturedAt}`));
  return log;
}

describe('PublisherSlot', () => {
  it('the first publisher takes the slot; a second is refused and the first keeps it', () => {
    const slot = new PublisherSlot(false);
    const log = record(slot);
    const [a, b] = [conn('a'), conn('b')];
    expect(slot.current).toBeNull();
    expect(slot.claim(a)).toBe(true);
    expect(slot.claim(b)).toBe(false);
    expect(slot.current).toBe(a);
    expect(a.evicted).toEqual([]);
    expect(log).toEqual(['connected a']);
    // The holder claiming again keeps it (no eviction of itself).
    expect(slot.claim(a)).toBe(true);
    expect(a.evicted).toEqual([]);
  });

  it('with override a newcomer takes the slot: the old one is evicted as replaced, then the new one connects', () => {
    const slot = new PublisherSlot(true);
    const log = record(slot);
    const [a, b] = [conn('a'), conn('b')];
    slot.claim(a);
    let holderWhenEvicted: PublisherConnection | null | undefined;
    a.evict = (reason) => {
      a.evicted.push(reason);
      holderWhenEvicted = slot.current;
    };
    expect(slot.claim(b)).toBe(true);
    expect(slot.override).toBe(true);
    expect(a.evicted).toEqual(['replaced']);
    // The slot had let go of the old one before telling it.
    expect(holderWhenEvicted).toBeNull();
    expect(slot.current).toBe(b);
    expect(log).toEqual(['connected a', 'disconnected a: replaced by a new publisher', 'connected b']);
  });

  it('takes frames from the current publisher only, keeping the newest as last', () => {
    const slot = new PublisherSlot(false);
    const log = record(slot);
    const [a, b] = [conn('a'), conn('b')];
    expect(slot.last).toBeNull();
    slot.claim(a);
    slot.frame(a, frame(1));
    slot.frame(b, frame(2));
    slot.frame(a, frame(3));
    expect(slot.last).toEqual(frame(3));
    expect(log).toEqual(['connected a', 'frame 1', 'frame 3']);
  });

  it('release frees the slot for the next publisher once, and only for the holder', () => {
    const slot = new PublisherSlot(false);
    const log = record(slot);
    const [a, b] = [conn('a'), conn('b')];
    slot.claim(a);
    slot.release(b, 'not the holder');
    expect(slot.current).toBe(a);
    slot.release(a, 'the connection closed');
    slot.release(a, 'again');
    expect(slot.current).toBeNull();
    expect(slot.claim(b)).toBe(true);
    expect(log).toEqual(['connected a', 'disconnected a: the connection closed', 'connected b']);
    // The last frame outlives its publisher (a first viewer may still see it).
    expect(a.evicted).toEqual([]);
  });

  it('close() evicts the holder as removed, refuses every later claim, and is idempotent', () => {
    const slot = new PublisherSlot(true);
    const log = record(slot);
    const a = conn('a');
    slot.claim(a);
    slot.close();
    slot.close();
    expect(a.evicted).toEqual(['removed']);
    expect(slot.current).toBeNull();
    expect(slot.claim(conn('b'))).toBe(false);
    expect(log).toEqual(['connected a']);
    new PublisherSlot(false).close(); // nobody to evict
  });

  it('refuseSize applies the stream bound and counts what it refused', () => {
    const slot = new PublisherSlot(false, new ImageBound(100 * 100));
    expect(slot.refuseSize(100, 100)).toBeNull();
    expect(slot.refuseSize(101, 100)).toMatch(/^image too large/);
    expect(slot.images.refused).toBe(1);
    expect(new PublisherSlot(false).images.maxPixels).toBe(new ImageBound().maxPixels);
  });
});

describe('PublisherSlot: idle publishers', () => {
  it('the limit is 10 s, and its reason says so', () => {
    expect(PUBLISH_IDLE_MS).toBe(10_000);
    expect(PUBLISH_IDLE_REASON).toBe('no complete frame for 10 s: the stream is free for another publisher');
  });

  it('evicts a publisher that sent no frame for the idle time after its claim, and frees the slot', () => {
    vi.useFakeTimers();
    const slot = new PublisherSlot(false);
    const log = record(slot);
    const a = conn('a');
    slot.claim(a);
    vi.advanceTimersByTime(PUBLISH_IDLE_MS - 1);
    expect(a.evicted).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(a.evicted).toEqual(['idle']);
    expect(slot.current).toBeNull();
    expect(log).toEqual(['connected a', `disconnected a: ${PUBLISH_IDLE_REASON}`]);
    expect(slot.claim(conn('b'))).toBe(true);
  });

  it('each frame restarts the deadline', () => {
    vi.useFakeTimers();
    const slot = new PublisherSlot(false, new ImageBound(), 1000);
    const a = conn('a');
    slot.claim(a);
    vi.advanceTimersByTime(900);
    slot.frame(a, frame(1));
    vi.advanceTimersByTime(900);
    slot.frame(a, frame(2));
    vi.advanceTimersByTime(999);
    expect(a.evicted).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(a.evicted).toEqual(['idle']);
  });

  it('a frame from another connection does not keep the holder alive', () => {
    vi.useFakeTimers();
    const slot = new PublisherSlot(false, new ImageBound(), 1000);
    const a = conn('a');
    slot.claim(a);
    vi.advanceTimersByTime(900);
    slot.frame(conn('b'), frame(1));
    vi.advanceTimersByTime(100);
    expect(a.evicted).toEqual(['idle']);
  });

  it('no deadline runs after a release or a close', () => {
    vi.useFakeTimers();
    const slot = new PublisherSlot(false, new ImageBound(), 1000);
    const a = conn('a');
    slot.claim(a);
    slot.release(a, 'gone');
    expect(vi.getTimerCount()).toBe(0);
    const b = conn('b');
    slot.claim(b);
    slot.close();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5000);
    expect([a.evicted, b.evicted]).toEqual([[], ['removed']]);
  });

  it('after a takeover only the newcomer has a deadline, counted from its claim', () => {
    vi.useFakeTimers();
    const slot = new PublisherSlot(true, new ImageBound(), 1000);
    const [a, b] = [conn('a'), conn('b')];
    slot.claim(a);
    vi.advanceTimersByTime(600);
    slot.claim(b);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(999);
    expect(b.evicted).toEqual([]);
    vi.advanceTimersByTime(1);
    expect([a.evicted, b.evicted]).toEqual([['replaced'], ['idle']]);
  });
});
