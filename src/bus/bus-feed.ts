import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { PublisherConnection } from '../ingest/publish/publisher-slot.js';
import { checkPublishedJpeg } from '../ingest/publish/tcp-publisher.js';
import { checkMetaBytes } from '../meta/meta-json.js';
import { ENVELOPE_BYTES, FRAME_PREFIX_BYTES, MessageType, MetaKind, decodeMeta } from '../protocol/native.js';
import type { Stream } from '../streams/stream.js';
import { PartAssembler, type Subjects } from './bus.js';
import type { BusVerifier } from './bus-sign.js';

/**
 * A silent origin for this long (or three frame intervals of a slow stream, if longer) puts the
 * edge's viewers in no-signal: within 2 s of an origin's death at usual frame rates.
 */
export const ORIGIN_SILENCE_MS = 1500;

/** A frame from the bus: what a publisher slot takes, and the origin's seq. */
interface BusFrame {
  seq: number;
  jpeg: Buffer;
  width: number;
  height: number;
  capturedAt: number;
}

/** Frames' metadata kept for frames still on their way (it comes just before its frame). */
const PENDING_META = 8;

/** Parses a native FRAME message from the bus into what a publisher slot takes; null if it is not one. */
function parseFrameMessage(m: Buffer): BusFrame | null {
  if (m.length < FRAME_PREFIX_BYTES || m.readUInt8(0) !== MessageType.Frame) return null;
  const headerLength = m.readUInt16BE(2);
  const bodyLength = m.readUInt32BE(4);
  if (headerLength < 32 || ENVELOPE_BYTES + headerLength + bodyLength !== m.length) return null;
  const h = ENVELOPE_BYTES;
  // Any 8 bytes are a double: a peer's NaN or Infinity would poison the latency figures downstream.
  const capturedAt = m.readDoubleBE(h + 8);
  if (!Number.isFinite(capturedAt)) return null;
  return {
    seq: m.readUInt32BE(h),
    width: m.readUInt16BE(h + 4),
    height: m.readUInt16BE(h + 6),
    capturedAt,
    jpeg: m.subarray(ENVELOPE_BYTES + headerLength),
  };
}

/** True for a status message saying the origin has no picture now (no-signal, or ended). */
function signalLost(data: Uint8Array): boolean {
  try {
    const state = (JSON.parse(Buffer.from(data).toString('utf8')) as { state?: unknown }).state;
    return state === 'no-signal' || state === 'ended';
  } catch {
    return false;
  }
}

/**
 * One stream fed from the bus: the origin's frames go into the stream's publisher slot (as a
 * publisher's would: passed through, no-signal while the origin is silent). The demand that makes the
 * origin publish is the edge's job (app/edge.ts), not this class's.
 */
export class BusFeed {
  readonly #stream: Stream;
  readonly #sub: Subscription;
  readonly #statusSub: Subscription;
  readonly #metaSub: Subscription;
  /** The origin's seq -> metadata of a frame not arrived yet (at most PENDING_META). */
  readonly #pendingMeta = new Map<number, Buffer>();
  readonly #conn: PublisherConnection = { address: 'bus', via: 'nats', evict: () => {} };
  readonly #parts = new PartAssembler();
  #silence: NodeJS.Timeout | null = null;
  #lastAt = 0;
  #interval = 0;

  /** `verifier`: with a bus secret, frames and status messages that do not verify are dropped. */
  constructor(stream: Stream, nc: NatsConnection, subjects: Subjects, verifier: BusVerifier | null = null) {
    this.#stream = stream;
    this.#sub = nc.subscribe(subjects.frame(stream.name), {
      callback: (err, msg) => {
        if (err || (verifier && verifier.verify(msg.subject, msg) === null)) return;
        const whole = this.#parts.push(msg);
        const f = whole ? parseFrameMessage(whole) : null;
        if (f) this.#frame(f);
      },
    });
    // The origin says when its signal is lost or its transmission ended: no-signal at once, rather
    // than after ORIGIN_SILENCE_MS of silence. Its next frames bring the picture back.
    this.#statusSub = nc.subscribe(subjects.status(stream.name), {
      callback: (err, msg) => {
        if (err || (verifier && verifier.verify(msg.subject, msg) === null)) return;
        if (signalLost(msg.data)) this.#lost('the origin lost its signal or ended');
      },
    });
    // Metadata comes just before its frame; annotations are filed by the frame's capture time (the
    // edge numbers frames its own way). Checked again here, against this edge's own caps.
    this.#metaSub = nc.subscribe(subjects.meta(stream.name), {
      callback: (err, msg) => {
        if (err || (verifier && verifier.verify(msg.subject, msg) === null)) return;
        this.#meta(Buffer.from(msg.data));
      },
    });
  }

  #meta(data: Buffer): void {
    const meta = decodeMeta(data);
    if (!meta) return;
    if (meta.kind === MetaKind.Metadata) {
      const checked = checkMetaBytes(meta.json, this.#stream.hub.annotations.maxBytes);
      if ('problem' in checked) return;
      this.#pendingMeta.set(meta.seq, checked.json);
      if (this.#pendingMeta.size > PENDING_META)
        this.#pendingMeta.delete(this.#pendingMeta.keys().next().value as number);
    } else if (meta.kind === MetaKind.Annotation) {
      this.#stream.hub.annotate(meta.name, { capturedAt: meta.capturedAt }, meta.json);
    }
  }

  #lost(why: string): void {
    if (this.#silence) clearTimeout(this.#silence);
    this.#silence = null;
    this.#lastAt = 0;
    this.#interval = 0;
    this.#stream.ingest?.release(this.#conn, why);
  }

  #frame(f: BusFrame): void {
    const slot = this.#stream.ingest;
    if (!slot) return;
    // Checked as a publisher's frame is, against this edge's own bound (not the origin's): the size
    // viewers get is the JPEG's own, and neither it nor the header may claim more than the stream
    // takes. Dropped frames are counted in the stream's /stats (totals.imagesRefused).
    const size = checkPublishedJpeg(f.jpeg);
    if (typeof size === 'string') {
      slot.images.unreadable();
      return;
    }
    if (slot.refuseSize(size.width, size.height) ?? slot.refuseSize(f.width, f.height)) return;
    if (slot.current !== this.#conn) slot.claim(this.#conn);
    const now = Date.now();
    const meta = this.#pendingMeta.get(f.seq) ?? null;
    this.#pendingMeta.delete(f.seq);
    slot.frame(this.#conn, { jpeg: f.jpeg, capturedAt: f.capturedAt, ...size, receivedAt: now, meta });
    if (this.#lastAt > 0) this.#interval = this.#interval * 0.8 + (now - this.#lastAt) * 0.2;
    this.#lastAt = now;
    if (this.#silence) clearTimeout(this.#silence);
    this.#silence = setTimeout(
      () => this.#lost('no frames from the origin'),
      Math.max(ORIGIN_SILENCE_MS, 3 * this.#interval),
    );
  }

  /** Stops taking frames. */
  close(): void {
    if (this.#silence) clearTimeout(this.#silence);
    this.#sub.unsubscribe();
    this.#statusSub.unsubscribe();
    this.#metaSub.unsubscribe();
  }
}
