import { headers, type Msg } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { ORIGIN_HEADER, PART_HEADER, PART_TIMEOUT_MS, PartAssembler, SEQ_HEADER } from '../../src/bus/bus.js';

/** A message as nats.js hands it over: data and, for a part, its headers. */
function msg(data: Uint8Array, part?: string, seq = '7', origin?: string): Pick<Msg, 'data' | 'headers'> {
  if (part === undefined) return { data, headers: undefined };
  const h = headers();
  h.set(PART_HEADER, part);
  h.set(SEQ_HEADER, seq);
  if (origin) h.set(ORIGIN_HEADER, origin);
  return { data, headers: h };
}

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

describe('PartAssembler', () => {
  it('passes a whole message through and joins parts in order', () => {
    const a = new PartAssembler();
    expect(a.push(msg(bytes(3, 1)))?.equals(Buffer.from([1, 1, 1]))).toBe(true);
    expect(a.push(msg(bytes(2, 1), '1/3'))).toBeNull();
    expect(a.push(msg(bytes(2, 2), '2/3'))).toBeNull();
    const whole = a.push(msg(bytes(1, 3), '3/3'));
    expect(whole?.equals(Buffer.from([1, 1, 2, 2, 3]))).toBe(true);
    expect(a.heldBytes).toBe(0);
  });

  it.each(['0/0', '1/0', '1/999999', '-1/2', '2/1', 'x/2', '1/2/3', '', '1/4097'])(
    'refuses the malformed part header %j and holds nothing',
    (part) => {
      const a = new PartAssembler();
      const got = a.push(msg(bytes(4, 9), part));
      // '' has no header value: the message counts as whole (nats.js gives '' for a missing header).
      if (part === '') expect(got?.length).toBe(4);
      else expect(got).toBeNull();
      expect(a.heldBytes).toBe(0);
      // It did not spoil a frame sent in parts afterwards.
      expect(a.push(msg(bytes(2, 1), '1/2'))).toBeNull();
      expect(a.push(msg(bytes(2, 2), '2/2'))?.length).toBe(4);
    },
  );

  it('a missing part drops that frame only', () => {
    const a = new PartAssembler();
    expect(a.push(msg(bytes(2, 1), '1/3', '1'))).toBeNull();
    expect(a.push(msg(bytes(2, 3), '3/3', '1'))).toBeNull(); // part 2 lost
    expect(a.heldBytes).toBe(0);
    expect(a.push(msg(bytes(2, 1), '1/2', '2'))).toBeNull();
    expect(a.push(msg(bytes(2, 2), '2/2', '2'))?.length).toBe(4);
  });

  it('interleaved frames of two seqs, and of two origins with the same seq, both arrive whole', () => {
    const a = new PartAssembler();
    expect(a.push(msg(bytes(2, 1), '1/2', '5'))).toBeNull();
    expect(a.push(msg(bytes(2, 3), '1/2', '900'))).toBeNull();
    expect(a.push(msg(bytes(2, 2), '2/2', '5'))?.equals(Buffer.from([1, 1, 2, 2]))).toBe(true);
    expect(a.push(msg(bytes(2, 4), '2/2', '900'))?.equals(Buffer.from([3, 3, 4, 4]))).toBe(true);
    // A restarted origin next to the old one: the same seq from two processes.
    expect(a.push(msg(bytes(1, 1), '1/2', '8', 'old'))).toBeNull();
    expect(a.push(msg(bytes(1, 5), '1/2', '8', 'new'))).toBeNull();
    expect(a.push(msg(bytes(1, 6), '2/2', '8', 'new'))?.equals(Buffer.from([5, 6]))).toBe(true);
    expect(a.push(msg(bytes(1, 2), '2/2', '8', 'old'))?.equals(Buffer.from([1, 2]))).toBe(true);
    expect(a.heldBytes).toBe(0);
  });

  it('caps the bytes of a frame: a declared size over the cap at once, a growing one at the part that crosses it', () => {
    const a = new PartAssembler(1000);
    // 4096 parts of 100 bytes cannot fit: refused at the first part, nothing held.
    expect(a.push(msg(bytes(100, 1), '1/4096'))).toBeNull();
    expect(a.heldBytes).toBe(0);
    expect(a.push(msg(bytes(100, 1), '2/4096'))).toBeNull();
    expect(a.heldBytes).toBe(0);
    // Small first part, then a large one: dropped when it would cross 1000 bytes.
    expect(a.push(msg(bytes(10, 1), '1/3', '2'))).toBeNull();
    expect(a.push(msg(bytes(995, 2), '2/3', '2'))).toBeNull();
    expect(a.heldBytes).toBe(0);
    expect(a.push(msg(bytes(10, 3), '3/3', '2'))).toBeNull();
    // Frames in progress together stay under the cap: the oldest gives way.
    expect(a.push(msg(bytes(400, 1), '1/2', '3'))).toBeNull();
    expect(a.push(msg(bytes(400, 2), '1/2', '4'))).toBeNull();
    expect(a.push(msg(bytes(400, 3), '1/2', '5'))).toBeNull();
    expect(a.heldBytes).toBe(800);
    expect(a.push(msg(bytes(10, 1), '2/2', '3'))).toBeNull(); // seq 3 was dropped
    expect(a.push(msg(bytes(10, 1), '2/2', '4'))?.length).toBe(410);
    expect(a.push(msg(bytes(10, 1), '2/2', '5'))?.length).toBe(410);
  });

  it('drops a frame whose parts stopped coming for longer than PART_TIMEOUT_MS', () => {
    const a = new PartAssembler();
    const t0 = 1_000_000;
    expect(a.push(msg(bytes(8, 1), '1/3', '1'), t0)).toBeNull();
    expect(a.push(msg(bytes(8, 2), '2/3', '1'), t0 + 100)).toBeNull();
    expect(a.heldBytes).toBe(16);
    // Any part that comes later clears it, whatever frame it belongs to.
    expect(a.push(msg(bytes(8, 1), '1/2', '2'), t0 + PART_TIMEOUT_MS + 1)).toBeNull();
    expect(a.heldBytes).toBe(8);
    expect(a.push(msg(bytes(8, 3), '3/3', '1'), t0 + PART_TIMEOUT_MS + 2)).toBeNull();
    // Within the time, a slow frame still completes.
    expect(a.push(msg(bytes(8, 2), '2/2', '2'), t0 + 2 * PART_TIMEOUT_MS)?.length).toBe(16);
  });
});
