import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FramecastError } from '../../src/errors.js';
import {
  HELLO_FIXED_BYTES,
  MAX_HEADER_BYTES,
  MAX_TEXT_BYTES,
  MAX_TOKEN_BYTES,
  decodeHello,
  encodeEnd,
  encodeError,
  encodeHello,
  encodeNativeFrame,
  encodePreamble,
  encodeStatus,
  encodeWelcome,
} from '../../src/protocol/native.js';
import { NativeParser, type NativeMessage } from '../../src/protocol/native-parser.js';
import { largestAllocation } from './support/alloc-spy.js';
import { splitAt } from './support/split.js';

// Property tests of the native protocol's readers: the client's message parser and the server's
// hello decoder. Whatever arrives: messages or a coded error, at once, within the allocation limits.

const MAX = 4096;
const PREAMBLE = encodePreamble();

function feed(parser: NativeParser, chunks: Buffer[]): { messages: NativeMessage[]; error: unknown } {
  const messages: NativeMessage[] = [];
  try {
    for (const c of chunks)
      parser.push(c, (m) => messages.push(m.type === 'frame' ? { ...m, jpeg: Buffer.from(m.jpeg) } : m));
    return { messages, error: null };
  } catch (error) {
    return { messages, error };
  }
}

/** An envelope with arbitrary (possibly forged) fields. */
function envelope(type: number, headerLength: number, bodyLength: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(type, 0);
  b.writeUInt16BE(headerLength, 2);
  b.writeUInt32BE(bodyLength >>> 0, 4);
  return b;
}

const messageArb = fc.oneof(
  fc
    .record({
      seq: fc.nat(0xffffffff),
      w: fc.nat(0xffff),
      h: fc.nat(0xffff),
      jpeg: fc.uint8Array({ maxLength: 300 }),
    })
    .map((f) =>
      encodeNativeFrame(
        { seq: f.seq, width: f.w, height: f.h, capturedAt: 1, encodedAt: 2, jpeg: Buffer.from(f.jpeg) },
        3,
      ),
    ),
  fc.tuple(fc.nat(0xffff), fc.nat(), fc.string({ maxLength: 40 })).map(([c, v, m]) => encodeStatus(c, v, m)),
  fc.string({ maxLength: 40 }).map((m) => encodeEnd('eof', m)),
  fc.tuple(fc.nat(0xffff), fc.string({ maxLength: 40 })).map(([c, m]) => encodeError(c, m)),
  fc.string({ maxLength: 40 }).map((m) => encodeWelcome(1, 2, m)),
  // A message type from a later revision, which readers skip.
  fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.concat([envelope(99, 0, b.length), Buffer.from(b)])),
);

