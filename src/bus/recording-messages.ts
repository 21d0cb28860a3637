/**
 * The messages of recordings over the bus (docs/PROTOCOL.md, "Bus", "Recordings through an edge"):
 * an edge's request is JSON on `PREFIX.rec.STREAM.VERB`; the origin answers on the request's reply
 * subject with zero or more frame messages, then one last message (`end`, `list` or `error`). Each
 * answer message is `[u32 BE n][n bytes of JSON head][tail]`, the tail a frame's JPEG (empty
 * otherwise). Pure: no sockets, so it is tested with bytes alone.
 */
import type { RecordedFrame, RecordedSpan } from '../record/recording-reader.js';
import type { RecordingReport } from '../record/recordings.js';

/** A request's JSON is at most this long (anything longer is not answered). */
export const MAX_REQUEST_BYTES = 1024;
/** A batch holds at most this many frames, and stops once it holds this many bytes (asked for or not). */
export const MAX_BATCH_FRAMES = 64;
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** A head's JSON is at most this long (a frame's metadata and annotations are in it, base64). */
export const MAX_HEAD_BYTES = 1024 * 1024;
/** A listing holds at most this many spans (a span per recording; gaps split them). */
export const MAX_SPANS = 100_000;

/** `list`: the spans overlapping start..end (null: unbounded; none with `spans: false`), and the recorder's report. */
export interface ListRequest {
  start: number | null;
  end: number | null;
  spans: boolean;
}
/** `at`: the frame at or just before `t`. */
export interface AtRequest {
  t: number;
}
/**
 * `frames`: the next batch of a playback of start..end: after the frame `after` (the last one the
 * edge has; null for the first batch), at most `max` frames, stopping once `maxBytes` are in.
 */
export interface FramesRequest {
  start: number;
  end: number | null;
  after: { t: number; seq: number } | null;
  max: number;
  maxBytes: number;
}

export type RecRequest =
  | { verb: 'list'; req: ListRequest }
  | { verb: 'at'; req: AtRequest }
  | { verb: 'frames'; req: FramesRequest };

/** What the origin says last. */
export type RecFinal =
  | { k: 'end'; frames: number; more: boolean }
  | { k: 'list'; spans: RecordedSpan[]; recording: RecordingReport | null }
  | { k: 'error'; status: number; message: string };

const time = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const timeOrNull = (v: unknown): v is number | null => v === null || time(v);
const count = (v: unknown, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;

/** A request's JSON, checked; null when it is not one (it is not answered then). */
export function parseRecRequest(verb: string, data: Uint8Array): RecRequest | null {
  if (data.length > MAX_REQUEST_BYTES) return null;
  let v: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(data).toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
    v = parsed as Record<string, unknown>;
  } catch {
    return null;
  }
  if (verb === 'list')
    return timeOrNull(v.start) && timeOrNull(v.end) && (v.spans === undefined || typeof v.spans === 'boolean')
      ? { verb, req: { start: v.start, end: v.end, spans: v.spans !== false } }
      : null;
  if (verb === 'at') return time(v.t) ? { verb, req: { t: v.t } } : null;
  if (verb !== 'frames') return null;
  const after = v.after as Record<string, unknown> | null | undefined;
  const okAfter = after === null || (typeof after === 'object' && time(after.t) && count(after.seq, 2 ** 32));
  if (!time(v.start) || !timeOrNull(v.end) || !okAfter) return null;
  if (!count(v.max, Number.MAX_SAFE_INTEGER) || !count(v.maxBytes, Number.MAX_SAFE_INTEGER)) return null;
  return {
    verb,
    req: {
      start: v.start,
      end: v.end,
      after: after ? { t: after.t as number, seq: after.seq as number } : null,
      // Clamped here: a peer asks for at most a batch's worth.
      max: Math.max(1, Math.min(MAX_BATCH_FRAMES, v.max)),
      maxBytes: Math.max(1, Math.min(MAX_BATCH_BYTES, v.maxBytes)),
    },
  };
}

/** One answer message: its JSON head and tail. */
function message(head: unknown, tail: Buffer = Buffer.alloc(0)): Buffer {
  const json = Buffer.from(JSON.stringify(head));
  const n = Buffer.alloc(4);
  n.writeUInt32BE(json.length);
  return Buffer.concat([n, json, tail]);
}

/** A recorded frame as an answer message: seq, capture time, size, metadata and annotations in the head. */
export function encodeRecFrame(f: RecordedFrame): Buffer {
  return message(
    {
      k: 'frame',
      seq: f.seq,
      t: f.capturedAt,
      w: f.width,
      h: f.height,
      m: f.meta ? f.meta.toString('base64') : null,
      a: f.annotations.map((a) => ({
        a: a.analyzer,
        s: a.seq,
        t: a.t,
        r: a.receivedAt,
        d: a.json.toString('base64'),
      })),
    },
    f.jpeg,
  );
}

