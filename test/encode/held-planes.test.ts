/**
 * HeldPlanes: a stream's newest raw frames kept for its renditions, each buffer handed back to its
 * pool exactly once, never while an encode still reads it.
 */
import { describe, expect, it, vi } from 'vitest';
import { HeldPlanes, KEPT_PLANES, type RawPlanes } from '../../src/encode/held-planes.js';
import { Frame } from '../../src/hub/frame.js';

function frame(seq: number, jpeg = Buffer.from(`jpeg ${seq}`)): Frame {
  return new Frame({ seq, width: 4, height: 2, capturedAt: seq, encodedAt: seq, jpeg });
}

/** Planes that count their releases. */
function planes(): RawPlanes & { released: number } {
  const p = {
    data: Buffer.alloc(12),
    width: 4,
    height: 2,
    released: 0,
    release: () => {
      p.released++;
    },
  };
  return p;
}

/** A read that settles when told. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => {};
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('HeldPlanes', () => {
  it(`keeps the newest ${KEPT_PLANES} frames' planes and hands the older ones back, once each`, () => {
    const held = new HeldPlanes();
    const ps = [planes(), planes(), planes(), planes()];
    ps.forEach((p, i) => held.keep(frame(i), p));
    expect(held.size).toBe(KEPT_PLANES);
    expect(ps.map((p) => p.released)).toEqual([1, 1, 0, 0]);
    held.clear();
    held.clear();
    expect(ps.map((p) => p.released)).toEqual([1, 1, 1, 1]);
    expect(held.size).toBe(0);
  });

  it('a frame read by an encode keeps its planes until the encode settles, then hands them back', async () => {
    const held = new HeldPlanes();
    const first = planes();
    const f0 = frame(0);
    held.keep(f0, first);
    const g = gate();
    const reading = held.read(f0, async (raw) => {
      expect(raw).toBe(first);
      await g.promise;
      return 'done';
    });
    // Two newer frames push it out while it is read: not handed back yet.
    held.keep(frame(1), planes());
    held.keep(frame(2), planes());
    expect(first.released).toBe(0);
    g.open();
    expect(await reading).toBe('done');
    expect(first.released).toBe(1);
  });

  it('two reads of one frame: handed back after the last, and a failed read counts as done', async () => {
    const held = new HeldPlanes();
    const p = planes();
    const f = frame(0);
    held.keep(f, p);
    const a = gate();
    const ra = held.read(f, () => a.promise);
    const rb = held.read(f, () => Promise.reject(new Error('bad frame')));
    const rc = held.read(f, () => {
      throw new Error('thrown at once');
    });
    // Let go of while three encodes read it: the two that fail first do not hand it back.
    held.clear();
    await expect(rb).rejects.toThrow('bad frame');
    await expect(rc).rejects.toThrow('thrown at once');
    expect(p.released).toBe(0);
    a.open();
    await ra;
    expect(p.released).toBe(1);
  });

  it('planes read as they arrive: the early read is taken once by its frame, and planes are handed back only when bound and unread', async () => {
    const held = new HeldPlanes<string>();
    const p = planes();
    const arrival = held.arrive(p);
    const g = gate();
    arrival.readEarly('320', async (raw) => {
      expect(raw).toBe(p);
      await g.promise;
      return 'early 320';
    });
    // Not kept before its frame is made: no frame finds it, and it is not among the newest yet.
    expect(held.size).toBe(0);
    const f = frame(0);
    expect(held.early(f, '320')).toBeNull();
    arrival.bind(f);
    arrival.bind(frame(9)); // bound once
    expect(held.size).toBe(1);
    expect(held.early(f, '640')).toBeNull();
    const taken = held.early(f, '320');
    expect(held.early(f, '320')).toBeNull(); // taken once
    // Pushed out by newer frames while the early read runs: back to the pool only after it.
    held.keep(frame(1), planes());
    held.keep(frame(2), planes());
    expect(p.released).toBe(0);
    g.open();
    expect(await taken).toBe('early 320');
    expect(p.released).toBe(1);
    // After bind: not started, nothing kept under its name.
    const late = vi.fn(() => Promise.resolve('no'));
    arrival.readEarly('late', late);
    expect(late).not.toHaveBeenCalled();
    expect(held.early(f, 'late')).toBeNull();
  });

  it('planes whose frame is never made go back once their early reads are done, a failed one too; those bound after clear() are not kept', async () => {
    const held = new HeldPlanes<string>();
    const none = planes();
    const a = held.arrive(none);
    const g = gate();
    a.readEarly('ok', () => g.promise.then(() => 'ok'));
    a.readEarly('bad', () => Promise.reject(new Error('bad planes')));
    a.bind(null);
    await Promise.resolve();
    expect(none.released).toBe(0);
    g.open();
    await vi.waitFor(() => expect(none.released).toBe(1));
    const late = planes();
    const b = held.arrive(late);
    held.clear();
    b.bind(frame(3));
    expect(held.size).toBe(0);
    expect(late.released).toBe(1);
  });

  it('finds a frame by its JPEG (a renumbered copy of it too); null for a frame it does not hold', async () => {
    const held = new HeldPlanes();
    const f = frame(7);
    const p = planes();
    held.keep(f, p);
    const copy = new Frame({ ...f, seq: 0 });
    expect(await held.read(copy, (raw) => Promise.resolve(raw === p))).toBe(true);
    expect(held.read(frame(7), () => Promise.resolve(true))).toBeNull();
  });
});