describe('NativeParser under hostile input', () => {
  it('random bytes after a valid preamble: messages or a coded error, allocations within the limits', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (bytes, cuts) => {
          const parser = new NativeParser(MAX);
          const stream = Buffer.concat([PREAMBLE, Buffer.from(bytes)]);
          const { result, largest } = largestAllocation(() => feed(parser, splitAt(stream, cuts)));
          expect(largest).toBeLessThanOrEqual(Math.max(MAX, MAX_TEXT_BYTES, MAX_HEADER_BYTES));
          for (const m of result.messages)
            if (m.type === 'frame') expect(m.jpeg.length).toBeLessThanOrEqual(MAX);
          if (result.error !== null) {
            expect(result.error).toBeInstanceOf(FramecastError);
            expect(['ERR_PROTOCOL', 'ERR_FRAME_TOO_LARGE']).toContain((result.error as FramecastError).code);
            expect(() => parser.push(Buffer.alloc(8), () => {})).toThrow();
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('entirely random bytes (no preamble) never crash the parser', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), (bytes) => {
        const { error } = feed(new NativeParser(MAX), [Buffer.from(bytes)]);
        if (error !== null)
          expect((error as FramecastError).code).toMatch(/^ERR_(PROTOCOL|FRAME_TOO_LARGE)$/);
      }),
      { numRuns: 500 },
    );
  });

  it('valid streams split anywhere decode to the same messages', () => {
    fc.assert(
      fc.property(
        fc.array(messageArb, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (msgs, cuts) => {
          const stream = Buffer.concat([PREAMBLE, ...msgs]);
          const whole = feed(new NativeParser(MAX), [stream]);
          expect(whole.error).toBeNull();
          const parser = new NativeParser(MAX);
          const split = feed(parser, splitAt(stream, cuts));
          expect(split.error).toBeNull();
          expect(split.messages).toEqual(whole.messages);
          expect(whole.messages.length).toBe(msgs.filter((m) => m[0] !== 99).length);
          expect(parser.atBoundary).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  describe('forged lengths', () => {
    const frameHeader = (bodyLength: number): Buffer =>
      Buffer.concat([envelope(2, 32, bodyLength), Buffer.alloc(32)]);

    for (const n of [0, 1, MAX - 1, MAX]) {
      it(`a frame body of ${n} (limit ${MAX}) is read, allocating at most ${n} bytes for it`, () => {
        const parser = new NativeParser(MAX);
        const { result, largest } = largestAllocation(() =>
          feed(parser, [PREAMBLE, frameHeader(n), Buffer.alloc(n, 7)]),
        );
        expect(result.error).toBeNull();
        expect(result.messages.map((m) => (m.type === 'frame' ? m.jpeg.length : -1))).toEqual([n]);
        expect(largest).toBeLessThanOrEqual(Math.max(n, MAX_HEADER_BYTES));
      });
    }

    for (const n of [MAX + 1, 0x7fffffff, 0xffffffff]) {
      it(`a frame body of ${n} (limit ${MAX}) is ERR_FRAME_TOO_LARGE before buffering`, () => {
        const { result, largest } = largestAllocation(() =>
          feed(new NativeParser(MAX), [PREAMBLE, frameHeader(n), Buffer.alloc(64)]),
        );
        expect((result.error as FramecastError).code).toBe('ERR_FRAME_TOO_LARGE');
        expect(largest).toBeLessThanOrEqual(64);
      });
    }

    it('text bodies over the text cap and headers over the header cap are refused before buffering', () => {
      for (const bytes of [
        envelope(3, 8, MAX_TEXT_BYTES + 1),
        envelope(5, 4, 0xffffffff),
        envelope(2, MAX_HEADER_BYTES + 1, 0),
        envelope(2, 0xffff, 10),
        envelope(2, 31, 10), // shorter than a frame header
      ]) {
        const { result, largest } = largestAllocation(() => feed(new NativeParser(MAX), [PREAMBLE, bytes]));
        expect((result.error as FramecastError).code).toBe('ERR_PROTOCOL');
        expect(largest).toBeLessThanOrEqual(64);
      }
    });

    it('an unknown message type is skipped without buffering, but not beyond the frame limit', () => {
      const filler = Buffer.alloc(1000 + MAX);
      const skip = largestAllocation(() =>
        feed(new NativeParser(MAX), [PREAMBLE, envelope(77, 1000, MAX), filler]),
      );
      expect(skip.result.error).toBeNull();
      expect(skip.largest).toBeLessThanOrEqual(64);
      const huge = feed(new NativeParser(MAX), [PREAMBLE, envelope(77, 0, 0xffffffff)]);
      expect((huge.error as FramecastError).code).toBe('ERR_PROTOCOL');
    });
  });
});

describe('decodeHello under hostile input', () => {
  it('never throws; ok results stay within the bytes given and the token cap', () => {
    const helloish = fc
      .tuple(fc.nat(255), fc.nat(0xffff), fc.double(), fc.uint8Array({ maxLength: 200 }))
      .map(([v, tokLen, t, rest]) => {
        const b = Buffer.alloc(HELLO_FIXED_BYTES);
        b.write('FCST', 0, 'latin1');
        b.writeUInt8(v, 4);
        b.writeUInt16BE(tokLen, 6);
        b.writeDoubleBE(t, 8);
        return Buffer.concat([b, Buffer.from(rest)]);
      });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 100 }).map((u) => Buffer.from(u)),
          helloish,
        ),
        (buf) => {
          const r = decodeHello(buf);
          if (r.status === 'ok') {
            expect(r.consumed).toBeLessThanOrEqual(buf.length);
            expect(Buffer.byteLength(r.hello.token)).toBeLessThanOrEqual(MAX_TOKEN_BYTES * 3);
            expect(Number.isFinite(r.hello.clientTime)).toBe(true);
          } else if (r.status === 'error') {
            expect(r.code).toBeGreaterThan(0);
            expect(r.message.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('every prefix of a valid hello is incomplete; the whole is ok', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 50 }), (token) => {
        const hello = encodeHello(token, 1234.5);
        for (let n = 0; n < hello.length; n++)
          expect(decodeHello(hello.subarray(0, n)).status).toBe('incomplete');
        const r = decodeHello(hello);
        expect(r.status === 'ok' && r.hello.token === token && r.consumed === hello.length).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('a declared token over the cap, or a non-finite clock, is an error before the token arrives', () => {
    const b = encodeHello('', 1);
    b.writeUInt16BE(MAX_TOKEN_BYTES + 1, 6);
    expect(decodeHello(b)).toMatchObject({ status: 'error' });
    const nan = encodeHello('', 1);
    nan.writeDoubleBE(NaN, 8);
    expect(decodeHello(nan)).toMatchObject({ status: 'error' });
    expect(decodeHello(Buffer.from('FCSX'))).toMatchObject({ status: 'error' });
  });
});
