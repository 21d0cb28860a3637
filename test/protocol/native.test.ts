import { describe, expect, it } from 'vitest';
import { FramecastError } from '../../src/errors.js';
import { Frame } from '../../src/hub/frame.js';
import {
  ErrorCode,
  FRAME_PREFIX_BYTES,
  MAX_TOKEN_BYTES,
  decodeHello,
  encodeEnd,
  encodeError,
  encodeHello,
  encodeNativeFrame,
  encodePreamble,
  encodeStatus,
  encodeWelcome,
  nativeFrameWire,
  stampNativeFrame,
} from '../../src/protocol/native.js';
import { NativeParser, type NativeMessage } from '../../src/protocol/native-parser.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const f64 = (v: number): string => {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(v);
  return b.toString('hex');
};
const JPEG = Buffer.concat([hex('ffd8ffe0'), Buffer.alloc(100, 7), hex('ffd9')]);
const fields = { seq: 7, width: 800, height: 450, capturedAt: 1000.25, encodedAt: 1010.5, jpeg: JPEG };

function parseAll(bytes: Buffer[], max = 1 << 20): NativeMessage[] {
  const p = new NativeParser(max);
  const out: NativeMessage[] = [];
  for (const b of bytes) p.push(b, (m) => out.push(m));
  return out;
}

function caught(fn: () => void): FramecastError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FramecastError);
    return err as FramecastError;
  }
  throw new Error('expected a FramecastError');
}

describe('native hello', () => {
  it('has the documented layout (docs/PROTOCOL.md example)', () => {
    expect(encodeHello('abc', 1700000000000.5)).toEqual(hex('46435354 01 00 0003 4278bcfe56800800 616263'));
  });

  it('decodes what it encodes, and waits for missing bytes', () => {
    const h = encodeHello('sécret', 123.5);
    expect(decodeHello(h)).toEqual({
      status: 'ok',
      consumed: h.length,
      hello: {
        version: 1,
        flags: 0,
        clientTime: 123.5,
        token: 'sécret',
        stream: null,
        playback: null,
        view: null,
      },
    });
    for (let i = 0; i < h.length; i++) expect(decodeHello(h.subarray(0, i)).status).toBe('incomplete');
  });

  it('version 2 carries a stream name after the token; version 1 bytes stay exactly as they were', () => {
    const v1 = encodeHello('t', 5);
    expect(v1.length).toBe(17);
    expect(v1.readUInt8(4)).toBe(1);
    const h = encodeHello('t', 5, undefined, 1, 'cam.2');
    expect(h.readUInt8(4)).toBe(2);
    expect(h.length).toBe(17 + 1 + 5);
    expect(h.subarray(0, 4).toString()).toBe('FCST');
    expect(h.readUInt8(17)).toBe(5);
    expect(h.subarray(18).toString('latin1')).toBe('cam.2');
    expect(decodeHello(h)).toEqual({
      status: 'ok',
      consumed: h.length,
      hello: { version: 2, flags: 1, clientTime: 5, token: 't', stream: 'cam.2', playback: null, view: null },
    });
    for (let i = 0; i < h.length; i++) expect(decodeHello(h.subarray(0, i)).status).toBe('incomplete');
    // A v2 hello naming no stream asks for the default one.
    expect(decodeHello(encodeHello('', 1, 2))).toMatchObject({ status: 'ok', hello: { stream: null } });
    const long = Buffer.from(h);
    long.writeUInt8(65, 17);
    expect(decodeHello(long)).toMatchObject({ status: 'error', code: ErrorCode.BadHello });
    const bad = Buffer.from(h);
    bad.write('ca m', 18, 'latin1');
    expect(decodeHello(bad)).toMatchObject({ status: 'error', code: ErrorCode.BadHello });
    expect(() => encodeHello('', 0, 1, 0, 'cam')).toThrow(RangeError);
  });

  it('refuses a wrong magic from the first byte, and an oversized token before reading it', () => {
    expect(decodeHello(Buffer.from('G'))).toMatchObject({ status: 'error', code: ErrorCode.BadHello });
    const big = encodeHello('', 0);
    big.writeUInt16BE(MAX_TOKEN_BYTES + 1, 6);
    expect(decodeHello(big)).toMatchObject({ status: 'error', code: ErrorCode.BadHello });
    const nan = encodeHello('', NaN);
    expect(decodeHello(nan)).toMatchObject({ status: 'error', code: ErrorCode.BadHello });
    expect(() => encodeHello('x'.repeat(MAX_TOKEN_BYTES + 1), 0)).toThrow(RangeError);
  });
});

