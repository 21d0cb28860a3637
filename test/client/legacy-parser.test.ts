import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_FRAME_BYTES, LegacyParser } from '../../src/client/legacy-parser.js';
import { FramecastError } from '../../src/errors.js';

/** The seed's framing, written independently of the code under test: struct.pack('>L', n) + payload. */
function frame(payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

function feed(parser: LegacyParser, chunks: Buffer[]): string[] {
  const got: string[] = [];
  for (const c of chunks) parser.push(c, (p) => got.push(p.toString('latin1')));
  return got;
}

function catchError(fn: () => void): FramecastError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FramecastError);
    return err as FramecastError;
  }
  throw new Error('expected a FramecastError, nothing was thrown');
}

const payloads = ['/9j/4AAQSkZJRg==', '', 'x', 'QUJDRA==', 'a'.repeat(300), 'Zm9v'];
const stream = Buffer.concat(payloads.map((p) => frame(p)));

describe('LegacyParser', () => {
  it('parses a whole stream pushed at once', () => {
    const p = new LegacyParser();
    expect(feed(p, [stream])).toEqual(payloads);
    expect(p.atBoundary).toBe(true);
    expect(() => p.finish()).not.toThrow();
  });

  it('gives the same frames whatever single offset the stream is split at', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const p = new LegacyParser();
      const got = feed(p, [stream.subarray(0, cut), stream.subarray(cut)]);
      expect(got, `split at ${cut}`).toEqual(payloads);
      p.finish();
    }
  });

  it('gives the same frames when split at every pair of offsets (three chunks)', () => {
    const small = Buffer.concat([frame('abc'), frame(''), frame('defgh')]);
    for (let a = 0; a <= small.length; a++) {
      for (let b = a; b <= small.length; b++) {
        const p = new LegacyParser();
        const got = feed(p, [small.subarray(0, a), small.subarray(a, b), small.subarray(b)]);
        expect(got, `split at ${a},${b}`).toEqual(['abc', '', 'defgh']);
      }
    }
  });

  it('parses one byte at a time, including inside the length prefix', () => {
    const p = new LegacyParser();
    const chunks = [...stream].map((b) => Buffer.of(b));
    expect(feed(p, chunks)).toEqual(payloads);
    expect(p.atBoundary).toBe(true);
  });

  it('reports progress inside the header and the body', () => {
    const p = new LegacyParser();
    const f = frame('hello');
    p.push(f.subarray(0, 2), () => {});
    expect(p.progress).toEqual({ have: 2, want: 4 });
    expect(p.atBoundary).toBe(false);
    p.push(f.subarray(2, 7), () => {});
    expect(p.progress).toEqual({ have: 3, want: 5 });
  });

  it('emits a zero-length frame as an empty payload and goes on', () => {
    const p = new LegacyParser();
    const got = feed(p, [Buffer.concat([frame(''), frame(''), frame('z')])]);
    expect(got).toEqual(['', '', 'z']);
  });

  it('ignores empty chunks', () => {
    const p = new LegacyParser();
    const got = feed(p, [Buffer.alloc(0), frame('ab'), Buffer.alloc(0)]);
    expect(got).toEqual(['ab']);
  });

  it('delivers payloads that stay valid after later pushes (copies when it has to assemble)', () => {
    const p = new LegacyParser();
    const kept: Buffer[] = [];
    const f = frame('0123456789');
    p.push(f.subarray(0, 6), (x) => kept.push(x));
    p.push(f.subarray(6), (x) => kept.push(x));
    f.fill(0);
    expect(kept[0]?.toString()).toBe('0123456789');
  });

  it('accepts a frame exactly at the limit', () => {
    const p = new LegacyParser(10);
    expect(feed(p, [frame('0123456789')])).toEqual(['0123456789']);
  });

  it('rejects a declared length over the limit before buffering the body', () => {
    const p = new LegacyParser(10);
    const err = catchError(() => p.push(Buffer.from([0, 0, 0, 11]), () => {}));
    expect(err.code).toBe('ERR_FRAME_TOO_LARGE');
    expect(err.message).toMatch(/11 bytes.*limit of 10 bytes/);
  });

  it('rejects a forged 0xFFFFFFFF length with only the 4 header bytes pushed', () => {
    const p = new LegacyParser();
    expect(p.maxFrameBytes).toBe(DEFAULT_MAX_FRAME_BYTES);
    const err = catchError(() => p.push(Buffer.from([0xff, 0xff, 0xff, 0xff]), () => {}));
    expect(err.code).toBe('ERR_FRAME_TOO_LARGE');
    expect(err.message).toContain('4294967295');
    expect(err.exitCode).toBe(1);
  });

  it('rejects a forged length that arrives one byte at a time', () => {
    const p = new LegacyParser(1000);
    p.push(Buffer.of(0x7f), () => {});
    p.push(Buffer.of(0x00), () => {});
    p.push(Buffer.of(0x00), () => {});
    expect(catchError(() => p.push(Buffer.of(0x00), () => {})).code).toBe('ERR_FRAME_TOO_LARGE');
  });

  it('delivers the frames before a forged length, then stays failed', () => {
    const p = new LegacyParser(100);
    const got: string[] = [];
    const bad = Buffer.concat([frame('ok1'), frame('ok2'), Buffer.from([0, 1, 0, 0])]);
    expect(() => p.push(bad, (x) => got.push(x.toString()))).toThrow(/over the limit/);
    expect(got).toEqual(['ok1', 'ok2']);
    expect(catchError(() => p.push(frame('later'), () => {})).code).toBe('ERR_FRAME_TOO_LARGE');
    // finish() after a failure does not report a second, different error.
    expect(() => p.finish()).not.toThrow();
  });

  it('finish() throws ERR_TRUNCATED_FRAME when the stream ends inside a body', () => {
    const p = new LegacyParser();
    const f = frame('abcdefgh');
    p.push(f.subarray(0, 7), () => {});
    const err = catchError(() => p.finish());
    expect(err.code).toBe('ERR_TRUNCATED_FRAME');
    expect(err.message).toBe('stream ended inside a frame: got 3 of 8 bytes');
  });

  it('finish() throws ERR_TRUNCATED_FRAME when the stream ends inside the length prefix', () => {
    const p = new LegacyParser();
    p.push(Buffer.concat([frame('a'), Buffer.of(0, 0)]), () => {});
    const err = catchError(() => p.finish());
    expect(err.code).toBe('ERR_TRUNCATED_FRAME');
    expect(err.message).toBe('stream ended inside a length prefix: got 2 of 4 bytes');
  });

  it('finish() is quiet on an empty stream and between frames', () => {
    expect(() => new LegacyParser().finish()).not.toThrow();
    const p = new LegacyParser();
    feed(p, [frame('x')]);
    expect(() => p.finish()).not.toThrow();
  });
});
