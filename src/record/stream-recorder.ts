import { mkdir } from 'node:fs/promises';
import type { Frame } from '../hub/frame.js';
import type { Hub } from '../hub/hub.js';
import { newSubscriberId, type EndReason, type Subscriber, type SubscriberStats } from '../hub/subscriber.js';
import type { Annotation } from '../meta/annotations.js';
import type { RecordingStore } from './recording-store.js';
import { recoverSegment } from './segment-recovery.js';
import type { SegmentInfo } from './segment-name.js';
import { SegmentWriter } from './segment-writer.js';

/** Bytes waiting for the disk past which new frames are dropped (counted) instead of queued. */
export const MAX_PENDING_BYTES = 64 * 1024 * 1024;
/** After a write failed, the next try to open a new segment waits this long. */
export const RETRY_MS = 2000;
/** A transmission that ended is joined again after this long (its source restarts for the recording). */
const REJOIN_MS = 1000;

/** What a recorder is doing, for /stats, /metrics and the log. */
export interface RecorderStatus {
  state: 'recording' | 'failing' | 'stopped';
  /** Why writing failed (state `failing`), else null. */
  error: string | null;
  framesWritten: number;
  /** Frames not written: the disk failing or too slow. */
  framesDropped: number;
  segmentsWritten: number;
  /** When the state began (ms since the epoch). */
  since: number;
}

/** What a recorder tells its owner. */
export interface RecorderEvents {
  /** Writing failed: recording stopped (live viewing goes on); it resumes when writes succeed. */
  failed: (err: Error) => void;
  resumed: () => void;
  /** A segment was closed and listed. */
  segment: (info: SegmentInfo) => void;
}

/**
 * Records one stream: a subscriber of its hub that takes every frame (never a viewer's place, never
 * holding the source back) and writes it to the stream's current segment, starting a new segment
 * every `segmentMs` (and when the picture's size changes). Recording is demand: while it runs, the
 * source runs. A failing disk is a state, not an end: frames are dropped (counted) and a new segment
 * is tried every RETRY_MS.
 */
