/**
 * The native protocol's byte layouts and code tables: sizes and offsets of its messages, message
 * types, flags and the ERROR/STATUS/END codes (docs/PROTOCOL.md, "Native protocol"). Data only.
 */

import type { EndReason } from '../hub/subscriber.js';

/** The 4 bytes that open a client's hello and the server's preamble. */
export const NATIVE_MAGIC = Buffer.from('FCST', 'latin1');

/** True when `bytes` agree with the native magic as far as both go (a prefix of it, or starting with it). */
export function agreesWithMagic(bytes: Buffer): boolean {
  const n = Math.min(bytes.length, NATIVE_MAGIC.length);
  return bytes.subarray(0, n).equals(NATIVE_MAGIC.subarray(0, n));
}
/** The highest protocol version this code speaks. */
export const NATIVE_VERSION = 2;
/** Longest stream name a version-2 hello may carry (bytes). */
export const MAX_STREAM_NAME_BYTES = 64;
/** Stream names a hello may carry (the server's own rule for naming streams). */
/** Fixed part of the hello: magic, version, flags, token length, client time. */
export const HELLO_FIXED_BYTES = 16;
/** Longest token a hello may carry (bytes of UTF-8). */
export const MAX_TOKEN_BYTES = 1024;
/** Largest possible hello (version 2: with a stream name). */
export const MAX_HELLO_BYTES = HELLO_FIXED_BYTES + MAX_TOKEN_BYTES + 1 + MAX_STREAM_NAME_BYTES + 16 + 8;
/** The server's preamble: magic, version, 3 reserved bytes. */
export const PREAMBLE_BYTES = 8;
/** Every message after the preamble starts with type, flags, header length, body length. */
export const ENVELOPE_BYTES = 8;
/** Type-specific header of a FRAME message in version 1. */
export const FRAME_HEADER_BYTES = 32;
/** Type-specific header of a WELCOME message in version 1. */
export const WELCOME_HEADER_BYTES = 16;
/** Offset of the 8-byte sentAt field inside a whole FRAME message (envelope included). */
export const FRAME_SENT_AT_OFFSET = ENVELOPE_BYTES + 24;
/** Bytes before the JPEG in a FRAME message. */
export const FRAME_PREFIX_BYTES = ENVELOPE_BYTES + FRAME_HEADER_BYTES;
/** Cap on the UTF-8 text of WELCOME/STATUS/END/ERROR bodies that a reader accepts. */
export const MAX_TEXT_BYTES = 4096;
/** Cap on any type-specific header a reader accepts (later versions may append fields). */
export const MAX_HEADER_BYTES = 1024;

/** Message types (envelope byte 0). Readers skip types they do not know. ACK goes client to server. */
export const MessageType = { Welcome: 1, Frame: 2, Status: 3, End: 4, Error: 5, Ack: 6, Meta: 7 } as const;

/**
 * Hello flag bits (byte 5). The server echoes the bits it honours in the WELCOME envelope's flags.
 * Meta: a viewer receives each frame's metadata (a META before its FRAME); a publisher sends it.
 * Annotations: a viewer receives analyzers' annotations. Annotate: the client sends annotations.
 */
export const HelloFlag = {
  Ack: 0x01,
  Publish: 0x02,
  Meta: 0x04,
  Annotations: 0x08,
  Annotate: 0x10,
  /** Version 2: play a recording back; the hello ends with PLAYBACK_BYTES (start, speed). */
  Playback: 0x20,
  /** Version 2: another size, quality or rate; VIEW_BYTES follow (after the playback block, if any). */
  View: 0x40,
} as const;

/** The view block of a version-2 hello with flag View: width (uint16), quality (uint8), 0, fps (float32). */
export const VIEW_BYTES = 8;

/** The playback block of a version-2 hello with flag Playback: start (float64 ms), speed (float64). */
export const PLAYBACK_BYTES = 16;

/** What a META message carries: a publisher's metadata of a frame, or an analyzer's annotation. */
export const MetaKind = { Metadata: 1, Annotation: 2 } as const;
/** META header: seq (uint32), kind (uint8), name length N (uint8), 2 reserved, capturedAt (float64), then N bytes of name. */
export const META_HEADER_BYTES = 16;
/** Longest analyzer name in a META header. */
export const MAX_ANALYZER_NAME_BYTES = 64;
/** Largest META body (JSON) a reader accepts; a stream's own cap (maxMetaBytes) is at most this. */
export const MAX_META_WIRE_BYTES = 1024 * 1024;

/**
 * Frames an acknowledging client may have unacknowledged (sent by the server, not yet ACKed). Two keep
 * one frame on the way while the client works on the other, and bound how stale a slow client's next
 * frame can be, whatever the kernel's socket buffers would hold.
 */
export const ACK_WINDOW = 2;
/** Largest window a client may ask for in an ACK (bounds how much a client can make the server buffer). */
export const MAX_ACK_WINDOW = 32;
/** Smallest ACK header: the seq the client is done with. */
export const ACK_HEADER_BYTES = 4;
/** ACK header with the client's window: seq (uint32), window (uint16), reserved (uint16). */
export const ACK_WINDOW_HEADER_BYTES = 8;
/** A whole ACK message in version 1 without a window. */
export const ACK_BYTES = ENVELOPE_BYTES + ACK_HEADER_BYTES;

/** ERROR codes: why the server refused or dropped the client. */
export const ErrorCode = {
  BadHello: 1,
  UnsupportedVersion: 2,
  TokenRequired: 3,
  TokenInvalid: 4,
  ServerFull: 5,
  HandshakeTimeout: 6,
  ShuttingDown: 7,
  Internal: 8,
  BadMessage: 9,
  UnknownStream: 10,
  BadFrame: 11,
  PublisherActive: 12,
  NotPublishable: 13,
  PublisherIdle: 14,
  BadMetadata: 15,
  /** A playback hello asked for a time with no recording (or the stream records nothing). */
  NoRecording: 16,
  /** The credentials are good, and they do not permit this (a user, a JWT, a signed link). */
  Forbidden: 17,
  /** The address failed to log in too often: refused without checking, for a while. */
  TooManyFailures: 18,
} as const;

/** STATUS codes; `value` is the waiting position for Waiting, else 0. Readers ignore unknown codes. */
export const StatusCode = { Waiting: 1, NoSignal: 2, SignalRestored: 3, AnnotationRefused: 4 } as const;

/** END reasons on the wire: one code for each way a client's stream ends (hub/subscriber.ts EndReason). */
export const EndCode: Readonly<Record<EndReason, number>> = {
  eof: 1,
  stopped: 2,
  'source-error': 3,
  shutdown: 4,
  kicked: 5,
  removed: 6,
};

/** Names of END reasons: the hub's EndReason, one name for the concept everywhere. */
export type EndReasonName = EndReason;

/** The END reason name for a code, or `unknown`. */
export function endReasonName(code: number): EndReasonName | 'unknown' {
  for (const [name, c] of Object.entries(EndCode)) if (c === code) return name as EndReasonName;
  return 'unknown';
}
