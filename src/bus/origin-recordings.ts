import { headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { RecordedFrame, RecordingReader } from '../record/recording-reader.js';
import type { RecordingReport } from '../record/recordings.js';
import { ORIGIN_HEADER } from './bus-headers.js';
import type { BusSigner } from './bus-sign.js';
import { publishFrame, type Subjects } from './bus.js';
import {
  encodeRecFinal,
  encodeRecFrame,
  MAX_SPANS,
  parseRecRequest,
  type FramesRequest,
  type RecFinal,
  type RecRequest,
} from './recording-messages.js';

/** What an origin reads its recordings from (a Recordings is one). */
export interface RecordingsSource {
  store(name: string): Promise<RecordingReader> | null;
  report(name: string): Promise<RecordingReport | null>;
}

/** What answering recording requests needs of the origin. */
export interface OriginRecordingsHost {
  readonly streams: { get(name: string): { name: string } | undefined | null };
  /** The server's recordings, or null (read at each request). */
  readonly recordings?: RecordingsSource | null;
}

/** How the answers reach the bus: the origin process, its signer, whether the connection is up. */
export interface OriginRecordingsLink {
  instance: string;
  signer: BusSigner | null;
  up: () => boolean;
}

/** Requests served at once (each reads the disk); more wait in line, up to MAX_QUEUED. */
export const MAX_ACTIVE = 8;
export const MAX_QUEUED = 64;
/**
 * Requests taken per second from all edges together (a burst of twice as many): a playback at
 * speed 16 of a 30 fps stream asks about 15 batches (of 32 frames) a second. Past it, 429.
 */
export const REQUEST_RATE = 200;
/** A reply subject longer than this, or with a space or a wildcard, is not answered. */
const REPLY_SUBJECT = /^[!-)+-=?-~]{1,256}$/;

/**
 * An origin's answers to edges' requests about its streams' recordings (docs/PROTOCOL.md, "Bus",
 * "Recordings through an edge"): the listing, the frame at a time, and batches of a playback, each
 * sent on the request's reply subject and signed as frames are. A request holds nothing on the
 * origin once answered: an edge paces a playback itself, asking for the next batch as it needs it.
 */
export class OriginRecordings {
  readonly #nc: NatsConnection;
  readonly #host: OriginRecordingsHost;
  readonly #link: OriginRecordingsLink;
  readonly #sub: Subscription;
  readonly #subjects: Subjects;
  readonly #queue: (() => Promise<void>)[] = [];
  #active = 0;
  #tokens = 2 * REQUEST_RATE;
  #tokensAt = Date.now();
  /** Numbers answer messages, for the Framecast-Seq of one sent in parts. */
  #messages = 0;
  #closed = false;

