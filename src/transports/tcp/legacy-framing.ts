import type { Frame } from '../../hub/frame.js';

/** Bytes of the seed's length prefix: struct.pack(">L", n). */
export const LEGACY_HEADER_BYTES = 4;

/**
 * The seed's framing: uint32 big-endian length of the base64 text, then the base64 text of the JPEG
 * (what servidor.py sends with `struct.pack(">L", len(msg)) + msg`).
 */
export function encodeLegacyFrame(jpeg: Buffer): Buffer {
  const b64len = 4 * Math.ceil(jpeg.length / 3);
  const out = Buffer.allocUnsafe(LEGACY_HEADER_BYTES + b64len);
  out.writeUInt32BE(b64len, 0);
  const written = out.write(jpeg.toString('base64'), LEGACY_HEADER_BYTES, 'latin1');
  if (written !== b64len) throw new Error(`base64 length mismatch: ${written} != ${b64len}`);
  return out;
}

/** The frame's seed-framed bytes, built once per frame and shared by all legacy clients. */
export function legacyWire(frame: Frame): Buffer {
  return frame.wire('legacy', (f) => encodeLegacyFrame(f.jpeg));
}