export class StreamRecorder implements Subscriber {
  readonly id = newSubscriberId();
  readonly protocol = 'record';
  readonly address = '(recording)';
  readonly uncapped = true;
  readonly backlogged = false;
  readonly #hub: Hub;
  readonly #store: RecordingStore;
  readonly #segmentMs: number;
  readonly #events: RecorderEvents;
  readonly #connectedAt = Date.now();
  #writer: SegmentWriter | null = null;
  #opening: Promise<void> | null = null;
  /** Frames that came while a segment was being opened. */
  #waiting: Frame[] = [];
  /** Annotations that came meanwhile (filed in the new segment after its first frames). */
  #waitingNotes: Annotation[] = [];
  #status: RecorderStatus = {
    state: 'recording',
    error: null,
    framesWritten: 0,
    framesDropped: 0,
    segmentsWritten: 0,
    since: Date.now(),
  };
  #retryAt = 0;
  #stopped = false;
  #rejoin: NodeJS.Timeout | null = null;
  #bytes = 0;
  /** Segments being closed (stop() waits for them). */
  readonly #closing = new Set<Promise<unknown>>();

  constructor(hub: Hub, store: RecordingStore, segmentMs: number, events: RecorderEvents) {
    this.#hub = hub;
    this.#store = store;
    this.#segmentMs = segmentMs;
    this.#events = events;
  }

  /** Starts recording: joins the hub (starting its source when nobody watches). */
  start(): void {
    if (this.#stopped) return;
    this.#hub.join(this);
  }

  get status(): RecorderStatus {
    return { ...this.#status };
  }

  /** Stops: leaves the hub and closes the segment (every frame taken is written). Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#rejoin) clearTimeout(this.#rejoin);
    this.#hub.leave(this);
    // A frame that waited may open a segment of its own (a new size): wait for that one too.
    while (this.#opening) await this.#opening;
    this.#closeWriter();
    await Promise.all([...this.#closing]);
    this.#status = { ...this.#status, state: 'stopped', since: Date.now() };
  }

  offer(frame: Frame): void {
    if (this.#stopped) return;
    this.#take(frame);
  }

  /** Writes a frame, or keeps it while a segment is being opened. */
  #take(frame: Frame): void {
    if (this.#opening) {
      if (this.#waiting.length < 300) this.#waiting.push(frame);
      else this.#status.framesDropped++;
      return;
    }
    this.#write(frame);
  }

  annotation(a: Annotation): void {
    if (this.#opening) {
      if (this.#waitingNotes.length < 300) this.#waitingNotes.push(a);
      return;
    }
    this.#writer?.annotate(a);
  }

  #write(frame: Frame): void {
    const w = this.#writer;
    if (w && w.failed) this.#fail(w.failed);
    if (this.#status.state === 'failing' && Date.now() < this.#retryAt) {
      this.#status.framesDropped++;
      return;
    }
    if (w && !w.failed && (frame.capturedAt - w.start >= this.#segmentMs || !w.fits(frame)))
      this.#closeWriter();
    if (!this.#writer) {
      this.#open(frame);
      return;
    }
    if (this.#writer.pending > MAX_PENDING_BYTES) {
      this.#status.framesDropped++;
      return;
    }
    if (this.#writer.append(frame)) {
      this.#status.framesWritten++;
      this.#bytes += frame.jpeg.length;
    } else if (this.#writer.failed) this.#fail(this.#writer.failed);
    else this.#status.framesDropped++;
  }

  /** Opens a new segment starting with `frame`, then writes what came meanwhile. */
  #open(frame: Frame): void {
    this.#waiting = [frame];
    this.#opening = (async () => {
      try {
        await mkdir(this.#store.dir, { recursive: true });
        const w = await SegmentWriter.create(this.#store.dir, this.#store.stream, frame);
        // Even when stop() came meanwhile: what waits is written, then stop() closes it.
        this.#writer = w;
        this.#store.opened(w);
        if (this.#status.state === 'failing') {
          this.#status = { ...this.#status, state: 'recording', error: null, since: Date.now() };
          this.#emit(() => this.#events.resumed());
        }
      } catch (err) {
        this.#status.framesDropped += this.#waiting.length;
        this.#waiting = [];
        this.#waitingNotes = [];
        this.#fail(err as Error);
      } finally {
        this.#opening = null;
      }
      const frames = this.#waiting;
      const notes = this.#waitingNotes;
      this.#waiting = [];
      this.#waitingNotes = [];
      // One of them may open the next segment (a new size): those after it wait for that one.
      for (const f of frames) this.#take(f);
      for (const a of notes) this.annotation(a);
    })();
  }

  #closeWriter(): void {
    const w = this.#writer;
    if (!w) return;
    this.#writer = null;
    const done = w
      .close()
      .then(async (closed) => {
        // A segment whose writes failed is listed as far as its files hold whole frames.
        const info = w.failed
          ? await recoverSegment(this.#store.dir, this.#store.stream, w.name).catch(() => null)
          : closed;
        await this.#store.added(info, w);
        if (!info) return;
        if (info.frames > 0) {
          this.#status.segmentsWritten++;
          this.#emit(() => this.#events.segment(info));
        }
      })
      .catch((err: unknown) => {
        void this.#store.added(null, w).catch(() => undefined);
        this.#fail(err as Error);
      })
      .finally(() => this.#closing.delete(done));
    this.#closing.add(done);
  }

  #fail(err: Error): void {
    if (this.#writer?.failed) this.#closeWriter();
    this.#retryAt = Date.now() + RETRY_MS;
    if (this.#status.state === 'failing') return;
    this.#status = { ...this.#status, state: 'failing', error: err.message, since: Date.now() };
    this.#emit(() => this.#events.failed(err));
  }

  /** A listener that throws never stops the recording. */
  #emit(fn: () => void): void {
    try {
      fn();
    } catch {
      // the owner's problem, not the recording's
    }
  }

  /** The hub ended the transmission: close the segment and join again (the source restarts). */
  end(reason: EndReason): void {
    this.#hub.leave(this);
    this.#closeWriter();
    if (this.#stopped || reason === 'shutdown' || reason === 'removed') return;
    this.#rejoin = setTimeout(() => {
      this.#rejoin = null;
      if (!this.#stopped) this.#hub.join(this);
    }, REJOIN_MS);
    this.#rejoin.unref();
  }

  stats(): SubscriberStats {
    return {
      id: this.id,
      protocol: this.protocol,
      address: this.address,
      connectedAt: this.#connectedAt,
      framesSent: this.#status.framesWritten,
      bytesSent: this.#bytes,
      drops: this.#status.framesDropped,
      lastLatencyMs: null,
    };
  }
}
