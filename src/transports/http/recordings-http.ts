import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RecordedFrame, RecordingReader } from '../../record/recording-reader.js';
import { RecordingStore } from '../../record/recording-store.js';
import type { RecordingReport } from '../../record/recordings.js';
import type { RecorderStatus } from '../../record/stream-recorder.js';
import type { PlaybackRequest } from '../../record/recording-producer.js';
import type { Hub } from '../../hub/hub.js';
import { MAX_META_HEADER_BYTES, serveMjpeg } from './mjpeg.js';
import { NO_CACHE, sendJson, sendText, type HttpContext } from './respond.js';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { WsEndpoint } from './ws.js';
import { ACTIVITY_BUCKETS, ActivityCounter, MAX_ACTIVITY_BUCKETS } from './recording-activity.js';
import { iso, parseRange, parseSpeed, parseTime } from './recordings-query.js';
import { sendMkv } from './recording-export.js';

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
export { isPlaybackRequest } from './recordings-query.js';

/**
 * The HTTP endpoints of recordings: the list of recorded spans (framecast's, and one shaped as
 * MediaMTX's playback `/list`), MJPEG and WebSocket playback from any time, the frame at a time, an
 * export to Matroska, the annotations' activity for a timeline. Times come only from the query and
 * are never part of a path: what is read is found in the stream's own catalog, inside its folder.
 */
export class RecordingsHttp {
  readonly #lookup: RecordingsLookup;
  readonly #cors: Readonly<Record<string, string>>;
  #open = 0;
  readonly #activity = new ActivityCounter();

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
    const range = parseRange(q, need);
    if (typeof range !== 'string') return range;
    sendText(res, 400, range, this.#cors);
    return null;
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
    const { start, end, bucketMs, counts, from } = await this.#activity.count(store, range, n);
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
    const range = parseRange(url.searchParams, true);
    if (typeof range === 'string') return refuse(400, range);
    const speed = parseSpeed(url.searchParams);
    if (typeof speed === 'string') return refuse(400, speed);
    const { start, end } = range;
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
    const speed = parseSpeed(q);
    if (typeof speed === 'string') return sendText(res, 400, speed, this.#cors);
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
    await sendMkv(req, res, name, found.first, found.rest, this.#cors);
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
