// Parses one binary WebSocket message: a native-protocol FRAME message (docs/PROTOCOL.md).
// Envelope (8 bytes): u8 type (2 = FRAME), u8 flags, u16 header length, u32 body length; then the
// header: u32 seq, u16 width, u16 height, f64 capturedAt, f64 encodedAt, f64 sentAt (ms, server clock);
// then the body: the JPEG. Big-endian. Later versions may append header fields; we skip them.

const FRAME = 2;
const ENVELOPE = 8;
const MIN_HEADER = 32;

/**
 * @param {ArrayBuffer} buf
 * @returns {{ seq: number, width: number, height: number, capturedAt: number, encodedAt: number, sentAt: number, jpeg: Uint8Array } | null}
 */
export function parseFrameMessage(buf) {
  if (buf.byteLength < ENVELOPE + MIN_HEADER) return null;
  const view = new DataView(buf);
  if (view.getUint8(0) !== FRAME) return null;
  const headerLength = view.getUint16(2);
  const bodyLength = view.getUint32(4);
  if (headerLength < MIN_HEADER || ENVELOPE + headerLength + bodyLength > buf.byteLength) return null;
  return {
    seq: view.getUint32(ENVELOPE),
    width: view.getUint16(ENVELOPE + 4),
    height: view.getUint16(ENVELOPE + 6),
    capturedAt: view.getFloat64(ENVELOPE + 8),
    encodedAt: view.getFloat64(ENVELOPE + 16),
    sentAt: view.getFloat64(ENVELOPE + 24),
    jpeg: new Uint8Array(buf, ENVELOPE + headerLength, bodyLength),
  };
}
