/**
 * Pure multipart/x-mixed-replace (MJPEG) framing: bytes only, no sockets.
 *
 * Layout, as uStreamer sends it: the body opens with one boundary line; each part is its headers, the
 * JPEG, and then the *next* boundary line at once. Chrome (and some other readers) render a part only
 * when they see the delimiter that ends it, so a boundary sent lazily with the next frame would show
 * every picture one frame late.
 */

/** The boundary framecast uses (any token without CR/LF works; clients read it from Content-Type). */
export const MJPEG_BOUNDARY = 'framecast-frame';

/** The response's Content-Type for a boundary. */
export function mjpegContentType(boundary: string = MJPEG_BOUNDARY): string {
  return `multipart/x-mixed-replace; boundary=${boundary}`;
}

/** What opens the body: the first delimiter line. */
export function mjpegPreamble(boundary: string = MJPEG_BOUNDARY): Buffer {
  return Buffer.from(`--${boundary}\r\n`, 'latin1');
}

/** Extra part headers (name -> value); names and values must not contain CR or LF. */
export type PartHeaders = Readonly<Record<string, string | number>>;

/**
 * One part: `Content-Type`, `Content-Length`, extra headers, a blank line, the JPEG, then the next
 * delimiter line. Built once per frame and shared by every MJPEG client.
 */
export function mjpegPart(
  jpeg: Buffer,
  headers: PartHeaders = {},
  boundary: string = MJPEG_BOUNDARY,
): Buffer {
  let head = `Content-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    const v = String(value);
    if (/[\r\n]/.test(name) || /[\r\n]/.test(v)) throw new TypeError(`invalid part header ${name}`);
    head += `${name}: ${v}\r\n`;
  }
  head += '\r\n';
  const tail = `\r\n--${boundary}\r\n`;
  const headLen = Buffer.byteLength(head, 'latin1');
  const out = Buffer.allocUnsafe(headLen + jpeg.length + tail.length);
  out.write(head, 0, 'latin1');
  jpeg.copy(out, headLen);
  out.write(tail, headLen + jpeg.length, 'latin1');
  return out;
}
