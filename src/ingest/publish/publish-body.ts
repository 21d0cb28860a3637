import { FramecastError } from '../../errors.js';
import { checkMetaBytes } from '../../meta/meta-json.js';
import { JpegStreamSplitter } from '../../source/jpeg-stream-splitter.js';

/** Text allowed between two images of a body: multipart boundaries and part headers. */
export const MAX_BETWEEN_BYTES = 16 * 1024;

/** Why a body was refused: the HTTP status and one line. */
export class BodyRefusal extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** The longest delimiter line: `--`, a boundary of 70, `--`, CRLF. */
const MAX_DELIMITER_LINE = 76;

type Mode =
  /** Outside a part's headers: the preamble, after an image or after a metadata part. */
  | 'between'
  /** Reading a part's header lines. */
  | 'headers'
  /** A JSON part without Content-Length: its lines, up to the next delimiter. */
  | 'json-lines'
  /** A JSON part with Content-Length: that many bytes. */
  | 'json-length'
  /** Inside an image (the splitter has it). */
  | 'image';

/** Content types a part holding an image may carry (or none at all). */
const IMAGE_TYPES = new Set(['image/jpeg', 'image/jpg', 'image/pjpeg', 'application/octet-stream']);

/** The boundary of a `multipart/...; boundary=X` Content-Type, or null. */
export function boundaryOf(contentType: string | undefined): string | null {
  if (!contentType || !/^\s*multipart\//i.test(contentType)) return null;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return m ? ((m[1] ?? m[2]) as string) : null;
}

/**
 * Reads a published body: JPEGs, simply concatenated or as the parts of a multipart body. A part
 * whose Content-Type is `application/json` is the metadata of the image part after it (checked
 * against `maxMetaBytes`: over it is 413, bad JSON 400). Any other part that is not an image is 400.
 * Up to MAX_BETWEEN_BYTES of boundaries and part headers may come between two images; a JSON part's
 * body counts against its own cap instead. The boundary comes from the request's Content-Type or,
 * without one (ffmpeg's `-f mpjpeg -method POST`), from the body's first `--` line. `push` throws a
 * BodyRefusal.
 */
export class PublishBodyReader {
  readonly #maxMetaBytes: number;
  readonly #splitter: JpegStreamSplitter;
  #boundary: string | null;
  #mode: Mode = 'between';
  /** Text bytes since the last image (boundaries, headers, anything between parts). */
  #textBytes = 0;
  /** The unfinished line (text modes). */
  #line: Buffer[] = [];
  #lineBytes = 0;
  /** The current part's number (1 = first), Content-Type and Content-Length. */
  #part = 0;
  #partType: string | null = null;
  #partLength: number | null = null;
  /** The JSON part being read. */
  #json: Buffer[] = [];
  #jsonBytes = 0;
  #jsonLeft = 0;
  /** The metadata for the next image, or null. */
  #meta: Buffer | null = null;

  constructor(maxImageBytes: number, maxMetaBytes: number, boundary: string | null) {
    this.#maxMetaBytes = maxMetaBytes;
    this.#boundary = boundary;
    this.#splitter = new JpegStreamSplitter(maxImageBytes, { what: 'the published body' });
  }

  /** True when the body may end here: not inside an image. */
  get atBoundary(): boolean {
    return this.#mode !== 'image' || this.#splitter.atBoundary;
  }

  /** Bytes of the unfinished image. */
  get pendingBytes(): number {
    return this.#splitter.pendingBytes;
  }

  /** Feeds bytes; `onImage` gets each whole image with the metadata that came before it (or null). */
  push(chunk: Buffer, onImage: (jpeg: Buffer, meta: Buffer | null) => void): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.#mode === 'image') {
        i += this.#image(chunk.subarray(i), onImage);
      } else if (this.#mode === 'json-length') {
        const take = Math.min(this.#jsonLeft, n - i);
        this.#addJson(chunk.subarray(i, i + take));
        this.#jsonLeft -= take;
        i += take;
        if (this.#jsonLeft === 0) this.#endJson('between');
      } else {
        // Text: up to the next line end, or the FF that starts an image (never in text or UTF-8).
        const ff = chunk.indexOf(0xff, i);
        const stop = ff < 0 ? n : ff;
        const nl = chunk.indexOf(0x0a, i);
        if (nl >= 0 && nl < stop) {
          this.#addLine(chunk.subarray(i, nl + 1));
          i = nl + 1;
          this.#onLine(Buffer.concat(this.#line));
          this.#line = [];
          this.#lineBytes = 0;
          continue;
        }
        this.#addLine(chunk.subarray(i, stop));
        i = stop;
        if (ff >= 0) this.#startImage();
      }
    }
  }

  #image(bytes: Buffer, onImage: (jpeg: Buffer, meta: Buffer | null) => void): number {
    let done: Buffer | null = null;
    let used: number;
    try {
      used = this.#splitter.push(bytes, (jpeg) => {
        done = jpeg;
        return false;
      });
    } catch (err) {
      const tooLarge = err instanceof FramecastError && err.code === 'ERR_JPEG_TOO_LARGE';
      throw new BodyRefusal(tooLarge ? 413 : 400, (err as Error).message);
    }
    if (done !== null) {
      const meta = this.#meta;
      this.#meta = null;
      this.#mode = 'between';
      this.#textBytes = 0;
      this.#partType = null;
      onImage(done, meta);
    }
    return used;
  }

  #startImage(): void {
    if (this.#mode === 'json-lines')
      throw new BodyRefusal(400, `metadata part ${this.#part} was not closed by a boundary line`);
    this.#line = [];
    this.#lineBytes = 0;
    this.#mode = 'image';
  }

  #addLine(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#line.push(bytes);
    this.#lineBytes += bytes.length;
    if (this.#mode === 'json-lines') {
      // The line may be the delimiter that ends the part, which is no metadata: #addJson counts a
      // line once it is known to be JSON; here the unfinished line is only bounded.
      if (this.#jsonBytes + this.#lineBytes > this.#maxMetaBytes + 2 + MAX_DELIMITER_LINE)
        this.#tooMuchJson();
      return;
    }
    this.#textBytes += bytes.length;
    if (this.#textBytes > MAX_BETWEEN_BYTES)
      throw new BodyRefusal(
        400,
        `the published body is malformed: more than ${MAX_BETWEEN_BYTES} bytes between two JPEG images`,
      );
  }

  #onLine(raw: Buffer): void {
    const line = raw.toString('latin1').replace(/\r?\n$/, '');
    const delimiter = this.#delimiter(line);
    if (this.#mode === 'json-lines') {
      if (delimiter === null) return this.#addJson(raw);
      return this.#endJson(delimiter === 'last' ? 'between' : 'headers');
    }
    if (delimiter !== null) {
      if (delimiter === 'next') this.#newPart();
      else this.#mode = 'between';
      return;
    }
    if (this.#mode !== 'headers') return; // the preamble, a CRLF after an image: nothing to read
    if (line === '') return this.#endHeaders();
    const m = /^([A-Za-z0-9-]+)\s*:\s*(.*)$/.exec(line);
    if (!m) return;
    const name = (m[1] as string).toLowerCase();
    const value = (m[2] as string).trim();
    if (name === 'content-type') this.#partType = (value.split(';')[0] as string).trim().toLowerCase();
    else if (name === 'content-length' && /^\d{1,9}$/.test(value)) this.#partLength = Number(value);
  }

  /** `next`/`last` for a delimiter line of this body's boundary; learns the boundary from a first `--` line. */
  #delimiter(line: string): 'next' | 'last' | null {
    if (this.#boundary === null) {
      const m = /^--([^\s]{1,70})$/.exec(line);
      if (!m || this.#part > 0) return null;
      this.#boundary = (m[1] as string).replace(/--$/, '');
    }
    if (line === `--${this.#boundary}`) return 'next';
    if (line === `--${this.#boundary}--`) return 'last';
    return null;
  }

  #newPart(): void {
    this.#part++;
    this.#mode = 'headers';
    this.#partType = null;
    this.#partLength = null;
  }

  #endHeaders(): void {
    const type = this.#partType;
    if (type === 'application/json') {
      this.#json = [];
      this.#jsonBytes = 0;
      if (this.#partLength === null) {
        this.#mode = 'json-lines';
        return;
      }
      if (this.#partLength > this.#maxMetaBytes) this.#tooMuchJson(this.#partLength);
      this.#jsonLeft = this.#partLength;
      this.#mode = 'json-length';
      if (this.#jsonLeft === 0) this.#endJson('between');
      return;
    }
    if (type !== null && !IMAGE_TYPES.has(type))
      throw new BodyRefusal(
        400,
        `part ${this.#part} is ${type}, not image/jpeg (an application/json part is the metadata of the image after it)`,
      );
    this.#mode = 'between';
  }

  #addJson(bytes: Buffer): void {
    this.#json.push(Buffer.from(bytes));
    this.#jsonBytes += bytes.length;
    // A line's CRLF before the delimiter is not part of the JSON: allow for it until the end.
    if (this.#jsonBytes > this.#maxMetaBytes + 2) this.#tooMuchJson();
  }

  #tooMuchJson(bytes?: number): never {
    const size = bytes === undefined ? 'over' : `of ${bytes} bytes is over`;
    throw new BodyRefusal(
      413,
      `metadata part ${this.#part}: metadata ${size} ${this.#maxMetaBytes} bytes (the stream's maxMetaBytes)`,
    );
  }

  #endJson(next: Mode): void {
    let body = Buffer.concat(this.#json);
    this.#json = [];
    this.#jsonBytes = 0;
    if (this.#mode === 'json-lines') {
      // The CRLF before a delimiter belongs to the delimiter.
      if (body.at(-1) === 0x0a) body = body.subarray(0, body.at(-2) === 0x0d ? -2 : -1);
    }
    const checked = checkMetaBytes(body, this.#maxMetaBytes);
    if ('problem' in checked)
      throw new BodyRefusal(
        checked.problem.includes(' is over ') ? 413 : 400,
        `metadata part ${this.#part}: ${checked.problem}`,
      );
    this.#meta = checked.json;
    if (next === 'headers') this.#newPart();
    else this.#mode = next;
  }
}
