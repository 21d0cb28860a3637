/**
 * The Matroska (MKV) bytes of a recording: an MJPEG video track whose blocks are the JPEGs exactly as
 * viewers got them, each at its capture time (1 ms timestamp scale, variable frame rate kept).
 *
 * Written as live Matroska is (MediaRecorder, ffmpeg's `-live 1`): the Segment and each Cluster have
 * the "unknown" size, so a file cut anywhere (the process killed, the disk full) holds every whole
 * block up to the cut, and `ffprobe`, `ffmpeg` and VLC read it as it is. Closing a segment writes its
 * Duration into a placeholder (`durationOffset`). No Cues: players read the file from its start, and
 * framecast finds frames through its own index.
 *
 * EBML reference: RFC 8794 (EBML) and RFC 9559 (Matroska).
 */

/** The element IDs framecast writes (and its scan reads). */
export const ID = {
  EBML: 0x1a45dfa3,
  EBMLVersion: 0x4286,
  EBMLReadVersion: 0x42f7,
  EBMLMaxIDLength: 0x42f2,
  EBMLMaxSizeLength: 0x42f3,
  DocType: 0x4282,
  DocTypeVersion: 0x4287,
  DocTypeReadVersion: 0x4285,
  Segment: 0x18538067,
  Info: 0x1549a966,
  TimestampScale: 0x2ad7b1,
  Duration: 0x4489,
  DateUTC: 0x4461,
  MuxingApp: 0x4d80,
  WritingApp: 0x5741,
  Title: 0x7ba9,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackUID: 0x73c5,
  TrackType: 0x83,
  FlagLacing: 0x9c,
  CodecID: 0x86,
  Video: 0xe0,
  PixelWidth: 0xb0,
  PixelHeight: 0xba,
  Cluster: 0x1f43b675,
  Timestamp: 0xe7,
  SimpleBlock: 0xa3,
} as const;

/** The size field of an element whose end is not known when it starts (8 bytes, all value bits set). */
const UNKNOWN_SIZE = Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** Milliseconds between the Unix epoch and Matroska's DateUTC origin, 2001-01-01T00:00:00Z. */
export const MATROSKA_EPOCH_MS = Date.UTC(2001, 0, 1);

/** A block's timestamp is an int16 relative to its cluster's: a cluster spans at most this. */
export const MAX_CLUSTER_SPAN_MS = 32_767;

function idBytes(id: number): Buffer {
  const len = id > 0xffffff ? 4 : id > 0xffff ? 3 : id > 0xff ? 2 : 1;
  const b = Buffer.alloc(len);
  b.writeUIntBE(id, 0, len);
  return b;
}

/** An EBML variable-size integer (the shortest form; sizes up to 2^53). */
export function vint(value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`bad EBML size ${value}`);
  let len = 1;
  // 2^(7*len) - 1 is reserved (all ones means "unknown").
  while (len < 8 && value >= 2 ** (7 * len) - 1) len++;
  const b = Buffer.alloc(len);
  let v = value;
  for (let i = len - 1; i >= 0; i--) {
    b[i] = v % 256;
    v = Math.floor(v / 256);
  }
  b[0] = (b[0] as number) | (0x80 >> (len - 1));
  return b;
}

function element(id: number, body: Buffer): Buffer {
  return Buffer.concat([idBytes(id), vint(body.length), body]);
}

function uint(id: number, value: number): Buffer {
  let len = 1;
  while (len < 8 && value >= 2 ** (8 * len)) len++;
  if (len <= 6) {
    const b = Buffer.alloc(len);
    b.writeUIntBE(value, 0, len);
    return element(id, b);
  }
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(value));
  return element(id, b.subarray(8 - len));
}

function str(id: number, value: string): Buffer {
  return element(id, Buffer.from(value, 'utf8'));
}

function float(id: number, value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(value);
  return element(id, b);
}

function date(id: number, ms: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(Math.round(ms - MATROSKA_EPOCH_MS)) * 1_000_000n);
  return element(id, b);
}

/** The start of a recording file, and where its Duration is to be written when it closes. */
export interface MkvHead {
  bytes: Buffer;
  /** Byte offset of the Duration's 8-byte float (milliseconds); -1 without one. */
  durationOffset: number;
}

/**
 * The EBML header, the Segment (unknown size), its Info (DateUTC = `startMs`, Duration 0 until the
 * segment closes) and its one MJPEG track of `width` x `height`.
 */
