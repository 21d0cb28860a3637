import type http from 'node:http';
import { nowMs } from '../../util/clock.js';
import { BodyRefusal, boundaryOf, PublishBodyReader } from './publish-body.js';
import { PUBLISH_IDLE_REASON, type PublisherConnection, type PublisherSlot } from './publisher-slot.js';
import { checkPublishedJpeg, MAX_PUBLISHED_FRAME_BYTES } from './tcp-publisher.js';

/** A stream as the HTTP publisher needs it (a Stream is one). */
export interface HttpPublishTarget {
  readonly name: string;
  readonly ingest: PublisherSlot | null;
  /** Cap on one frame's metadata (the stream's maxMetaBytes). */
  readonly maxMetaBytes: number;
}

function reply(
  res: http.ServerResponse,
  status: number,
  text: string,
  cors: Readonly<Record<string, string>>,
): void {
  if (res.headersSent || res.destroyed) return;
  const body = Buffer.from(text + '\n', 'utf8');
  res.writeHead(status, {
    ...cors,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': body.length,
    Connection: 'close',
  });
  res.end(body);
}

/**
 * POST /streams/NAME/publish: the body is a stream of JPEGs (what `ffmpeg -f mpjpeg -method POST`
 * sends, any multipart MJPEG, or JPEGs simply concatenated), each passed to the stream's viewers as
 * it came. In a multipart body, an `application/json` part is the metadata of the image after it.
 * The answer comes when the body ends (200, with the count) or when it is refused: 401 token,
 * 409 another publisher or a stream that takes none, 400 a malformed image, bad metadata or a part
 * that is no image, 413 an image over the byte cap or the stream's maxImagePixels, or metadata over
 * maxMetaBytes, 408 no complete image for PUBLISH_IDLE_MS (the slot keeps that deadline; bytes that
 * make no image do not count). Frames before a refusal were delivered.
 */
export function serveHttpPublish(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  target: HttpPublishTarget,
  address: string,
  cors: Readonly<Record<string, string>>,
): void {
  const slot = target.ingest;
  if (!slot)
    return reply(res, 409, `stream ${target.name} takes no publisher (its source is not publisher)`, cors);
  let frames = 0;
  let finished = false;
  const conn: PublisherConnection = {
    address,
    via: 'http',
    evict(reason) {
      if (reason === 'idle') return finish(408, PUBLISH_IDLE_REASON);
      finish(
        409,
        reason === 'replaced' ? 'another publisher took this stream over' : 'the stream was removed',
      );
    },
  };
  if (!slot.claim(conn)) return reply(res, 409, `stream ${target.name} already has a publisher`, cors);
  const body = new PublishBodyReader(
    MAX_PUBLISHED_FRAME_BYTES,
    target.maxMetaBytes,
    boundaryOf(req.headers['content-type']),
  );
  const finish = (status: number, text: string): void => {
    if (finished) return;
    finished = true;
    slot.release(conn, text);
    reply(res, status, text, cors);
    // Stop reading a body we refused (the publisher sees the answer and the close).
    if (status !== 200) setImmediate(() => req.destroy());
  };
  let received = 0;
  req.on('data', (chunk: Buffer) => {
    if (finished) return;
    received += chunk.length;
    try {
      body.push(chunk, (jpeg, meta) => {
        if (finished) return;
        const size = checkPublishedJpeg(jpeg);
        if (typeof size === 'string') return finish(400, `bad frame ${frames}: ${size}`);
        const tooLarge = slot.refuseSize(size.width, size.height);
        if (tooLarge) return finish(413, `bad frame ${frames}: ${tooLarge}`);
        const now = nowMs();
        slot.frame(conn, { jpeg, ...size, capturedAt: now, receivedAt: now, meta });
        frames++;
      });
    } catch (err) {
      const status = err instanceof BodyRefusal ? err.status : 400;
      const text = (err as Error).message;
      finish(status, frames > 0 ? `${text} (after ${frames} frames)` : text);
    }
  });
  req.on('end', () => {
    if (!body.atBoundary)
      return finish(
        400,
        `the body ended inside an image (${body.pendingBytes} bytes of it): nothing of it was taken`,
      );
    // Bytes and no image: a part that is not a JPEG (text, PNG...), or no JPEG at all.
    if (frames === 0 && received > 0)
      return finish(400, `the body holds no JPEG (${received} bytes): each part must be an image/jpeg`);
    finish(200, `${frames} frames received`);
  });
  req.on('close', () => {
    if (!finished) {
      finished = true;
      slot.release(conn, 'the connection closed');
    }
  });
}