/** The last answer message. */
export function encodeRecFinal(f: RecFinal): Buffer {
  return message(f);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const ANALYZER = /^[A-Za-z0-9_.-]{1,64}$/;

function base64(v: unknown): Buffer | null {
  return typeof v === 'string' && BASE64.test(v) ? Buffer.from(v, 'base64') : null;
}

function spanOf(v: unknown): RecordedSpan | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (!time(o.start) || !time(o.end) || o.end < o.start) return null;
  if (!count(o.frames, Number.MAX_SAFE_INTEGER) || !count(o.bytes, Number.MAX_SAFE_INTEGER)) return null;
  if (!count(o.segments, Number.MAX_SAFE_INTEGER)) return null;
  return { start: o.start, end: o.end, frames: o.frames, bytes: o.bytes, segments: o.segments };
}

/**
 * An answer message, checked: a frame (its JPEG not yet checked as an image: the edge does, against
 * its own bound), the last message, or null when it is neither.
 */
export function decodeRecMessage(
  m: Buffer,
): { k: 'frame'; frame: RecordedFrame } | { k: 'final'; final: RecFinal } | null {
  if (m.length < 4) return null;
  const n = m.readUInt32BE(0);
  if (n > MAX_HEAD_BYTES || 4 + n > m.length) return null;
  let head: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(m.subarray(4, 4 + n).toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
    head = parsed as Record<string, unknown>;
  } catch {
    return null;
  }
  const tail = m.subarray(4 + n);
  if (head.k === 'frame') {
    if (!count(head.seq, 2 ** 32) || !time(head.t) || !count(head.w, 65535) || !count(head.h, 65535))
      return null;
    const meta = head.m === null ? null : base64(head.m);
    if (meta === null && head.m !== null) return null;
    if (!Array.isArray(head.a) || head.a.length > 64) return null;
    const annotations: RecordedFrame['annotations'] = [];
    for (const x of head.a as unknown[]) {
      const a = (typeof x === 'object' && x !== null ? x : {}) as Record<string, unknown>;
      const json = base64(a.d);
      if (typeof a.a !== 'string' || !ANALYZER.test(a.a) || !count(a.s, 2 ** 32) || !time(a.t) || !time(a.r))
        return null;
      if (!json) return null;
      annotations.push({ analyzer: a.a, seq: a.s, t: a.t, receivedAt: a.r, json });
    }
    return {
      k: 'frame',
      frame: {
        seq: head.seq,
        capturedAt: head.t,
        width: head.w,
        height: head.h,
        jpeg: tail,
        meta,
        annotations,
      },
    };
  }
  if (tail.length > 0) return null;
  if (head.k === 'end')
    return count(head.frames, MAX_BATCH_FRAMES) && typeof head.more === 'boolean'
      ? { k: 'final', final: { k: 'end', frames: head.frames, more: head.more } }
      : null;
  if (head.k === 'error') {
    const status = count(head.status, 599) && head.status >= 400 ? head.status : 502;
    const message = typeof head.message === 'string' ? head.message.slice(0, 512) : 'the origin failed';
    return { k: 'final', final: { k: 'error', status, message } };
  }
  if (head.k === 'list') {
    if (!Array.isArray(head.spans) || head.spans.length > MAX_SPANS) return null;
    const spans: RecordedSpan[] = [];
    for (const s of head.spans as unknown[]) {
      const span = spanOf(s);
      if (!span) return null;
      spans.push(span);
    }
    const recording = reportOf(head.recording);
    if (recording === undefined) return null;
    return { k: 'final', final: { k: 'list', spans, recording } };
  }
  return null;
}

const STATES = ['recording', 'failing', 'stopped'];

/** A recorder's report from the origin, checked field by field (null: none; undefined: not one). */
function reportOf(v: unknown): RecordingReport | null | undefined {
  if (v === null) return null;
  if (typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  const n = (k: string): boolean => count(o[k], Number.MAX_SAFE_INTEGER);
  if (typeof o.state !== 'string' || !STATES.includes(o.state)) return undefined;
  if (o.error !== null && typeof o.error !== 'string') return undefined;
  if (!['framesWritten', 'framesDropped', 'segmentsWritten', 'segments', 'bytes'].every(n)) return undefined;
  if (!time(o.since) || !timeOrNull(o.oldest) || !timeOrNull(o.newest)) return undefined;
  return {
    state: o.state as RecordingReport['state'],
    error: o.error === null ? null : o.error.slice(0, 512),
    framesWritten: o.framesWritten as number,
    framesDropped: o.framesDropped as number,
    segmentsWritten: o.segmentsWritten as number,
    since: o.since,
    segments: o.segments as number,
    bytes: o.bytes as number,
    oldest: o.oldest,
    newest: o.newest,
  };
}
