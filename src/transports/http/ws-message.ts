import type { Frame } from '../../hub/frame.js';
import { nativeFrameWire } from '../../protocol/native.js';

/**
 * The WebSocket message for one frame: the native protocol's FRAME message (envelope, header, JPEG),
 * the very buffer native TCP clients share, so it is built once per frame for both. Its sentAt field
 * is the time the message was built, not restamped per viewer (that would copy the JPEG per viewer).
 */
export function wsFrameMessage(frame: Frame): Buffer {
  return nativeFrameWire(frame);
}

/**
 * The WebSocket text message with a frame's metadata (`?meta=1`), sent just before its FRAME:
 * `{"type":"meta","seq":N,"capturedAt":T,"data":{...}}`. Built once per frame; only for a frame with metadata.
 */
export function wsMetaMessage(frame: Frame): Buffer {
  return frame.wire('ws-meta', (f) =>
    Buffer.from(
      `{"type":"meta","seq":${f.seq},"capturedAt":${f.capturedAt},"data":${(f.meta as Buffer).toString('utf8')}}`,
      'utf8',
    ),
  );
}
