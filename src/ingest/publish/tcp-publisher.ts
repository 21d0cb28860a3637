import type net from 'node:net';
import { FramecastError } from '../../errors.js';
import {
  ACK_WINDOW,
  ErrorCode,
  encodeAck,
  encodeEnd,
  encodeError,
  encodePreamble,
  MetaKind,
} from '../../protocol/native.js';
import { checkMetaBytes } from '../../meta/meta-json.js';
import { NativeParser } from '../../protocol/native-parser.js';
import { nowMs } from '../../util/clock.js';
import { jpegInfo, looksLikeJpeg } from '../../util/jpeg.js';
import {
  PUBLISH_IDLE_REASON,
  type IngestFrame,
  type PublisherConnection,
  type PublisherSlot,
} from './publisher-slot.js';

/** Largest JPEG a publisher may send (checked against the declared length, before buffering). */
export const MAX_PUBLISHED_FRAME_BYTES = 16 * 1024 * 1024;

/** How long an ERROR may take to reach the kernel before the socket is cut. */
const FLUSH_MS = 1000;

/**
 * Checks one published image: a whole JPEG (SOI ... EOI) whose size is read from its SOF header.
 * Returns the size, or the reason it is refused.
 */
export function checkPublishedJpeg(jpeg: Buffer): { width: number; height: number } | string {
  if (!looksLikeJpeg(jpeg)) return 'not a whole JPEG (it must start with FF D8 and end with FF D9)';
  const info = jpegInfo(jpeg);
  if (!info || info.width === 0 || info.height === 0)
    return 'a JPEG without a readable size (no SOF segment)';
  return info;
}

/** A capture time from a publisher: its own when it is a sane wall-clock time, else ours. */
export function captureTime(given: number, now: number): number {
  return Number.isFinite(given) && Math.abs(given - now) < 86_400_000 ? given : now;
}

/**
 * Serves one native publisher after its hello was accepted and the slot claimed for it: reads FRAME
 * messages (each JPEG checked, then handed to the stream as it came), answers each with an ACK that
 * grants the next frames (at most ACK_WINDOW unacknowledged: a fast publisher waits for the server
 * instead of the server buffering), and takes END as a clean goodbye. Anything else, or a bad frame,
 * is an ERROR for this publisher alone; viewers see no signal until the next one.
 */
export function servePublisher(
  socket: net.Socket,
  conn: PublisherConnection & { socket?: net.Socket },
  slot: PublisherSlot,
  rest: Buffer,
  maxFrameBytes = MAX_PUBLISHED_FRAME_BYTES,
  metaMaxBytes: number | null = null,
): void {
  const parser = new NativeParser(maxFrameBytes);
  // The parser reads a server's side: it starts with a preamble, which a publisher does not send.
  parser.push(encodePreamble(2), () => {});
  let done = false;
  /** The metadata a META announced for the next FRAME (same seq), or null. */
  let pendingMeta: { seq: number; json: Buffer } | null = null;
  const fail = (code: number, message: string): void => {
    if (done) return;
    done = true;
    slot.release(conn, message);
    socket.on('data', () => {}); // unread input would turn our close into a reset that loses the ERROR
    if (socket.writable) socket.end(encodeError(code, message));
    setTimeout(() => socket.destroy(), FLUSH_MS).unref();
  };
  const onData = (chunk: Buffer): void => {
    // Evicted (taken over, removed, idle): the rest is read and dropped until the close.
    if (done || !socket.writable) return;
    try {
      parser.push(chunk, (m) => {
        if (done) return;
        if (m.type === 'frame') {
          const size = checkPublishedJpeg(m.jpeg);
          if (typeof size === 'string') return fail(ErrorCode.BadFrame, `bad frame ${m.seq}: ${size}`);
          // Checked before anyone decodes it: a few KB whose SOF claims 65535x65535 is a decoder's gigabytes.
          const tooLarge = slot.refuseSize(size.width, size.height);
          if (tooLarge) return fail(ErrorCode.BadFrame, `bad frame ${m.seq}: ${tooLarge}`);
          const now = nowMs();
          const meta = pendingMeta?.seq === m.seq ? pendingMeta.json : null;
          pendingMeta = null;
          const frame: IngestFrame = {
            jpeg: m.jpeg,
            ...size,
            capturedAt: captureTime(m.capturedAt, now),
            receivedAt: now,
            meta,
          };
          slot.frame(conn, frame);
          socket.write(encodeAck(m.seq, ACK_WINDOW));
        } else if (m.type === 'meta' && metaMaxBytes !== null && m.kind === MetaKind.Metadata) {
          const checked = checkMetaBytes(m.json, metaMaxBytes);
          if ('problem' in checked)
            return fail(ErrorCode.BadMetadata, `bad metadata of frame ${m.seq}: ${checked.problem}`);
          pendingMeta = { seq: m.seq, json: checked.json };
        } else if (m.type === 'end') {
          done = true;
          slot.release(conn, `the publisher ended (${m.reason})`);
          socket.end();
        } else {
          const what = metaMaxBytes === null ? 'FRAME and END' : 'FRAME, META (kind 1) and END';
          fail(ErrorCode.BadMessage, `a publisher sends ${what} messages only, not ${m.type}`);
        }
      });
    } catch (err) {
      const message = err instanceof FramecastError ? err.message : String(err);
      fail(
        err instanceof FramecastError && err.code === 'ERR_FRAME_TOO_LARGE'
          ? ErrorCode.BadFrame
          : ErrorCode.BadMessage,
        message,
      );
    }
  };
  socket.on('data', onData);
  socket.once('close', () => {
    done = true;
    slot.release(conn, 'the connection closed');
  });
  if (rest.length > 0) onData(rest);
  socket.resume();
}

/**
 * A TCP publisher as the slot sees it: eviction sends END (a takeover, or the stream went away) or
 * ERROR 14 (no complete frame for PUBLISH_IDLE_MS), then closes.
 */
export function tcpPublisherConnection(socket: net.Socket, address: string): PublisherConnection {
  return {
    address,
    via: 'tcp',
    evict(reason) {
      if (socket.writable)
        socket.end(
          reason === 'replaced'
            ? encodeEnd('kicked', 'another publisher took this stream over')
            : reason === 'idle'
              ? encodeError(ErrorCode.PublisherIdle, PUBLISH_IDLE_REASON)
              : encodeEnd('removed', 'the stream was removed or changed on the server'),
        );
      setTimeout(() => socket.destroy(), FLUSH_MS).unref();
    },
  };
}
