import { describe, expect, it } from 'vitest';
import { FramePool } from '../../src/source/frame-pool.js';

describe('FramePool', () => {
  it('hands back returned buffers instead of allocating', () => {
    const pool = new FramePool(16, 2);
    const a = pool.take();
    const b = pool.take();
    expect(a).toHaveLength(16);
    expect(a).not.toBe(b);
    pool.give(a);
    expect(pool.available).toBe(1);
    expect(pool.take()).toBe(a);
  });

  it('keeps at most max buffers, ignores foreign or doubly returned ones', () => {
    const pool = new FramePool(16, 1);
    const a = pool.take();
    const b = pool.take();
    pool.give(a);
    pool.give(a);
    pool.give(b);
    expect(pool.available).toBe(1);
    pool.take();
    pool.give(Buffer.alloc(8));
    pool.give(Buffer.alloc(32).subarray(16));
    expect(pool.available).toBe(0);
  });

  it('refuses a frame size that is not a positive integer', () => {
    expect(() => new FramePool(0, 1)).toThrow(RangeError);
  });
});
