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

/**
 * GET /stream.mjpg: a multipart/x-mixed-replace stream. The response is a subscriber of the hub like
 * a TCP client: latest frame wins, one frame in flight, drops counted.
 */
export function serveMjpeg(req: IncomingMessage, res: ServerResponse, ctx: HttpContext): void {
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
    encode: mjpegWire,
    lossless: ctx.lossless,
    onDrained: () => ctx.hub.drained(),
  });
  res.on('error', () => res.destroy());
  admit(ctx.hub, sub, { onceClosed: (fn) => res.once('close', fn), refuse: () => res.destroy() }, ctx);
}
