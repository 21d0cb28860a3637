import type { IncomingMessage, ServerResponse } from 'node:http';
import { admit } from '../admission.js';
import type { Frame } from '../../hub/frame.js';
import { StreamSubscriber } from '../stream-subscriber.js';
import { mjpegContentType, mjpegPart, mjpegPreamble } from './multipart.js';
import { NO_CACHE, peerOf, type HttpContext } from './respond.js';

/**
 * The frame as one MJPEG part, built once per frame and shared by every MJPEG client. The
 * `X-Timestamp` header (capture time, seconds) is what uStreamer sends and some players read.
 */
export function mjpegWire(frame: Frame): Buffer {
  return frame.wire('mjpeg', (f) =>
    mjpegPart(f.jpeg, {
      'X-Timestamp': (f.capturedAt / 1000).toFixed(6),
      'X-Framecast-Seq': f.seq,
    }),
  );
}

/** Metadata longer than this is left out of a part's headers (proxies and readers cap header lines). */
export const MAX_META_HEADER_BYTES = 8 * 1024;

/**
 * The frame as one MJPEG part with its metadata (`?meta=1`): `X-Framecast-Meta` holds the compact
 * JSON's UTF-8 bytes, when the frame has metadata of at most MAX_META_HEADER_BYTES. Shared by every
 * such client.
 */
export function mjpegMetaWire(frame: Frame): Buffer {
  const meta = frame.meta;
  if (!meta || meta.length > MAX_META_HEADER_BYTES) return mjpegWire(frame);
  return frame.wire('mjpeg-meta', (f) =>
    mjpegPart(f.jpeg, {
      'X-Timestamp': (f.capturedAt / 1000).toFixed(6),
      'X-Framecast-Seq': f.seq,
      // Written as latin1, so each char stands for one byte: the header carries the UTF-8 as it is.
      'X-Framecast-Meta': meta.toString('latin1'),
    }),
  );
}

/**
 * GET /stream.mjpg: a multipart/x-mixed-replace stream. The response is a subscriber of the hub like
 * a TCP client: latest frame wins, one frame in flight, drops counted. `meta`: parts carry the
 * frame's metadata (`?meta=1`).
 */
export function serveMjpeg(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HttpContext,
  meta = false,
  maxFps: number | null = null,
): void {
  const address = peerOf(req);
  req.socket.setNoDelay(true);
  // Like uStreamer: no chunked encoding, the body simply ends with the connection. Every MJPEG reader
  // (browsers, VLC, OpenCV, ffmpeg, old embedded players) understands that; not all parse chunks.
  res.useChunkedEncodingByDefault = false;
  res.shouldKeepAlive = false;
  res.writeHead(200, {
    ...ctx.cors,
    'Content-Type': mjpegContentType(),
    ...NO_CACHE,
    Connection: 'close',
    // Tell nginx-style proxies not to buffer a never-ending body.
    'X-Accel-Buffering': 'no',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  res.write(mjpegPreamble());
  const sub = new StreamSubscriber({
    stream: res,
    protocol: 'mjpeg',
    address,
    streamName: ctx.streamName,
    encode: meta ? mjpegMetaWire : mjpegWire,
    lossless: ctx.lossless,
    onDrained: () => ctx.hub.drained(),
    maxFps,
  });
  res.on('error', () => res.destroy());
  admit(ctx.hub, sub, { onceClosed: (fn) => res.once('close', fn), refuse: () => res.destroy() }, ctx);
}
