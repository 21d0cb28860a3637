import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LegacyParser } from '../../src/client/legacy-parser.js';
import { FramecastError } from '../../src/errors.js';
import { largestAllocation } from './support/alloc-spy.js';
import { splitAt } from './support/split.js';

// Property tests of the seed framing reader: whatever a peer sends, the parser returns frames, or a
// coded error, synchronously (no hang) and without allocating more than its limit.

const MAX = 4096;

function frameBytes(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, 4);
  return out;
}

function header(n: number): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(n >>> 0, 0);
  return h;
}

/** Feeds chunks; returns payload copies and the error, if any. */
function feed(parser: LegacyParser, chunks: Buffer[]): { payloads: Buffer[]; error: unknown } {
  const payloads: Buffer[] = [];
  try {
    for (const c of chunks) parser.push(c, (p) => payloads.push(Buffer.from(p)));
    return { payloads, error: null };
  } catch (error) {
    return { payloads, error };
  }
}

const payloadArb = fc.uint8Array({ minLength: 0, maxLength: 300 });

describe('LegacyParser under hostile input', () => {
  it('random bytes in random chunks: frames or ERR_FRAME_TOO_LARGE, never more than the limit allocated', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 2000 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (bytes, cuts) => {
          const parser = new LegacyParser(MAX);
          const { result, largest } = largestAllocation(() =>
            feed(parser, splitAt(Buffer.from(bytes), cuts)),
          );
          expect(largest).toBeLessThanOrEqual(MAX);
          for (const p of result.payloads) expect(p.length).toBeLessThanOrEqual(MAX);
          if (result.error !== null) {
            expect(result.error).toBeInstanceOf(FramecastError);
            expect((result.error as FramecastError).code).toBe('ERR_FRAME_TOO_LARGE');
            // A failed parser stays failed: nothing more is parsed from that stream.
            expect(() => parser.push(Buffer.from([0, 0, 0, 0]), () => {})).toThrow(result.error as Error);
          } else {
            try {
              parser.finish();
              expect(parser.atBoundary).toBe(true);
            } catch (err) {
              expect((err as FramecastError).code).toBe('ERR_TRUNCATED_FRAME');
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('valid streams split anywhere give back exactly the frames sent', () => {
    fc.assert(
      fc.property(
        fc.array(payloadArb, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (payloads, cuts) => {
          const stream = Buffer.concat(payloads.map(frameBytes));
          const parser = new LegacyParser(MAX);
          const { payloads: got, error } = feed(parser, splitAt(stream, cuts));
          expect(error).toBeNull();
          expect(got.map((b) => b.toString('hex'))).toEqual(
            payloads.map((p) => Buffer.from(p).toString('hex')),
          );
          expect(parser.atBoundary).toBe(true);
          expect(() => parser.finish()).not.toThrow();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('every two-way and byte-by-byte split of a fixed stream parses the same', () => {
    const payloads = [Buffer.alloc(0), Buffer.from('a'), Buffer.alloc(37, 7), Buffer.from('/9j/4AAQ')];
    const stream = Buffer.concat(payloads.map(frameBytes));
    const want = payloads.map((p) => p.toString('hex'));
    for (let cut = 0; cut <= stream.length; cut++) {
      const { payloads: got, error } = feed(new LegacyParser(MAX), splitAt(stream, [cut]));
      expect(error).toBeNull();
      expect(got.map((b) => b.toString('hex'))).toEqual(want);
    }
    const bytes = [...stream].map((b) => Buffer.from([b]));
    expect(feed(new LegacyParser(MAX), bytes).payloads.map((b) => b.toString('hex'))).toEqual(want);
  });

  it('a stream cut anywhere but a frame boundary is ERR_TRUNCATED_FRAME at the end', () => {
    fc.assert(
      fc.property(fc.array(payloadArb, { minLength: 1, maxLength: 5 }), fc.nat(), (payloads, cutSeed) => {
        const stream = Buffer.concat(payloads.map(frameBytes));
        const boundaries = new Set<number>([0]);
        let off = 0;
        for (const p of payloads) boundaries.add((off += 4 + p.length));
        const cut = cutSeed % (stream.length + 1);
        const parser = new LegacyParser(MAX);
        expect(feed(parser, [stream.subarray(0, cut)]).error).toBeNull();
        if (boundaries.has(cut)) {
          expect(() => parser.finish()).not.toThrow();
        } else {
          expect(() => parser.finish()).toThrow(expect.objectContaining({ code: 'ERR_TRUNCATED_FRAME' }));
        }
      }),
      { numRuns: 300 },
    );
  });

  describe('forged lengths', () => {
    const accepted = [0, 1, MAX - 1, MAX];
    for (const n of accepted) {
      it(`declared ${n} (limit ${MAX}) is accepted and allocates at most ${n} bytes`, () => {
        const body = Buffer.alloc(n, 0x41);
        for (const chunks of [
          [Buffer.concat([header(n), body])],
          [header(n), body],
          splitAt(Buffer.concat([header(n), body]), [3, 5, n]),
        ]) {
          const parser = new LegacyParser(MAX);
          const { result, largest } = largestAllocation(() => feed(parser, chunks));
          expect(result.error).toBeNull();
          expect(result.payloads.map((p) => p.length)).toEqual([n]);
          expect(largest).toBeLessThanOrEqual(Math.max(n, 4));
        }
        // The spy does see the parser's body buffer when the body arrives after its header.
        const split = largestAllocation(() => feed(new LegacyParser(MAX), [header(n), body]));
        if (n > 4) expect(split.largest).toBe(n);
      });
    }

    for (const n of [MAX + 1, 2 * MAX, 0x7fffffff, 0xfffffffe, 0xffffffff]) {
      it(`declared ${n} (limit ${MAX}) fails with ERR_FRAME_TOO_LARGE before buffering`, () => {
        for (const chunks of [
          [header(n)],
          [header(n).subarray(0, 1), header(n).subarray(1)],
          [Buffer.concat([header(n), Buffer.alloc(100)])],
        ]) {
          const parser = new LegacyParser(MAX);
          const { result, largest } = largestAllocation(() => feed(parser, chunks));
          expect((result.error as FramecastError).code).toBe('ERR_FRAME_TOO_LARGE');
          expect((result.error as FramecastError).message).toContain(String(n));
          expect(result.payloads).toEqual([]);
          expect(largest).toBeLessThanOrEqual(4);
        }
      });
    }

    it('the default limit rejects 0xFFFFFFFF without allocating it', () => {
      const parser = new LegacyParser();
      const { result, largest } = largestAllocation(() =>
        feed(parser, [header(0xffffffff), Buffer.alloc(8)]),
      );
      expect((result.error as FramecastError).code).toBe('ERR_FRAME_TOO_LARGE');
      expect(largest).toBeLessThan(1024);
    });

    it('a declared length after valid frames is still checked', () => {
      const stream = Buffer.concat([frameBytes(Buffer.from('ok')), header(MAX + 1), Buffer.alloc(10)]);
      const { payloads, error } = feed(new LegacyParser(MAX), [stream]);
      expect(payloads.map((p) => p.toString())).toEqual(['ok']);
      expect((error as FramecastError).code).toBe('ERR_FRAME_TOO_LARGE');
    });
  });

  it('a huge stream of tiny frames is parsed in bounded time (no quadratic work)', () => {
    const one = frameBytes(Buffer.from('x'));
    const stream = Buffer.concat(Array.from({ length: 200_000 }, () => one));
    const parser = new LegacyParser(MAX);
    let count = 0;
    const t0 = performance.now();
    for (let off = 0; off < stream.length; off += 3)
      parser.push(stream.subarray(off, off + 3), () => count++);
    expect(count).toBe(200_000);
    // Generous: linear work takes tens of ms; quadratic would take minutes.
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});
