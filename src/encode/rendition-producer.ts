import { EventEmitter } from 'node:events';
import { FramecastError } from '../errors.js';
import { Frame } from '../hub/frame.js';
import type { Hub } from '../hub/hub.js';
import type { Annotation } from '../meta/annotations.js';
import type { FrameProducer, ProducerEvents, SourceDescription } from '../hub/producer.js';
import { newSubscriberId, type EndReason, type Subscriber, type SubscriberStats } from '../hub/subscriber.js';
import { nowMs } from '../util/clock.js';
import { RecentSamples } from '../util/recent-samples.js';
import type { RenditionKey, RenditionScaler } from './rendition-decode.js';

/** Annotations kept for frames a rendition has not emitted yet. */
const MAX_HELD_ANNOTATIONS = 64;
/** Frames whose delay behind the stream's own is kept for its percentiles. */
const DELAY_SAMPLES = 128;

/**
 * A rendition as a hub's producer: while its hub has viewers it watches the stream's own hub (a
 * subscriber that takes no viewer's place) and encodes each frame once at its size and quality,
 * keeping the capture time, seq and metadata; analyzers' annotations are passed on. Latest frame
 * wins: a frame that comes while one is being encoded waits, and a newer one replaces it (counted),
 * so a slow encode never queues.
 *
 * `passive` (the grid's and dashboard's previews, `?passive=1&width=`): it only listens to the
 * stream's frames, never joins its hub, so it never starts the stream's source nor keeps it running;
 * it encodes only while someone else makes the stream transmit, and never ends on its own.
 */
export class RenditionProducer extends EventEmitter<ProducerEvents> implements FrameProducer {
  readonly key: RenditionKey;
  readonly #source: Hub;
  readonly #scale: RenditionScaler;
  readonly #passive: boolean;
  #sub: Subscriber | null = null;
  readonly #onFrame = (frame: Frame): void => this.#offer(frame);
  readonly #onAnnotation = (a: Annotation): void => this.#annotation(a);
  #busy = false;
  /** The frame waiting for the encode in progress, and when the stream offered it. */
  #pending: { frame: Frame; at: number } | null = null;
  #stopped = false;
  #size: { width: number; height: number } | null = null;
  /** The seq of the last frame emitted, and annotations of frames not emitted yet. */
  #lastSeq: number | null = null;
  #heldNotes: Annotation[] = [];
  /**
   * Frames encoded (of them `shared`: from a decode shared with other renditions, `raw`: from the
   * frame's raw planes), replaced before their turn, and the last encode's time (ms).
   */
  readonly counts = { encoded: 0, shared: 0, raw: 0, skipped: 0, lastEncodeMs: null as number | null };
  /**
   * How long after the stream offered each of its last frames this rendition's frame was out, ms: a
   * wait for the encode in progress, then what is left of its own encode (an early encode, started as
   * the raw frame arrived, may be done already).
   */
  readonly delays = new RecentSamples(DELAY_SAMPLES);

  /** `scale` makes a frame at `key` (a SharedDecode's, sharing one decode per frame among renditions). */
  constructor(source: Hub, key: RenditionKey, scale: RenditionScaler, passive = false) {
    super();
    this.#source = source;
    this.key = key;
    this.#scale = scale;
    this.#passive = passive;
  }

  start(): void {
    if (this.#passive) {
      this.#source.on('frame', this.#onFrame);
      this.#source.on('annotation', this.#onAnnotation);
      const latest = this.#source.latest;
      if (latest) this.#offer(latest);
      return;
    }
    const id = newSubscriberId();
    const connectedAt = Date.now();
    const address = `(${this.key.width}px q${this.key.quality})`;
    const sub: Subscriber = {
      id,
      protocol: 'rendition',
      address,
      uncapped: true,
      derived: true,
      backlogged: false,
      offer: (frame: Frame): void => this.#offer(frame),
      annotation: (a: Annotation): void => this.#annotation(a),
      end: (reason: EndReason): void => {
        this.#source.leave(sub);
        if (this.#stopped) return;
        if (reason === 'source-error')
          this.emit(
            'error',
            new FramecastError('ERR_SOURCE_FAILED', 'the stream the rendition is made from failed'),
          );
        else this.emit('end');
      },
      stats: (): SubscriberStats => ({
        id,
        protocol: 'rendition',
        address,
        connectedAt,
        framesSent: this.counts.encoded,
        bytesSent: 0,
        drops: this.counts.skipped,
        lastLatencyMs: null,
      }),
    };
    this.#sub = sub;
    if (!this.#source.join(sub)) this.emit('end');
  }

  stop(): void {
    this.#stopped = true;
    this.#pending = null;
    this.#source.off('frame', this.#onFrame);
    this.#source.off('annotation', this.#onAnnotation);
    if (this.#sub) this.#source.leave(this.#sub);
  }

  /**
   * An analyzer's annotation of one of the stream's frames, passed on once this rendition has emitted
   * that frame (its hub only knows frames it was given); one of a frame it skipped is dropped.
   */
  #annotation(a: Annotation): void {
    if (this.#stopped) return;
    if (this.#lastSeq !== null && a.seq <= this.#lastSeq) {
      this.emit('annotation', a.analyzer, a.seq, a.json);
      return;
    }
    if (this.#heldNotes.length >= MAX_HELD_ANNOTATIONS) this.#heldNotes.shift();
    this.#heldNotes.push(a);
  }

  #releaseNotes(seq: number): void {
    const due = this.#heldNotes.filter((a) => a.seq === seq);
    this.#heldNotes = this.#heldNotes.filter((a) => a.seq > seq);
    for (const a of due) this.emit('annotation', a.analyzer, a.seq, a.json);
  }

  pause(): void {}

  resume(): void {}

  describe(): SourceDescription {
    const src = this.#source.source;
    return {
      kind: 'rendition',
      name: `${src?.name ?? 'stream'} at ${this.key.width}px q${this.key.quality}`,
      width: this.#size?.width ?? null,
      height: this.#size?.height ?? null,
      inputFps: src?.inputFps ?? null,
    };
  }

  #offer(frame: Frame): void {
    if (this.#stopped) return;
    if (this.#busy) {
      if (this.#pending) this.counts.skipped++;
      this.#pending = { frame, at: nowMs() };
      return;
    }
    this.#busy = true;
    void this.#encode({ frame, at: nowMs() });
  }

  async #encode(first: { frame: Frame; at: number }): Promise<void> {
    let next: { frame: Frame; at: number } | null = first;
    while (next && !this.#stopped) {
      const f: Frame = next.frame;
      const offeredAt = next.at;
      const t0 = nowMs();
      try {
        const out = await this.#scale(f, this.key);
        if (this.#stopped) break;
        this.counts.encoded++;
        if (out.shared) this.counts.shared++;
        if (out.raw) this.counts.raw++;
        const now = nowMs();
        this.counts.lastEncodeMs = now - t0;
        this.delays.add(now - offeredAt);
        this.#size = { width: out.width, height: out.height };
        this.emit(
          'frame',
          new Frame({
            seq: f.seq,
            width: out.width,
            height: out.height,
            capturedAt: f.capturedAt,
            encodedAt: now,
            jpeg: out.jpeg,
            meta: f.meta,
          }),
        );
        this.#lastSeq = f.seq;
        this.#releaseNotes(f.seq);
      } catch {
        // One frame that does not decode (a peer's odd JPEG) costs that frame only.
        this.counts.skipped++;
      }
      next = this.#pending;
      this.#pending = null;
    }
    this.#busy = false;
  }
}