describe('native FRAME message', () => {
  it('is 40 bytes of envelope and header, then the JPEG', () => {
    const m = encodeNativeFrame(fields, 1020.75);
    expect(m.subarray(0, FRAME_PREFIX_BYTES)).toEqual(
      hex(`02 00 0020 ${(JPEG.length >>> 0).toString(16).padStart(8, '0')} 00000007 0320 01c2
           ${f64(1000.25)} ${f64(1010.5)} ${f64(1020.75)}`),
    );
    expect(m.subarray(FRAME_PREFIX_BYTES)).toEqual(JPEG);
  });

  it('restamps sentAt without copying the JPEG', () => {
    const m = encodeNativeFrame(fields, 1);
    const parts = stampNativeFrame(m, 2000.125);
    expect(Buffer.concat(parts)).toEqual(encodeNativeFrame(fields, 2000.125));
    expect(parts[2]!.buffer).toBe(m.buffer); // a view, not a copy
  });

  it('is built once per frame and shared', () => {
    const frame = new Frame(fields);
    expect(nativeFrameWire(frame)).toBe(nativeFrameWire(frame));
  });
});

describe('NativeParser', () => {
  const stream = Buffer.concat([
    encodePreamble(),
    encodeWelcome(10.5, 11.5, 'framecast/test'),
    encodeStatus(1, 3, 'waiting for a place (#3)'),
    encodeNativeFrame(fields, 1020.75),
    // An unknown message type (from a later revision) with a header and a body: skipped.
    hex('09 00 0002 00000003 aaaa bbbbbb'),
    encodeNativeFrame({ ...fields, seq: 8 }, 1021),
    encodeEnd('eof', 'end of the source'),
  ]);
  const expected: NativeMessage[] = [
    { type: 'welcome', helloReceivedAt: 10.5, welcomeSentAt: 11.5, server: 'framecast/test', flags: 0 },
    { type: 'status', code: 1, value: 3, message: 'waiting for a place (#3)' },
    { type: 'frame', ...fields, sentAt: 1020.75, wireBytes: 40 + JPEG.length },
    { type: 'frame', ...fields, seq: 8, sentAt: 1021, wireBytes: 40 + JPEG.length },
    { type: 'end', reason: 'eof', message: 'end of the source' },
  ];

  it('reads a whole stream pushed at once', () => {
    expect(parseAll([stream])).toEqual(expected);
  });

  it('gives the same messages whatever offset the stream is split at', () => {
    for (let i = 1; i < stream.length; i++) {
      expect(parseAll([stream.subarray(0, i), stream.subarray(i)])).toEqual(expected);
    }
  });

  it('reads it one byte at a time', () => {
    const bytes = [...stream].map((b) => Buffer.from([b]));
    expect(parseAll(bytes)).toEqual(expected);
  });

  it('rejects a frame over the limit from its envelope, before buffering it', () => {
    const p = new NativeParser(50);
    const head = Buffer.concat([encodePreamble(), encodeWelcome(1, 2, 's')]);
    p.push(head, () => {});
    const env = hex('02 00 0020 7fffffff');
    expect(caught(() => p.push(env, () => {})).code).toBe('ERR_FRAME_TOO_LARGE');
    // Stays failed.
    expect(caught(() => p.push(Buffer.alloc(1), () => {})).code).toBe('ERR_FRAME_TOO_LARGE');
  });

  it('rejects a wrong preamble, a short frame header and an oversized text body', () => {
    expect(caught(() => parseAll([Buffer.from('HTTP/1.1 200 OK')])).code).toBe('ERR_PROTOCOL');
    expect(caught(() => parseAll([encodePreamble(), hex('02 00 0010 00000000')])).code).toBe('ERR_PROTOCOL');
    expect(caught(() => parseAll([encodePreamble(), hex('03 00 0008 00100000')])).code).toBe('ERR_PROTOCOL');
  });

  it('reads the ERROR of a server speaking another version, and nothing else from it', () => {
    const v3 = Buffer.concat([encodePreamble(3), encodeError(ErrorCode.UnsupportedVersion, 'too old')]);
    expect(parseAll([v3])).toEqual([{ type: 'error', code: 2, message: 'too old' }]);
    expect(caught(() => parseAll([encodePreamble(3), encodeWelcome(1, 2, 'x')])).code).toBe('ERR_PROTOCOL');
    // Version 2 changed only the hello: a client reads a version-2 server's messages as version 1's.
    expect(parseAll([encodePreamble(2), encodeWelcome(1, 2, 'x')])).toMatchObject([{ type: 'welcome' }]);
  });

  it('knows where a stream may end', () => {
    const p = new NativeParser(1 << 20);
    p.push(encodePreamble(), () => {});
    expect(p.atBoundary).toBe(true);
    p.push(encodeNativeFrame(fields, 0).subarray(0, 20), () => {});
    expect(p.atBoundary).toBe(false);
  });

  it('cuts long texts on a character boundary', () => {
    const [m] = parseAll([encodePreamble(), encodeError(1, 'é'.repeat(5000))]);
    expect(m).toMatchObject({ type: 'error' });
    const msg = (m as { message: string }).message;
    expect(Buffer.byteLength(msg)).toBeLessThanOrEqual(4096);
    expect(msg).toBe('é'.repeat(2048));
  });
});