  constructor(
    nc: NatsConnection,
    subjects: Subjects,
    link: OriginRecordingsLink,
    host: OriginRecordingsHost,
  ) {
    this.#nc = nc;
    this.#subjects = subjects;
    this.#link = link;
    this.#host = host;
    this.#sub = nc.subscribe(subjects.anyRec, {
      callback: (err, msg) => {
        if (!err) this.#request(msg);
      },
    });
  }

  #request(msg: Msg): void {
    if (this.#closed) return;
    const at = this.#subjects.recOf(msg.subject);
    // Another origin's stream: that origin answers (a stream no origin serves is not answered).
    const stream = at ? this.#host.streams.get(at.stream) : null;
    if (!at || !stream || stream.name !== at.stream) return;
    const reply = msg.reply;
    if (!reply || !REPLY_SUBJECT.test(reply)) return;
    const req = parseRecRequest(at.verb, msg.data);
    if (!req) return this.#final(reply, { k: 'error', status: 400, message: `bad ${at.verb} request` });
    const now = Date.now();
    this.#tokens = Math.min(2 * REQUEST_RATE, this.#tokens + ((now - this.#tokensAt) * REQUEST_RATE) / 1000);
    this.#tokensAt = now;
    if (this.#tokens < 1)
      return this.#final(reply, { k: 'error', status: 429, message: 'too many recording requests' });
    this.#tokens--;
    if (this.#active >= MAX_ACTIVE && this.#queue.length >= MAX_QUEUED)
      return this.#final(reply, { k: 'error', status: 503, message: 'the origin is busy with recordings' });
    this.#queue.push(() => this.#serve(at.stream, req, reply));
    this.#next();
  }

  #next(): void {
    while (this.#active < MAX_ACTIVE && this.#queue.length > 0) {
      const job = this.#queue.shift() as () => Promise<void>;
      this.#active++;
      void job().finally(() => {
        this.#active--;
        this.#next();
      });
    }
  }

  async #serve(stream: string, r: RecRequest, reply: string): Promise<void> {
    if (this.#closed) return;
    try {
      const recordings = this.#host.recordings ?? null;
      const store = recordings?.store(stream) ?? null;
      if (!recordings || !store)
        return this.#final(reply, { k: 'error', status: 404, message: `no recordings of ${stream}` });
      const reader = await store;
      if (r.verb === 'list') {
        const spans = r.req.spans ? await reader.spans(r.req.start ?? -Infinity, r.req.end ?? Infinity) : [];
        const recording = await recordings.report(stream);
        return this.#final(reply, { k: 'list', spans: spans.slice(-MAX_SPANS), recording });
      }
      if (r.verb === 'at') {
        const f = await reader.frameAt(r.req.t);
        if (f) this.#send(reply, encodeRecFrame(f));
        return this.#final(reply, { k: 'end', frames: f ? 1 : 0, more: false });
      }
      const { frames, more } = await this.#batch(reader, r.req, reply);
      this.#final(reply, { k: 'end', frames, more });
    } catch (err) {
      this.#final(reply, { k: 'error', status: 500, message: (err as Error).message.slice(0, 256) });
    }
  }

  /**
   * Sends the frames of one batch as they are read: after `after` (skipping frames before it and
   * itself; a frame captured at the same time with another seq follows it), at most `max` frames,
   * stopping once `maxBytes` are sent. `more`: the batch was cut, not the recording's end.
   */
  async #batch(
    reader: RecordingReader,
    req: FramesRequest,
    reply: string,
  ): Promise<{ frames: number; more: boolean }> {
    const after = req.after;
    const gen = reader.frames(after ? after.t : req.start, req.end ?? Infinity);
    let frames = 0;
    let bytes = 0;
    try {
      for await (const f of gen as AsyncGenerator<RecordedFrame>) {
        if (this.#closed) return { frames, more: false };
        if (after && (f.capturedAt < after.t || (f.capturedAt === after.t && f.seq === after.seq))) continue;
        this.#send(reply, encodeRecFrame(f));
        frames++;
        bytes += f.jpeg.length;
        if (frames >= req.max || bytes >= req.maxBytes) return { frames, more: true };
      }
    } finally {
      await gen.return(undefined);
    }
    return { frames, more: false };
  }

  #final(reply: string, f: RecFinal): void {
    this.#send(reply, encodeRecFinal(f));
  }

  /** One answer message, in parts when it is over the server's max_payload; signed with a secret. */
  #send(subject: string, data: Buffer): void {
    const nc = this.#nc;
    if (nc.isClosed() || !this.#link.up()) return;
    const seq = ++this.#messages;
    try {
      const max = Math.max(1024, (nc.info?.max_payload ?? 1024 * 1024) - 1024);
      if (data.length > max) {
        publishFrame(nc, subject, seq, data, this.#link.instance, this.#link.signer);
        return;
      }
      // Whole messages say their origin too: an edge takes one origin process's answer.
      const h = headers();
      h.set(ORIGIN_HEADER, this.#link.instance);
      nc.publish(subject, data, {
        headers: this.#link.signer ? this.#link.signer.sign(subject, data, h) : h,
      });
    } catch {
      // Closed or draining meanwhile: the edge's wait runs out.
    }
  }

  /** Stops answering. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    if (!this.#nc.isClosed()) this.#sub.unsubscribe();
  }
}
