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
