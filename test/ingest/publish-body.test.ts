/**
 * PublishBodyReader: what a published body yields (each image with the metadata part before it) and
 * the status and text of every refusal. Each body is read whole, one byte at a time and in chunks of
 * 7 bytes: the result must not depend on where the chunks were cut.
 */
import { describe, expect, it } from 'vitest';
import {
  BodyRefusal,
  MAX_BETWEEN_BYTES,
  PublishBodyReader,
  boundaryOf,
} from '../../src/ingest/publish/publish-body.js';
import { makeJpeg } from '../helpers/native.js';

const A = await makeJpeg(32, 24, 1);
const B = await makeJpeg(16, 16, 2);

interface Read {
  images: Array<{ jpeg: Buffer; meta: string | null }>;
  refused: { status: number; message: string } | null;
  atBoundary: boolean;
  pendingBytes: number;
}

/** Reads `body` in chunks of `step` bytes (0: whole) and says what came out. */
function readWith(
  body: Buffer,
  step: number,
  boundary: string | null,
  maxMeta: number,
  maxImage: number,
): Read {
  const reader = new PublishBodyReader(maxImage, maxMeta, boundary);
  const images: Read['images'] = [];
  let refused: Read['refused'] = null;
  try {
    const size = step || body.length || 1;
    for (let i = 0; i < body.length; i += size)
      reader.push(body.subarray(i, i + size), (jpeg, meta) =>
        images.push({ jpeg, meta: meta === null ? null : meta.toString() }),
      );
  } catch (err) {
    if (!(err instanceof BodyRefusal)) throw err;
    refused = { status: err.status, message: err.message };
  }
  return { images, refused, atBoundary: reader.atBoundary, pendingBytes: reader.pendingBytes };
}

/** Reads `body` whole and in small chunks; all must agree. */
function read(
  body: Buffer | string,
  opts: { boundary?: string | null; maxMeta?: number; maxImage?: number } = {},
): Read {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  const args = [opts.boundary ?? null, opts.maxMeta ?? 1000, opts.maxImage ?? 1 << 20] as const;
  const whole = readWith(bytes, 0, ...args);
  for (const step of [1, 7]) {
    const cut = readWith(bytes, step, ...args);
    expect({ step, images: cut.images, refused: cut.refused }).toEqual({
      step,
      images: whole.images,
      refused: whole.refused,
    });
    // Where a refused body stopped depends on the chunk it was refused in; a body read on may end here.
    if (whole.refused === null) expect(cut).toEqual(whole);
  }
  return whole;
}

const cat = (...parts: Array<Buffer | string>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));

/** A multipart part: headers, blank line, body, CRLF. */
const part = (headers: string[], body: Buffer | string): Buffer =>
  cat(headers.map((h) => `${h}\r\n`).join(''), '\r\n', body, '\r\n');

const jpegPart = (jpeg: Buffer): Buffer => part(['Content-Type: image/jpeg'], jpeg);
const jsonPart = (json: string, length = true): Buffer =>
  part(['Content-Type: application/json', ...(length ? [`Content-Length: ${json.length}`] : [])], json);

const images = (r: Read): Array<[Buffer, string | null]> => r.images.map((i) => [i.jpeg, i.meta]);

describe('boundaryOf', () => {
  it("reads the boundary of a multipart Content-Type, quoted or not, and nothing else's", () => {
    expect(boundaryOf('multipart/x-mixed-replace; boundary=xx')).toBe('xx');
    expect(boundaryOf('  Multipart/Form-Data;BOUNDARY=abc-123; charset=utf-8')).toBe('abc-123');
    expect(boundaryOf('multipart/mixed; boundary="a b;c"')).toBe('a b;c');
    expect(boundaryOf('multipart/mixed')).toBeNull();
    expect(boundaryOf('text/plain; boundary=xx')).toBeNull();
    expect(boundaryOf('text/plain; note=multipart/mixed; boundary=xx')).toBeNull();
    expect(boundaryOf('image/jpeg')).toBeNull();
    expect(boundaryOf('')).toBeNull();
    expect(boundaryOf(undefined)).toBeNull();
  });
});

