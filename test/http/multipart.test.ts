import { describe, expect, it } from 'vitest';
import {
  MJPEG_BOUNDARY,
  mjpegContentType,
  mjpegPart,
  mjpegPreamble,
} from '../../src/transports/http/multipart.js';
import { MultipartReader, type Part } from '../helpers/mjpeg.js';

const jpegA = Buffer.from([0xff, 0xd8, 1, 2, 3, 0x0d, 0x0a, 0x2d, 0x2d, 0xff, 0xd9]); // contains "\r\n--"
const jpegB = Buffer.from([0xff, 0xd8, 9, 9, 0xff, 0xd9]);

describe('MJPEG multipart framing', () => {
  it('opens with one delimiter line and names the boundary in the content type', () => {
    expect(mjpegPreamble().toString('latin1')).toBe(`--${MJPEG_BOUNDARY}\r\n`);
    expect(mjpegContentType()).toBe(`multipart/x-mixed-replace; boundary=${MJPEG_BOUNDARY}`);
  });

  it('ends every part with the next delimiter at once (Chrome shows a part only when it sees that)', () => {
    const part = mjpegPart(jpegB, { 'X-Timestamp': '1.5' }, 'b');
    expect(part.toString('latin1')).toBe(
      'Content-Type: image/jpeg\r\nContent-Length: 6\r\nX-Timestamp: 1.5\r\n\r\n' +
        jpegB.toString('latin1') +
        '\r\n--b\r\n',
    );
  });

  it('refuses header names or values that would inject lines', () => {
    expect(() => mjpegPart(jpegB, { 'X-A': 'x\r\nSet-Cookie: y' })).toThrow(TypeError);
    expect(() => mjpegPart(jpegB, { 'X\nA': 1 })).toThrow(TypeError);
  });

  it('reads back byte for byte, whatever the split (bodies may contain CRLF--)', () => {
    const stream = Buffer.concat([
      mjpegPreamble(),
      mjpegPart(jpegA, { 'X-Framecast-Seq': 0 }),
      mjpegPart(jpegB, { 'X-Framecast-Seq': 1 }),
      mjpegPart(jpegA, { 'X-Framecast-Seq': 2 }),
    ]);
    for (let step = 1; step <= 17; step++) {
      const reader = new MultipartReader(MJPEG_BOUNDARY);
      const parts: Part[] = [];
      for (let i = 0; i < stream.length; i += step)
        reader.push(stream.subarray(i, i + step), (p) => parts.push(p));
      expect(parts.map((p) => p.headers['x-framecast-seq'])).toEqual(['0', '1', '2']);
      expect(parts.map((p) => p.body)).toEqual([jpegA, jpegB, jpegA]);
      // Nothing is left over: the stream is at a part boundary after each frame.
      expect(reader.pending.length).toBe(0);
    }
  });
});
