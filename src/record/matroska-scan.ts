/**
 * Reading back a recording file framecast wrote (src/record/matroska.ts): every whole frame and where
 * the good part ends, for the repair of a segment left by an unclean stop.
 */
import { ID, MATROSKA_EPOCH_MS } from './matroska.js';

/** One frame found in a recording file. */
export interface MkvFrame {
  /** Byte offset of the JPEG in the file. */
  offset: number;
  length: number;
  /** Milliseconds from the segment's start. */
  timeMs: number;
}

/** What scanning a recording file found. */
export interface MkvScan {
  frames: MkvFrame[];
  /** Where the last whole element ends: a file longer than this ends in a cut block. */
  end: number;
  width: number | null;
  height: number | null;
  /** DateUTC as Unix ms, or null. */
  startMs: number | null;
  durationOffset: number | null;
}

/** Reads an element ID at `p`; null when cut or invalid. */
function readId(buf: Buffer, p: number): { id: number; len: number } | null {
  if (p >= buf.length) return null;
  const first = buf[p] as number;
  const len = first & 0x80 ? 1 : first & 0x40 ? 2 : first & 0x20 ? 3 : first & 0x10 ? 4 : 0;
  if (len === 0 || p + len > buf.length) return null;
  return { id: buf.readUIntBE(p, len), len };
}

/** Reads a size vint at `p`: its value (-1: unknown), or null when cut or invalid. */
function readSize(buf: Buffer, p: number): { size: number; len: number } | null {
  if (p >= buf.length) return null;
  const first = buf[p] as number;
  let len = 1;
  while (len <= 8 && !(first & (0x80 >> (len - 1)))) len++;
  if (len > 8 || p + len > buf.length) return null;
  let v = first & (0xff >> len);
  let allOnes = v === 0xff >> len;
  for (let i = 1; i < len; i++) {
    const b = buf[p + i] as number;
    if (b !== 0xff) allOnes = false;
    v = v * 256 + b;
  }
  return { size: allOnes ? -1 : v, len };
}

/** Master elements scanned into (their children are read in turn), not skipped. */
const MASTERS = new Set<number>([ID.Segment, ID.Cluster, ID.Info, ID.Tracks, ID.TrackEntry, ID.Video]);

/**
 * Finds every whole frame of a recording file (one written by framecast; other Matroska files are
 * read as far as they follow the same shape). Stops at the first element that is cut or makes no
 * sense: `end` is where the good part ends.
 */
export function scanMkv(buf: Buffer): MkvScan {
  const out: MkvScan = {
    frames: [],
    end: 0,
    width: null,
    height: null,
    startMs: null,
    durationOffset: null,
  };
  let p = 0;
  let cluster = 0;
  while (p < buf.length) {
    const id = readId(buf, p);
    if (!id) break;
    const size = readSize(buf, p + id.len);
    if (!size) break;
    const body = p + id.len + size.len;
    if (MASTERS.has(id.id)) {
      // Children follow; a known size is trusted only as far as the children are whole.
      p = body;
      out.end = p;
      continue;
    }
    if (size.size < 0 || body + size.size > buf.length) break;
    const end = body + size.size;
    switch (id.id) {
      case ID.Timestamp:
        cluster = size.size === 0 ? 0 : buf.readUIntBE(body, Math.min(size.size, 6));
        break;
      case ID.SimpleBlock:
        if (size.size > 4 && buf[body] === 0x81)
          out.frames.push({
            offset: body + 4,
            length: size.size - 4,
            timeMs: cluster + buf.readInt16BE(body + 1),
          });
        break;
      case ID.PixelWidth:
        out.width = size.size > 0 && size.size <= 6 ? buf.readUIntBE(body, size.size) : null;
        break;
      case ID.PixelHeight:
        out.height = size.size > 0 && size.size <= 6 ? buf.readUIntBE(body, size.size) : null;
        break;
      case ID.DateUTC:
        if (size.size === 8) out.startMs = Number(buf.readBigInt64BE(body) / 1_000_000n) + MATROSKA_EPOCH_MS;
        break;
      case ID.Duration:
        if (size.size === 8) out.durationOffset = body;
        break;
    }
    p = end;
    out.end = p;
  }
  return out;
}
