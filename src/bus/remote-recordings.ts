import { createInbox, type NatsConnection } from '@nats-io/transport-node';
import type { Hub } from '../hub/hub.js';
import { checkPublishedJpeg } from '../ingest/publish/tcp-publisher.js';
import { checkMetaBytes } from '../meta/meta-json.js';
import { playbackHub, type PlaybackRequest } from '../record/recording-producer.js';
import type { RecordedFrame, RecordedSpan, RecordingReader } from '../record/recording-reader.js';
import type { RecordingReport } from '../record/recordings.js';
import type { RecorderStatus } from '../record/stream-recorder.js';
import type { Stream } from '../streams/stream.js';
import type { RecordingsLookup } from '../transports/http/recordings-http.js';
import { ORIGIN_HEADER } from './bus-headers.js';
import type { BusVerifier } from './bus-sign.js';
import { MAX_BUS_FRAME_BYTES, PartAssembler, type RecVerb, type Subjects } from './bus.js';
import { decodeRecMessage, MAX_BATCH_FRAMES, type RecFinal } from './recording-messages.js';

/** An answer whose next message does not come within this long is given up (504). */
export const REPLY_IDLE_MS = 5000;
/** What an edge asks for in one batch of a playback (the origin may send less). */
export const BATCH_FRAMES = 32;
export const BATCH_BYTES = 2 * 1024 * 1024;
/** Playbacks read through one edge at once (HTTP and native together); more are answered 503. */
export const MAX_REMOTE_PLAYBACKS = 32;
/** A batch the origin refused for its load (429, 503) is asked again this many times, 250 ms apart and more. */
const RETRIES = 4;

/** A failure with the HTTP status it is answered with. */
export class RecordingsBusError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** The last frame of a batch the origin sent: the next batch follows it. */
interface Cursor {
  t: number;
  seq: number;
}

const fin = (t: number): number | null => (Number.isFinite(t) ? t : null);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

/**
 * An edge's recordings: its origin's, read over the bus (docs/PROTOCOL.md, "Bus", "Recordings
 * through an edge"). Implements what the HTTP endpoints and native playback ask of recordings, so an
 * edge serves `/streams/NAME/recordings`, `playback.mjpg`, `snapshot.jpg?at=`, `export.mkv`, `/list`
 * and native playback at the same addresses as its origin, by the same code: only the reading goes
 * over the bus. A playback is paced here (by the HTTP loop or the playback hub's producer), which
 * asks the origin for a batch of frames at a time, one batch ahead.
 */
export class RemoteRecordings implements RecordingsLookup {
  readonly #nc: NatsConnection;
  readonly #subjects: Subjects;
  readonly #verifier: BusVerifier | null;
  readonly #stream: (name: string) => Stream | null;
  #playing = 0;

  /** `stream`: the edge's stream of a name (its image bound and metadata caps apply), or null. */
  constructor(
    nc: NatsConnection,
    subjects: Subjects,
    verifier: BusVerifier | null,
    stream: (name: string) => Stream | null,
  ) {
    this.#nc = nc;
    this.#subjects = subjects;
    this.#verifier = verifier;
    this.#stream = stream;
  }

  #streamOf(name: string): Stream | null {
    const s = this.#stream(name);
    return s && s.name === name ? s : null;
  }

  store(name: string): Promise<RecordingReader> | null {
    const s = this.#streamOf(name);
    return s ? Promise.resolve(new RemoteReader(this, s)) : null;
  }

  async report(name: string): Promise<RecordingReport | null> {
    const s = this.#streamOf(name);
    if (!s) return null;
    const { final } = await this.ask(s, 'list', { start: null, end: null, spans: false });
    if (final.k !== 'list') throw new RecordingsBusError(502, 'the origin answered a listing with no list');
    return final.recording;
  }

  /** The origin's recorders are the origin's: an edge records nothing (its /stats and /metrics say so). */
  status(): RecorderStatus | null {
    return null;
  }

  states(): { stream: string; status: RecorderStatus }[] {
    return [];
  }

  /** A native playback of stream `name`: a hub of its own whose producer reads over the bus. */
  async playback(name: string, req: PlaybackRequest): Promise<Hub | string> {
    const s = this.#streamOf(name);
    if (!s) return `no stream named ${name}`;
    return playbackHub(new RemoteReader(this, s), req);
  }

  /** @internal a playback begins (false: too many at once); `done()` when it ends. */
  begin(): boolean {
    if (this.#playing >= MAX_REMOTE_PLAYBACKS) return false;
    this.#playing++;
    return true;
  }

  done(): void {
    this.#playing--;
  }

  /**
   * @internal asks the origin of `stream`: the frames it sends (checked against the stream's own
   * bounds; those that fail are dropped and counted) and its last message (an `error` is thrown).
   * Only one origin process's answer is taken (the first to answer), verified with a bus secret.
   */
  ask(
    stream: Stream,
    verb: RecVerb,
    body: unknown,
    maxFrames = MAX_BATCH_FRAMES,
  ): Promise<{ frames: RecordedFrame[]; last: Cursor | null; final: Exclude<RecFinal, { k: 'error' }> }> {
    const nc = this.#nc;
    const verifier = this.#verifier;
    const inbox = createInbox();
    return new Promise((resolve, reject) => {
      const frames: RecordedFrame[] = [];
      const parts = new PartAssembler();
      let origin: string | null = null;
      let last: Cursor | null = null;
      let received = 0;
      let bytes = 0;
      let timer: NodeJS.Timeout | null = null;
      let settled = false;
      const finish = (err: Error | null, final?: Exclude<RecFinal, { k: 'error' }>): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        if (!nc.isClosed()) sub.unsubscribe();
        if (err) reject(err);
        else resolve({ frames, last, final: final as Exclude<RecFinal, { k: 'error' }> });
      };
      const idle = (): void => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(
          () =>
            finish(
              new RecordingsBusError(
                504,
                `no origin of ${stream.name} answered on the bus within ${REPLY_IDLE_MS / 1000} s`,
              ),
            ),
          REPLY_IDLE_MS,
        );
        timer.unref();
      };
      const bad = (why: string): void => finish(new RecordingsBusError(502, `the origin's answer ${why}`));
      const sub = nc.subscribe(inbox, {
        callback: (err, msg) => {
          if (err || settled) return;
          // With a secret: what verifies (the rest is counted as dropped); without: what an origin sent.
          const who = verifier ? verifier.verify(msg.subject, msg) : msg.headers?.get(ORIGIN_HEADER) || null;
          if (!who) return;
          // Two processes of the stream's origin (a restart) may both answer: the first one counts.
          origin ??= who;
          if (who !== origin) return;
          const whole = parts.push(msg);
          if (!whole) return;
          idle();
          const m = decodeRecMessage(whole);
          if (!m) return bad('is malformed');
          if (m.k === 'final') {
            const f = m.final;
            if (f.k === 'error') return finish(new RecordingsBusError(f.status, `origin: ${f.message}`));
            if (f.k === 'end' && f.frames !== received)
              return bad(`lost frames (${received} of ${f.frames})`);
            return finish(null, f);
          }
          bytes += m.frame.jpeg.length;
          if (++received > maxFrames || bytes > BATCH_BYTES + MAX_BUS_FRAME_BYTES)
            return bad(`holds more frames than asked (${maxFrames})`);
          // The next batch starts after this one, kept or not.
          last = { t: m.frame.capturedAt, seq: m.frame.seq };
          const checked = checkFrame(stream, m.frame);
          if (checked) frames.push(checked);
        },
      });
      idle();
      try {
        nc.publish(this.#subjects.rec(stream.name, verb), JSON.stringify(body), { reply: inbox });
      } catch (err) {
        finish(new RecordingsBusError(503, `the bus: ${(err as Error).message}`));
      }
    });
  }
}

