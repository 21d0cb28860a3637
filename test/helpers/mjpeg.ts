/**
 * MJPEG for tests: an incremental multipart/x-mixed-replace reader (bytes in, parts out, any split),
 * and a client that reads /stream.mjpg over real HTTP and counts what it gets.
 */
import http from 'node:http';

/** One part of a multipart stream. */
export interface Part {
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Reads parts delimited by `--boundary` lines, each with a Content-Length. Tolerates the body being
 * split anywhere. Throws on a part without Content-Length (framecast always sends one).
 */
export class MultipartReader {
  readonly #delimiter: Buffer;
  #buf: Buffer = Buffer.alloc(0);
  #state: 'boundary' | 'headers' | 'body' | 'crlf' = 'boundary';
  #headers: Record<string, string> = {};
  #length = 0;

  constructor(boundary: string) {
    this.#delimiter = Buffer.from(`--${boundary}\r\n`, 'latin1');
  }

  /** Feeds bytes; calls `onPart` for every complete part. */
  push(chunk: Buffer, onPart: (p: Part) => void): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    for (;;) {
      if (this.#state === 'boundary') {
        if (this.#buf.length < this.#delimiter.length) return;
        if (!this.#buf.subarray(0, this.#delimiter.length).equals(this.#delimiter))
          throw new Error(
            `expected boundary, got ${JSON.stringify(this.#buf.subarray(0, 40).toString('latin1'))}`,
          );
        this.#buf = this.#buf.subarray(this.#delimiter.length);
        this.#state = 'headers';
      } else if (this.#state === 'headers') {
        const end = this.#buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        this.#headers = {};
        for (const line of this.#buf.subarray(0, end).toString('latin1').split('\r\n')) {
          const i = line.indexOf(':');
          this.#headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
        }
        const len = Number(this.#headers['content-length']);
        if (!Number.isInteger(len)) throw new Error('part without Content-Length');
        this.#length = len;
        this.#buf = this.#buf.subarray(end + 4);
        this.#state = 'body';
      } else if (this.#state === 'body') {
        if (this.#buf.length < this.#length) return;
        const body = Buffer.from(this.#buf.subarray(0, this.#length));
        this.#buf = this.#buf.subarray(this.#length);
        this.#state = 'crlf';
        onPart({ headers: this.#headers, body });
      } else {
        if (this.#buf.length < 2) return;
        if (this.#buf[0] !== 0x0d || this.#buf[1] !== 0x0a) throw new Error('part not followed by CRLF');
        this.#buf = this.#buf.subarray(2);
        this.#state = 'boundary';
      }
    }
  }

  /** Bytes received but not yet part of a complete part. */
  get pending(): Buffer {
    return this.#buf;
  }
}

/** A running MJPEG viewer. */
export interface MjpegViewer {
  /** Response headers, once they arrived. */
  headers: Promise<http.IncomingHttpHeaders>;
  /** JPEG bodies received, in order (kept only when `keep` is true). */
  parts: Part[];
  /** Count of parts received. */
  readonly count: number;
  /** Every raw body byte received so far (kept only when `raw` is true). */
  raw: Buffer[];
  /** Resolves when the server ended the response. */
  ended: Promise<void>;
  close: () => void;
}

/** Opens `url` as an MJPEG viewer. */
export function openMjpeg(url: string, opts: { keep?: boolean; raw?: boolean } = {}): MjpegViewer {
  const parts: Part[] = [];
  const raw: Buffer[] = [];
  let count = 0;
  let resolveHeaders!: (h: http.IncomingHttpHeaders) => void;
  let rejectHeaders!: (e: Error) => void;
  let resolveEnded!: () => void;
  const headers = new Promise<http.IncomingHttpHeaders>((res, rej) => {
    resolveHeaders = res;
    rejectHeaders = rej;
  });
  const ended = new Promise<void>((r) => (resolveEnded = r));
  const req = http.get(url, { agent: false }, (res) => {
    resolveHeaders(res.headers);
    const m = /boundary=([^;\s]+)/.exec(String(res.headers['content-type']));
    const reader = new MultipartReader(m?.[1] ?? 'missing');
    res.on('data', (chunk: Buffer) => {
      if (opts.raw) raw.push(chunk);
      reader.push(chunk, (p) => {
        count++;
        if (opts.keep) parts.push(p);
      });
    });
    res.on('close', resolveEnded);
    res.on('error', () => resolveEnded());
  });
  req.on('error', (e) => {
    rejectHeaders(e);
    resolveEnded();
  });
  return {
    headers,
    parts,
    raw,
    get count() {
      return count;
    },
    ended,
    close: () => req.destroy(),
  };
}
