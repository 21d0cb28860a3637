import type { IncomingMessage, ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { RecordedFrame, RecordingReader } from '../../record/recording-reader.js';
import { RecordingStore, type SegmentRef } from '../../record/recording-store.js';
import type { RecordingReport } from '../../record/recordings.js';
import type { RecorderStatus } from '../../record/stream-recorder.js';
import { MkvMuxer, mkvHead } from '../../record/matroska.js';
import { MAX_SPEED, MIN_SPEED, type PlaybackRequest } from '../../record/recording-producer.js';
import type { Hub } from '../../hub/hub.js';
import { MAX_META_HEADER_BYTES, serveMjpeg } from './mjpeg.js';

import { NO_CACHE, sendJson, sendText, type HttpContext } from './respond.js';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { WsEndpoint } from './ws.js';

/** What the HTTP transport asks of recordings (a Recordings is one). */
export interface RecordingsLookup {
  /**
   * The recordings of stream `name`, or null when there is no such stream. A rejection with a
   * numeric `status` (an edge whose origin did not answer: 504) is answered with that status.
   */
  store(name: string): Promise<RecordingReader> | null;
  report(name: string): Promise<RecordingReport | null>;
  /** A hub of its own playing stream `name`'s recording, or why there is nothing to play. */
  playback(name: string, req: PlaybackRequest): Promise<Hub | string>;
  /** The recorder's state of a stream being recorded now, else null. */
  status(name: string): RecorderStatus | null;
  /** The recorder's state of every stream being recorded now. */
  states(): { stream: string; status: RecorderStatus }[];
}

/** Playbacks and exports served at once by one server: each holds a file open and reads as it sends. */
export const MAX_PLAYBACKS = 64;
export { GAP_MS, spansOf, type RecordedSpan } from '../../record/recording-reader.js';

/** ISO 8601 with a date, a time and a zone: `2026-12-07T03:00:00Z`, `...T03:00:00.250+01:00`. */
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** A time from a query value: ms since the epoch, or an error message. */
export function parseTime(name: string, v: string | null): number | string {
  if (v === null || v === '') return `${name} is required (ISO 8601, e.g. 2026-12-07T03:00:00Z)`;
  if (!ISO.test(v))
    return `${name} must be an ISO 8601 time with its zone (e.g. 2026-12-07T03:00:00Z), got ${JSON.stringify(v.slice(0, 64))}`;
  // Date.parse keeps milliseconds: cut finer fractions to three digits.
  const t = Date.parse(v.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isFinite(t) ? t : `${name} is not a real time: ${JSON.stringify(v.slice(0, 64))}`;
}

const iso = (ms: number): string => new Date(Math.floor(ms)).toISOString();

/** The most segments one activity answer reads: the newest of a longer range (the answer says `partial`). */
export const MAX_ACTIVITY_SEGMENTS = 1500;
/** Buckets of an activity answer: default and most. */
export const ACTIVITY_BUCKETS = 200;
export const MAX_ACTIVITY_BUCKETS = 2000;
/** A segment's index may file annotations of frames this long before the segment began. */
const LATE_ANNOTATION_MS = 10_000;

/** A segment's annotations counted per second of capture time (sparse, in time order). */
interface SecondCounts {
  secs: Float64Array;
  counts: Uint32Array;
}

/** Counts a segment's annotations per second of their frames' capture time. */
export function countPerSecond(annotations: readonly { t: number }[]): SecondCounts {
  const bySec = new Map<number, number>();
  for (const a of annotations) {
    const sec = Math.floor(a.t / 1000);
    bySec.set(sec, (bySec.get(sec) ?? 0) + 1);
  }
  const secs = [...bySec.keys()].sort((a, b) => a - b);
  return { secs: Float64Array.from(secs), counts: Uint32Array.from(secs, (k) => bySec.get(k) as number) };
}

/**
 * The HTTP endpoints of recordings: the list of recorded spans (framecast's, and one shaped as
 * MediaMTX's playback `/list`), MJPEG playback from any time, the frame at a time, an export to
 * Matroska. Times come only from the query and are never part of a path: what is read is found in
 * the stream's own catalog, inside its folder.
 */
/**
 * True when `rest` (with its query) reads a stream's recordings: the `playback` action, not `read`.
 * The one list of them (the endpoints below, a WebSocket with `?start=`, MediaMTX's `/list`).
 */
export function isPlaybackRequest(rest: string, q: URLSearchParams): boolean {
  switch (rest) {
    case 'recordings':
    case 'recordings/activity':
    case 'playback.mjpg':
    case 'playback.mjpeg':
    case 'export.mkv':
    case 'list':
      return true;
    case 'snapshot.jpg':
    case 'snapshot.jpeg':
      return q.has('at');
    case 'ws':
      return q.has('start');
  }
  return false;
}

export class RecordingsHttp {
  readonly #lookup: RecordingsLookup;
  readonly #cors: Readonly<Record<string, string>>;
  #open = 0;
  /** Annotation counts of closed segments (which never change), by store and segment name. */
  readonly #activity = new WeakMap<RecordingStore, Map<string, SecondCounts>>();

  constructor(lookup: RecordingsLookup, cors: Readonly<Record<string, string>>) {
    this.#lookup = lookup;
    this.#cors = cors;
  }

  /** The recorder's state of stream `name` (for /stats), or null. */
  status(name: string): RecorderStatus | null {
    return this.#lookup.status(name);
  }

  /** Every recorder's state (for /metrics). */
  states(): { stream: string; status: RecorderStatus }[] {
    return this.#lookup.states();
  }

  /** Serves `rest` of stream `name` when it is a recordings endpoint; false when it is not one. */
  get(req: IncomingMessage, res: ServerResponse, name: string, rest: string, url: URL): boolean {
    const q = url.searchParams;
    switch (rest) {
      case 'recordings':
        void this.#guard(res, () => this.#list(res, name, q));
        return true;
      case 'recordings/activity':
        void this.#guard(res, () => this.#activityOf(res, name, q));
        return true;
      case 'playback.mjpg':
      case 'playback.mjpeg':
        void this.#guard(res, () => this.#playback(req, res, name, q), true);
        return true;
      case 'export.mkv':
        void this.#guard(res, () => this.#export(req, res, name, q), true);
        return true;
      case 'snapshot.jpg':
      case 'snapshot.jpeg':
        if (!q.has('at')) return false;
        void this.#guard(res, () => this.#snapshotAt(req, res, name, q));
        return true;
    }
    return false;
  }

  /**
   * GET /list?path=NAME[&start=&end=]: the recorded spans as MediaMTX's playback server lists them
   * (`[{start, duration, url}]`, duration in seconds), each url an export of that span.
   */
  mediamtxList(req: IncomingMessage, res: ServerResponse, name: string, url: URL): void {
    void this.#guard(res, async () => {
      const store = await this.#store(res, name);
      if (!store) return;
      const range = this.#range(res, url.searchParams, false);
      if (!range) return;
      const spans = await store.spans(range.start, range.end);
      if (spans.length === 0) return sendText(res, 404, `no recordings of ${name}`, this.#cors);
      const scheme = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
      const base = `${scheme}://${req.headers.host ?? 'localhost'}`;
      sendJson(
        res,
        200,
        spans.map((s) => ({
          start: iso(s.start),
          duration: Math.max(0, s.end - s.start) / 1000,
          url: `${base}/streams/${encodeURIComponent(name)}/export.mkv?start=${encodeURIComponent(iso(s.start))}&end=${encodeURIComponent(iso(s.end + 1))}`,
        })),
        this.#cors,
      );
    });
  }

  /** Runs an endpoint: a failure (a file gone, a read error) is a 500 with one line, never a crash. */
  async #guard(res: ServerResponse, fn: () => Promise<void>, counted = false): Promise<void> {
    if (counted && this.#open >= MAX_PLAYBACKS) {
      sendText(res, 503, `too many playbacks at once (${MAX_PLAYBACKS})`, {
        ...this.#cors,
        'Retry-After': '5',
      });
      return;
    }
    if (counted) {
      // Counted until the response is over (a playback streams long after fn() returned).
      this.#open++;
      res.once('close', () => this.#open--);
    }
    try {
      await fn();
    } catch (err) {
      const status = (err as { status?: unknown }).status;
      if (!res.headersSent)
        sendText(
          res,
          typeof status === 'number' && status >= 400 && status < 600 ? status : 500,
          `recordings: ${(err as Error).message}`,
          this.#cors,
        );
      else res.destroy();
    }
  }

  async #store(res: ServerResponse, name: string): Promise<RecordingReader | null> {
    const p = this.#lookup.store(name);
    if (!p) {
      sendText(res, 404, `no stream named ${name}`, this.#cors);
      return null;
    }
    return p;
  }

  /** `start` and `end` from the query (each optional unless `need`); null after answering 400. */
  #range(res: ServerResponse, q: URLSearchParams, need: boolean): { start: number; end: number } | null {
    let start = -Infinity;
    let end = Infinity;
    for (const key of ['start', 'end'] as const) {
      if (!q.has(key) && !(need && key === 'start')) continue;
      const t = parseTime(key, q.get(key));
      if (typeof t === 'string') {
        sendText(res, 400, t, this.#cors);
        return null;
      }
      if (key === 'start') start = t;
      else end = t;
    }
    if (q.has('duration')) {
      const d = Number(q.get('duration'));
      if (!Number.isFinite(d) || d <= 0) {
        sendText(
          res,
          400,
          `duration must be a number of seconds above 0, got ${JSON.stringify(q.get('duration'))}`,
          this.#cors,
        );
        return null;
      }
      end = Math.min(end, start + d * 1000);
    }
    if (start > end) {
      sendText(res, 400, `start (${iso(start)}) is after end (${iso(end)})`, this.#cors);
      return null;
    }
    return { start, end };
  }

  async #list(res: ServerResponse, name: string, q: URLSearchParams): Promise<void> {
    const store = await this.#store(res, name);
    if (!store) return;
    const range = this.#range(res, q, false);
    if (!range) return;
    const spans = (await store.spans(range.start, range.end)).map((s) => ({
      start: iso(s.start),
      end: iso(s.end),
      duration: Math.max(0, s.end - s.start) / 1000,
      frames: s.frames,
      bytes: s.bytes,
      segments: s.segments,
    }));
    sendJson(res, 200, { stream: name, recording: await this.#lookup.report(name), spans }, this.#cors);
  }

  /**
   * GET recordings/activity?start=&end=[&buckets=]: the annotations filed with the recording from
   * start to end (default: all of it), counted in `buckets` equal buckets (by their frames' capture
   * time, to the second: each second at its middle) for a timeline. Reads the segments' indexes (the newest
   * MAX_ACTIVITY_SEGMENTS of the range; `partial` and `from` say so), a closed segment's once.
   */
  async #activityOf(res: ServerResponse, name: string, q: URLSearchParams): Promise<void> {
    const reader = await this.#store(res, name);
    if (!reader) return;
    // Counted from the segments' own indexes: on the server that records them (not through an edge).
    if (!(reader instanceof RecordingStore))
      return sendText(
        res,
        501,
        `annotation activity of ${name} is only served by the server that records it`,
        this.#cors,
      );
    const store = reader;
    const range = this.#range(res, q, false);
    if (!range) return;
    const n = q.has('buckets') ? Number(q.get('buckets')) : ACTIVITY_BUCKETS;
    if (!Number.isInteger(n) || n < 1 || n > MAX_ACTIVITY_BUCKETS)
      return sendText(
        res,
        400,
        `buckets must be a whole number from 1 to ${MAX_ACTIVITY_BUCKETS}, got ${JSON.stringify(q.get('buckets'))}`,
        this.#cors,
      );
    const all = store.segments();
    // Without start or end: the recording's own; with them, exactly them (the buckets of a timeline).
    const start = Number.isFinite(range.start) ? range.start : (all[0]?.info.start ?? 0);
    const end = Number.isFinite(range.end) ? range.end : (all.at(-1)?.info.end ?? start);
    const segs = all.filter(({ info }) => info.end >= start && info.start - LATE_ANNOTATION_MS <= end);
    const read = segs.slice(-MAX_ACTIVITY_SEGMENTS);
    const from = segs.length > read.length ? Math.max(start, (read[0] as SegmentRef).info.start) : start;
    const bucketMs = Math.max(1, (end - start) / n);
    const counts = new Array<number>(end > start ? n : 0).fill(0);
    let known = this.#activity.get(store);
    if (!known) {
      known = new Map();
      this.#activity.set(store, known);
    }
    // Segments removed by retention leave the memo.
    if (known.size > all.length + 64) {
      const names = new Set(all.map((r) => r.info.name));
      for (const k of known.keys()) if (!names.has(k)) known.delete(k);
    }
    for (const ref of read) {
      let c = ref.live ? null : (known.get(ref.info.name) ?? null);
      if (!c) {
        c = countPerSecond((await store.index(ref)).annotations);
        if (!ref.live) known.set(ref.info.name, c);
      }
      for (let i = 0; i < c.secs.length; i++) {
        // A second counts at its middle: half a second off at most, either way.
        const t = (c.secs[i] as number) * 1000 + 500;
        if (t < from || t > end) continue;
        const b = Math.min(n - 1, Math.max(0, Math.floor((t - start) / bucketMs)));
        if (counts.length) counts[b] = (counts[b] as number) + (c.counts[i] as number);
      }
    }
    sendJson(
      res,
      200,
      {
        stream: name,
        start: counts.length ? iso(start) : null,
        end: counts.length ? iso(end) : null,
        bucket: counts.length ? bucketMs / 1000 : null,
        counts,
        partial: from > start,
        from: counts.length ? iso(from) : null,
      },
      this.#cors,
    );
  }

  async #snapshotAt(
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    q: URLSearchParams,
  ): Promise<void> {
    const t = parseTime('at', q.get('at'));
    if (typeof t === 'string') return sendText(res, 400, t, this.#cors);
    const store = await this.#store(res, name);
    if (!store) return;
    // A query time has whole milliseconds (as the listing prints them): it stands for that whole
    // millisecond, so a span's own start finds its first frame (captured a fraction of a ms later).
    const f = await store.frameAt(t + 0.999);
    if (!f) return sendText(res, 404, `no recording of ${name} at ${iso(t)}`, this.#cors);
    res.writeHead(200, {
      ...this.#cors,
      'Content-Type': 'image/jpeg',
      'Content-Length': f.jpeg.length,
      ...frameHeaders(f, false),
      ...NO_CACHE,
    });
    res.end(req.method === 'HEAD' ? undefined : f.jpeg);
  }

  /** The first frame of a range, or null after answering 404. */
  async #first(
    res: ServerResponse,
    name: string,
    store: RecordingReader,
    start: number,
    end: number,
  ): Promise<{ first: RecordedFrame; rest: AsyncGenerator<RecordedFrame> } | null> {
    const frames = store.frames(start, end);
    const first = await frames.next();
    if (first.done || first.value.capturedAt > end) {
      await frames.return(undefined);
      sendText(
        res,
        404,
        `no recording of ${name} from ${iso(start)}${Number.isFinite(end) ? ` to ${iso(end)}` : ''}`,
        this.#cors,
      );
      return null;
    }
    return { first: first.value, rest: frames };
  }

  /**
   * WebSocket playback (`/streams/NAME/ws?start=T[&end=T][&speed=X]`, with `meta=1` and
   * `annotations=1` as live): a hub of its own served by the live WebSocket code. A bad time or speed
   * is refused before the upgrade (400, or 404 when nothing was recorded then).
   */
  upgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    name: string,
    url: URL,
    ctx: HttpContext,
  ): void {
    const refuse = (status: number, text: string): void => {
      const body = Buffer.from(text + '\n');
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
          `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString()}`,
      );
    };
    if (this.#open >= MAX_PLAYBACKS) return refuse(503, `too many playbacks at once (${MAX_PLAYBACKS})`);
    const q = url.searchParams;
    const times: Record<string, number> = {};
    for (const key of ['start', 'end'] as const) {
      if (key === 'end' && !q.has('end')) continue;
      const t = parseTime(key, q.get(key));
      if (typeof t === 'string') return refuse(400, t);
      times[key] = t;
    }
    const start = times.start as number;
    const end = times.end ?? Infinity;
    if (start > end) return refuse(400, `start (${iso(start)}) is after end (${iso(end)})`);
    const speed = q.has('speed') ? Number(q.get('speed')) : 1;
    if (!Number.isFinite(speed) || speed < MIN_SPEED || speed > MAX_SPEED)
      return refuse(
        400,
        `speed must be from ${MIN_SPEED} to ${MAX_SPEED}, got ${JSON.stringify(q.get('speed'))}`,
      );
    this.#open++;
    socket.once('close', () => this.#open--);
    this.#lookup.playback(name, { start, end, speed }).then(
      (hub) => {
        if (typeof hub === 'string') return refuse(404, hub);
        if (socket.destroyed) return;
        const ws = new WsEndpoint({ ...ctx, hub, lossless: true });
        socket.once('close', () => ws.close());
        ws.upgrade(req, socket, head, url);
      },
      (err: unknown) => refuse(500, `recordings: ${(err as Error).message}`),
    );
  }

  /**
   * MJPEG playback: a hub of its own whose producer plays the recording (the pace, gaps skipped,
   * lossless: the clock waits for a slow viewer), served by the very MJPEG code live viewers get.
   */
  async #playback(
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    q: URLSearchParams,
  ): Promise<void> {
    const range = this.#range(res, q, true);
    if (!range) return;
    const speed = q.has('speed') ? Number(q.get('speed')) : 1;
    if (!Number.isFinite(speed) || speed < MIN_SPEED || speed > MAX_SPEED)
      return sendText(
        res,
        400,
        `speed must be from ${MIN_SPEED} to ${MAX_SPEED}, got ${JSON.stringify(q.get('speed'))}`,
        this.#cors,
      );
    const hub = await this.#lookup.playback(name, { start: range.start, end: range.end, speed });
    if (typeof hub === 'string') return sendText(res, 404, hub, this.#cors);
    serveMjpeg(
      req,
      res,
      {
        hub,
        streamName: name,
        lossless: true,
        cors: this.#cors,
        onClient: () => {},
        onRefused: () => {},
      },
      q.get('meta') === '1',
    );
  }

  async #export(req: IncomingMessage, res: ServerResponse, name: string, q: URLSearchParams): Promise<void> {
    const range = this.#range(res, q, true);
    if (!range) return;
    const store = await this.#store(res, name);
    if (!store) return;
    const found = await this.#first(res, name, store, range.start, range.end);
    if (!found) return;
    const { first } = found;
    const file = `${name}_${iso(first.capturedAt).replace(/[:.]/g, '-')}.mkv`;
    res.writeHead(200, {
      ...this.#cors,
      'Content-Type': 'video/x-matroska',
      'Content-Disposition': `attachment; filename="${file}"`,
      ...NO_CACHE,
    });
    if (req.method === 'HEAD') {
      await found.rest.return(undefined);
      res.end();
      return;
    }
    let closed = false;
    const gone = new AbortController();
    res.once('close', () => {
      closed = true;
      gone.abort();
    });
    const head = mkvHead({
      width: first.width,
      height: first.height,
      startMs: first.capturedAt,
      title: name,
      duration: false,
    });
    res.write(head.bytes);
    const mux = new MkvMuxer(first.capturedAt);
    try {
      for (let f: RecordedFrame | undefined = first; f && !closed;) {
        let ok = true;
        for (const b of mux.frame(f.jpeg, f.capturedAt).bufs) ok = res.write(b) && ok;
        if (!ok) await once(res, 'drain', { signal: gone.signal }).catch(() => undefined);
        const next = await found.rest.next();
        f = next.done ? undefined : next.value;
      }
    } finally {
      await found.rest.return(undefined);
    }
    res.end();
  }
}

/** The part or response headers of a recorded frame: its capture time and seq, and its metadata. */
function frameHeaders(f: RecordedFrame, meta: boolean): Record<string, string> {
  const h: Record<string, string> = {
    'X-Timestamp': (f.capturedAt / 1000).toFixed(6),
    'X-Framecast-Seq': String(f.seq),
  };
  if (meta && f.meta && f.meta.length <= MAX_META_HEADER_BYTES)
    h['X-Framecast-Meta'] = f.meta.toString('latin1');
  return h;
}