export function mkvHead(opts: {
  width: number;
  height: number;
  startMs: number;
  title: string;
  /** False: no Duration (a file whose length is not known when it starts, e.g. an export). */
  duration?: boolean;
}): MkvHead {
  const ebml = element(
    ID.EBML,
    Buffer.concat([
      uint(ID.EBMLVersion, 1),
      uint(ID.EBMLReadVersion, 1),
      uint(ID.EBMLMaxIDLength, 4),
      uint(ID.EBMLMaxSizeLength, 8),
      str(ID.DocType, 'matroska'),
      uint(ID.DocTypeVersion, 4),
      uint(ID.DocTypeReadVersion, 2),
    ]),
  );
  const segmentStart = Buffer.concat([idBytes(ID.Segment), UNKNOWN_SIZE]);
  const infoFields = [
    uint(ID.TimestampScale, 1_000_000),
    str(ID.MuxingApp, 'framecast'),
    str(ID.WritingApp, 'framecast'),
    str(ID.Title, opts.title),
    date(ID.DateUTC, opts.startMs),
  ];
  const duration = opts.duration === false ? Buffer.alloc(0) : float(ID.Duration, 0);
  const infoBody = Buffer.concat([...infoFields, duration]);
  const info = element(ID.Info, infoBody);
  const tracks = element(
    ID.Tracks,
    element(
      ID.TrackEntry,
      Buffer.concat([
        uint(ID.TrackNumber, 1),
        uint(ID.TrackUID, 1),
        uint(ID.TrackType, 1),
        uint(ID.FlagLacing, 0),
        str(ID.CodecID, 'V_MJPEG'),
        element(
          ID.Video,
          Buffer.concat([uint(ID.PixelWidth, opts.width), uint(ID.PixelHeight, opts.height)]),
        ),
      ]),
    ),
  );
  const bytes = Buffer.concat([ebml, segmentStart, info, tracks]);
  // The Duration is the Info's last child: its float is the last 8 bytes of the Info element.
  const durationOffset = opts.duration === false ? -1 : ebml.length + segmentStart.length + info.length - 8;
  return { bytes, durationOffset };
}

/** The 8 bytes of a Duration (ms) to write at MkvHead.durationOffset. */
export function mkvDuration(ms: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(ms);
  return b;
}

/** A Cluster (unknown size) starting at `timestampMs` (from the segment's start). */
export function mkvCluster(timestampMs: number): Buffer {
  return Buffer.concat([idBytes(ID.Cluster), UNKNOWN_SIZE, uint(ID.Timestamp, timestampMs)]);
}

/**
 * The header of a SimpleBlock of track 1 holding `length` bytes of JPEG, `relMs` after its cluster's
 * timestamp (a keyframe: every JPEG is one). The JPEG follows it in the file.
 */
export function mkvBlockHeader(length: number, relMs: number): Buffer {
  if (!Number.isInteger(relMs) || relMs < -32768 || relMs > MAX_CLUSTER_SPAN_MS)
    throw new RangeError(`block timestamp ${relMs} is outside a cluster`);
  const tail = Buffer.alloc(4);
  tail[0] = 0x81; // track number 1
  tail.writeInt16BE(relMs, 1);
  tail[3] = 0x80; // keyframe
  return Buffer.concat([idBytes(ID.SimpleBlock), vint(length + 4), tail]);
}

/** A new cluster starts at least this often (players and a repair find their footing at each). */
export const CLUSTER_MS = 5000;

/**
 * Lays out frames as blocks of clusters, from a start time: the bytes to append for each frame and
 * where its JPEG lands. Pure: a recording segment and an export both use it.
 */
export class MkvMuxer {
  readonly start: number;
  #clusterAt = -Infinity;
  #last: number;

  constructor(startMs: number) {
    this.start = startMs;
    this.#last = startMs;
  }

  /** The time the last frame was given (never before the one before it). */
  get last(): number {
    return this.#last;
  }

  /**
   * The buffers that append a frame captured at `t` (clamped so times never go back): maybe a new
   * cluster, the block header, the JPEG. `jpegAt`: the JPEG's offset from the start of these buffers.
   */
  frame(jpeg: Buffer, t: number): { bufs: Buffer[]; jpegAt: number; t: number } {
    const at = Math.max(t, this.#last);
    const rel = Math.round(at - this.start);
    const bufs: Buffer[] = [];
    if (rel - this.#clusterAt >= CLUSTER_MS) {
      this.#clusterAt = rel;
      bufs.push(mkvCluster(rel));
    }
    bufs.push(mkvBlockHeader(jpeg.length, rel - this.#clusterAt));
    const jpegAt = bufs.reduce((n, b) => n + b.length, 0);
    bufs.push(jpeg);
    this.#last = at;
    return { bufs, jpegAt, t: at };
  }
}