/**
 * A recorded frame from the bus, checked as the bus feed checks live frames: a whole JPEG with a
 * readable SOF, both its size and the recorded one within the edge stream's own bound (dropped and
 * counted in its /stats otherwise); its metadata and annotations within the stream's caps (dropped
 * otherwise, the frame kept).
 */
function checkFrame(stream: Stream, f: RecordedFrame): RecordedFrame | null {
  const size = checkPublishedJpeg(f.jpeg);
  if (typeof size === 'string') {
    stream.images.unreadable();
    return null;
  }
  if (stream.images.refuse(size.width, size.height) ?? stream.images.refuse(f.width, f.height)) return null;
  const max = stream.hub.annotations.maxBytes;
  const ok = (json: Buffer): boolean => !('problem' in checkMetaBytes(json, max));
  return {
    ...f,
    meta: f.meta && ok(f.meta) ? f.meta : null,
    annotations: f.annotations.filter((a) => ok(a.json)),
  };
}

/** A batch of a playback: the frames kept, the last one sent, and whether the recording goes on. */
interface Batch {
  frames: RecordedFrame[];
  last: Cursor | null;
  more: boolean;
}

/** One stream's recording on its origin, read over the bus. */
class RemoteReader implements RecordingReader {
  readonly #owner: RemoteRecordings;
  readonly #stream: Stream;

  constructor(owner: RemoteRecordings, stream: Stream) {
    this.#owner = owner;
    this.#stream = stream;
  }

  get stream(): string {
    return this.#stream.name;
  }

  async spans(from = -Infinity, to = Infinity): Promise<RecordedSpan[]> {
    const { final } = await this.#owner.ask(this.#stream, 'list', { start: fin(from), end: fin(to) });
    if (final.k !== 'list') throw new RecordingsBusError(502, 'the origin answered a listing with no list');
    return final.spans;
  }

  async frameAt(t: number): Promise<RecordedFrame | null> {
    const { frames, final } = await this.#owner.ask(this.#stream, 'at', { t }, 1);
    if (final.k !== 'end') throw new RecordingsBusError(502, 'the origin answered a frame with a list');
    return frames[0] ?? null;
  }

  async #batch(start: number, end: number, after: Cursor | null): Promise<Batch> {
    const body = {
      start,
      end: fin(end),
      after,
      max: BATCH_FRAMES,
      maxBytes: BATCH_BYTES,
    };
    for (let i = 0; ; i++) {
      try {
        const { frames, last, final } = await this.#owner.ask(this.#stream, 'frames', body, BATCH_FRAMES);
        if (final.k !== 'end') throw new RecordingsBusError(502, 'the origin answered frames with a list');
        return { frames, last, more: final.more };
      } catch (err) {
        const status = (err as { status?: unknown }).status;
        if (i >= RETRIES || (status !== 429 && status !== 503)) throw err;
        await sleep(250 * (i + 1));
      }
    }
  }

  async *frames(start: number, end = Infinity): AsyncGenerator<RecordedFrame> {
    if (!this.#owner.begin())
      throw new RecordingsBusError(
        503,
        `too many playbacks through this edge at once (${MAX_REMOTE_PLAYBACKS})`,
      );
    try {
      let pending: Promise<Batch> | null = this.#batch(start, end, null);
      while (pending) {
        const batch: Batch = await pending;
        // One batch ahead: the next is on its way while this one plays.
        pending = batch.more && batch.last ? this.#batch(start, end, batch.last) : null;
        pending?.catch(() => undefined);
        for (const f of batch.frames) yield f;
      }
    } finally {
      this.#owner.done();
    }
  }
}