describe('PublishBodyReader', () => {
  it('JPEGs simply concatenated: each image as it came, without metadata', () => {
    const r = read(cat(A, B, A));
    expect(images(r)).toEqual([
      [A, null],
      [B, null],
      [A, null],
    ]);
    expect(r.refused).toBeNull();
    expect(r.atBoundary).toBe(true);
  });

  it("a multipart body: each image part's JPEG; a JSON part is the compact metadata of the image after it only", () => {
    const body = cat(
      '--xx\r\n',
      jsonPart('{ "n" : 1 }'),
      '--xx\r\n',
      jpegPart(A),
      '--xx\r\n',
      jpegPart(B),
      '--xx--\r\n',
    );
    const r = read(body, { boundary: 'xx' });
    expect(images(r)).toEqual([
      [A, '{"n":1}'],
      [B, null],
    ]);
    expect(r.refused).toBeNull();
  });

  it("learns the boundary from the body's first -- line when the request gave none (ffmpeg's mpjpeg)", () => {
    const body = cat('--ffmpeg\r\n', jsonPart('{"a":true}'), '--ffmpeg\r\n', jpegPart(A), '--ffmpeg--\r\n');
    expect(images(read(body))).toEqual([[A, '{"a":true}']]);
    // A first line that is the closing delimiter names the boundary too.
    const closing = cat('--end--\r\n', '--end\r\n', jsonPart('{"e":5}'), '--end\r\n', jpegPart(A));
    expect(images(read(closing))).toEqual([[A, '{"e":5}']]);
    // A boundary may hold dashes.
    const dashes = cat('--a--b\r\n', jsonPart('{"f":6}'), '--a--b\r\n', jpegPart(A), '--a--b--\r\n');
    expect(images(read(dashes))).toEqual([[A, '{"f":6}']]);
  });

  it('takes for the boundary a whole first line of -- and up to 70 non-space characters, nothing less', () => {
    const body = cat(
      'x--foo\r\n',
      '--foo bar\r\n',
      '--bar\r\n',
      jsonPart('{"g":7}'),
      '--bar\r\n',
      jpegPart(A),
    );
    expect(images(read(body))).toEqual([[A, '{"g":7}']]);
  });

  it('a JSON part without Content-Length runs to the next delimiter; its lines are the JSON, without the last CRLF', () => {
    const json = '{"objects":\r\n  [1, 2]}';
    const body = cat('--xx\r\n', jsonPart(json, false), '--xx\r\n', jpegPart(A), '--xx--\r\n');
    expect(images(read(body, { boundary: 'xx' }))).toEqual([[A, '{"objects":[1,2]}']]);
    // A bare LF before the delimiter is stripped too; the closing delimiter may end the JSON part.
    const lf = cat('--xx\n', 'Content-Type: application/json\n\n', '{"b":2}\n', '--xx--\n', A);
    expect(images(read(lf, { boundary: 'xx' }))).toEqual([[A, '{"b":2}']]);
  });

  it('metadata waits for the next image, across a part without a type', () => {
    const body = cat('--xx\r\n', jsonPart('{"c":3}'), '--xx\r\n', part([], A), '--xx--\r\n');
    expect(images(read(body, { boundary: 'xx' }))).toEqual([[A, '{"c":3}']]);
  });

  it('image parts may say image/jpeg, image/jpg, image/pjpeg or application/octet-stream, in any case, with parameters', () => {
    for (const type of ['image/jpeg', 'IMAGE/JPG', 'image/pjpeg ; q=1', 'application/octet-stream']) {
      const body = cat('--xx\r\n', part([`content-type:${type}`], A), '--xx--\r\n');
      expect([type, read(body, { boundary: 'xx' }).images.length]).toEqual([type, 1]);
    }
  });

  it('any other part is 400, naming it', () => {
    const body = cat('--xx\r\n', jpegPart(A), '--xx\r\n', part(['Content-Type: text/plain'], 'hello'));
    const r = read(body, { boundary: 'xx' });
    expect(images(r)).toEqual([[A, null]]);
    expect(r.refused).toEqual({
      status: 400,
      message:
        'part 2 is text/plain, not image/jpeg (an application/json part is the metadata of the image after it)',
    });
  });

  it('reads header names in any case and spacing, and a length with spaces around it', () => {
    for (const header of [
      'content-type:application/json',
      'Content-Type : application/json ; charset=utf-8',
    ]) {
      const body = cat('--xx\r\n', part([header], '{"h":8}'), '--xx\r\n', jpegPart(A));
      expect([header, images(read(body, { boundary: 'xx' }))]).toEqual([header, [[A, '{"h":8}']]]);
    }
    // With its length known, the JSON part needs no delimiter after it: the image may follow at once.
    const direct = cat(
      '--xx\r\n',
      'Content-Type: application/json\r\nContent-Length: 7 \r\n\r\n',
      '{"i":9}',
      A,
    );
    expect(images(read(direct, { boundary: 'xx' }))).toEqual([[A, '{"i":9}']]);
  });

  it('an empty JSON part by its Content-Length is refused at once, before any byte of the next part', () => {
    const r = read('--xx\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n', { boundary: 'xx' });
    expect(r.refused?.status).toBe(400);
    expect(r.refused?.message).toMatch(/^metadata part 1: metadata is not JSON/);
  });

  it('a part after a JSON part is read with its own headers and number', () => {
    const body = cat(
      '--xx\r\n',
      jsonPart('{"j":1}', false),
      '--xx\r\n',
      part(['Content-Type: text/plain'], 'hi'),
    );
    expect(read(body, { boundary: 'xx' }).refused).toEqual({
      status: 400,
      message:
        'part 2 is text/plain, not image/jpeg (an application/json part is the metadata of the image after it)',
    });
  });

  it('the epilogue after the closing delimiter is not read as headers, after an image or a JSON part', () => {
    const epilogue = 'Content-Type: text/plain\r\n\r\nbye\r\n';
    const afterImage = read(cat('--xx\r\n', jpegPart(A), '--xx--\r\n', epilogue), { boundary: 'xx' });
    expect([afterImage.refused, afterImage.images.length]).toEqual([null, 1]);
    const afterJson = read(cat('--xx\r\n', jsonPart('{"k":2}', false), '--xx--\r\n', epilogue, A), {
      boundary: 'xx',
    });
    expect(afterJson.refused).toBeNull();
    expect(images(afterJson)).toEqual([[A, '{"k":2}']]);
  });

  it('header lines that are no header, other headers, and a Content-Length that is no number are ignored', () => {
    const body = cat(
      '--xx\r\n',
      part(
        [
          'X-Junk',
          'Content-Type: application/json',
          'X-Seq: 3',
          '>Content-Type: text/plain',
          'Content-Length: 12abc',
        ],
        '{"d":4}',
      ),
      '--xx\r\n',
      jpegPart(A),
    );
    // No usable length: the JSON part runs to the delimiter.
    expect(images(read(body, { boundary: 'xx' }))).toEqual([[A, '{"d":4}']]);
    const lettersFirst = cat(
      '--xx\r\n',
      part(['Content-Type: application/json', 'Content-Length: x12'], '{"d":4}'),
      '--xx\r\n',
      A,
    );
    expect(images(read(lettersFirst, { boundary: 'xx' }))).toEqual([[A, '{"d":4}']]);
  });

  it('metadata over maxMetaBytes is 413: by its Content-Length at once, else as its lines grow', () => {
    const big = `{"t":"${'x'.repeat(40)}"}`;
    const byLength = read(cat('--xx\r\n', jsonPart(big)), { boundary: 'xx', maxMeta: 20 });
    expect(byLength.refused).toEqual({
      status: 413,
      message: "metadata part 1: metadata of 48 bytes is over 20 bytes (the stream's maxMetaBytes)",
    });
    const byLines = read(cat('--xx\r\n', jsonPart(big, false)), { boundary: 'xx', maxMeta: 20 });
    expect(byLines.refused).toEqual({
      status: 413,
      message: "metadata part 1: metadata over 20 bytes (the stream's maxMetaBytes)",
    });
  });

  it('metadata of exactly maxMetaBytes is taken, with or without Content-Length; one byte more is 413', () => {
    const exact = '{"t":"' + 'x'.repeat(12) + '"}'; // 20 bytes
    const ok = read(cat('--xx\r\n', jsonPart(exact, false), '--xx\r\n', jpegPart(A)), {
      boundary: 'xx',
      maxMeta: 20,
    });
    expect(images(ok)).toEqual([[A, exact]]);
    const over = '{"t":"' + 'x'.repeat(13) + '"}'; // 21 bytes, then LF: 22 = 20 + 2
    const r = read(cat('--xx\n', 'Content-Type: application/json\n\n', over, '\n--xx\n'), {
      boundary: 'xx',
      maxMeta: 20,
    });
    expect(r.refused).toEqual({ status: 413, message: 'metadata part 1: metadata of 21 bytes is over 20' });
    const withLength = read(cat('--xx\r\n', jsonPart(exact), '--xx\r\n', jpegPart(A)), {
      boundary: 'xx',
      maxMeta: 20,
    });
    expect(images(withLength)).toEqual([[A, exact]]);
  });

  it('a JSON line that never ends is refused once past the cap and a delimiter line, not buffered on', () => {
    const head = '--xx\r\nContent-Type: application/json\r\n\r\n';
    // maxMetaBytes 20: the unfinished line may reach 20 + 2 (its CRLF) + 76 (a delimiter line) bytes.
    expect(read(cat(head, 'x'.repeat(98)), { boundary: 'xx', maxMeta: 20 }).refused).toBeNull();
    expect(read(cat(head, 'x'.repeat(99)), { boundary: 'xx', maxMeta: 20 }).refused).toEqual({
      status: 413,
      message: "metadata part 1: metadata over 20 bytes (the stream's maxMetaBytes)",
    });
  });

  it('metadata that is not a JSON object is 400; an empty JSON part too', () => {
    const notJson = read(cat('--xx\r\n', jsonPart('{nope')), { boundary: 'xx' });
    expect(notJson.refused?.status).toBe(400);
    expect(notJson.refused?.message).toMatch(/^metadata part 1: metadata is not JSON: /);
    const array = read(cat('--xx\r\n', jsonPart('[1]')), { boundary: 'xx' });
    expect(array.refused).toEqual({
      status: 400,
      message: 'metadata part 1: metadata must be a JSON object',
    });
    const empty = read(cat('--xx\r\n', jsonPart('')), { boundary: 'xx' });
    expect(empty.refused?.status).toBe(400);
    expect(empty.refused?.message).toMatch(/^metadata part 1: metadata is not JSON/);
  });

  it('a JSON part that an image interrupts is 400', () => {
    const body = cat('--xx\r\n', 'Content-Type: application/json\r\n\r\n', '{"a":1}\r\n', A);
    expect(read(body, { boundary: 'xx' }).refused).toEqual({
      status: 400,
      message: 'metadata part 1 was not closed by a boundary line',
    });
  });

  it('up to 16 KiB of text between two images; one byte more is 400; each image starts the count again', () => {
    const text = (n: number): string => 'a'.repeat(n - 2) + '\r\n';
    expect(MAX_BETWEEN_BYTES).toBe(16 * 1024);
    const ok = read(cat(text(MAX_BETWEEN_BYTES), A, text(MAX_BETWEEN_BYTES), B));
    expect(ok.refused).toBeNull();
    expect(ok.images).toHaveLength(2);
    const over = read(cat(A, text(MAX_BETWEEN_BYTES + 1), B));
    expect(images(over)).toEqual([[A, null]]);
    expect(over.refused).toEqual({
      status: 400,
      message: 'the published body is malformed: more than 16384 bytes between two JPEG images',
    });
    // Text without any line end counts as well.
    expect(read('b'.repeat(MAX_BETWEEN_BYTES + 1)).refused?.status).toBe(400);
  });

  it("a JSON part's bytes count against maxMetaBytes, not the 16 KiB of text", () => {
    const json = `{"t":"${'x'.repeat(20_000)}"}`;
    for (const length of [true, false]) {
      const body = cat('--xx\r\n', jsonPart(json, length), '--xx\r\n', jpegPart(A));
      const r = read(body, { boundary: 'xx', maxMeta: 30_000 });
      expect([length, r.refused, r.images.length]).toEqual([length, null, 1]);
    }
  });

  it('an image over the byte cap is 413; a broken one 400', () => {
    const tooBig = read(A, { maxImage: 100 });
    expect(tooBig.refused).toEqual({
      status: 413,
      message: 'a JPEG image in the published body exceeds 100 bytes',
    });
    const broken = read(cat(Buffer.from([0xff, 0xd8, 0x00]), 'rest'));
    expect(broken.refused?.status).toBe(400);
    expect(broken.refused?.message).toMatch(/^the published body is malformed: /);
  });

  it('says when the body may end: not inside an image, whose bytes it counts', () => {
    const inside = read(cat(A, B.subarray(0, 50)));
    expect(inside.atBoundary).toBe(false);
    expect(inside.pendingBytes).toBe(50);
    const between = read(cat('--xx\r\n', 'Content-Type: image/jpeg\r\n'), { boundary: 'xx' });
    expect(between.atBoundary).toBe(true);
    expect(between.pendingBytes).toBe(0);
    expect(read('').atBoundary).toBe(true);
  });
});
