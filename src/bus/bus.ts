import { headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import type { BusSigner } from './bus-sign.js';
import { ORIGIN_HEADER, PART_HEADER, SEQ_HEADER } from './bus-headers.js';
import { prefixProblem } from '../config/bus-settings.js';

export { prefixProblem };

export {
  busUrlForLog,
  connectBus,
  watchBus,
  type BusOptions,
  type BusState,
  type BusTlsOptions,
} from './bus-connect.js';

/** What an edge may ask an origin of a stream's recordings (the last token of the subject). */
export const REC_VERBS = ['list', 'at', 'frames'] as const;
export type RecVerb = (typeof REC_VERBS)[number];

/** The subjects of one prefix: see docs/PROTOCOL.md, "Bus". */
export class Subjects {
  readonly prefix: string;
  constructor(prefix = 'framecast') {
    const problem = prefixProblem(prefix);
    if (problem) throw new RangeError(`bus prefix ${problem}`);
    this.prefix = prefix;
  }
  /** Origins announce their streams here (JSON, every 2 s and on change). */
  get streams(): string {
    return `${this.prefix}.streams`;
  }
  /** One message per frame: the native FRAME message (envelope + header + JPEG), in parts if large. */
  frame(stream: string): string {
    return `${this.prefix}.s.${stream}.frame`;
  }
  /**
   * Frames' metadata (just before the frame) and analyzers' annotations: one native META message
   * each. Apart from the frames, so edges that know no metadata never see it.
   */
  meta(stream: string): string {
    return `${this.prefix}.s.${stream}.meta`;
  }
  /** The origin says here when the stream's transmission ends or its signal is lost or back (JSON). */
  status(stream: string): string {
    return `${this.prefix}.s.${stream}.status`;
  }
  /**
   * Edges say here, every second, how many viewers a stream has on them (JSON). The name is the
   * subject's tail (stream names may hold dots), so origins subscribe to `PREFIX.demand.>` and never
   * to `PREFIX.s.>`, which would bring them every frame.
   */
  demand(stream: string): string {
    return `${this.prefix}.demand.${stream}`;
  }
  /** Every stream's demand, for an origin. */
  get anyDemand(): string {
    return `${this.prefix}.demand.>`;
  }
  /**
   * Requests about a stream's recordings, answered by its origin on the request's reply subject:
   * `list`, `at` (the frame at a time) or `frames` (a batch of a playback).
   */
  rec(stream: string, verb: RecVerb): string {
    return `${this.prefix}.rec.${stream}.${verb}`;
  }
  /** Every stream's recording requests, for an origin. */
  get anyRec(): string {
    return `${this.prefix}.rec.>`;
  }
  /** The stream and verb of a recording request subject of this prefix, or null. */
  recOf(subject: string): { stream: string; verb: RecVerb } | null {
    const head = `${this.prefix}.rec.`;
    if (!subject.startsWith(head)) return null;
    const tail = subject.slice(head.length);
    const dot = tail.lastIndexOf('.');
    const verb = tail.slice(dot + 1);
    if (dot < 1 || !(REC_VERBS as readonly string[]).includes(verb)) return null;
    return { stream: tail.slice(0, dot), verb: verb as RecVerb };
  }
  /** The stream name of a demand subject of this prefix (all of its tail), or null. */
  demandStream(subject: string): string | null {
    const head = `${this.prefix}.demand.`;
    return subject.startsWith(head) && subject.length > head.length ? subject.slice(head.length) : null;
  }
}

export { ORIGIN_HEADER, PART_HEADER, SEQ_HEADER } from './bus-headers.js';

/**
 * The largest frame put back together from parts. Remote publishers and `play` stop at 16 MiB, but an
 * origin's own encoder is not bound by that (a 4K noisy frame at quality 95 is over 2 MB, 8K at 100
 * several times that): 64 MiB leaves room and still bounds what a peer on the bus can make an edge hold.
 */
export const MAX_BUS_FRAME_BYTES = 64 * 1024 * 1024;
/** A frame whose parts have not all come within this long is dropped (its origin died mid-frame). */
export const PART_TIMEOUT_MS = 5000;
/** At most this many parts per frame: 64 MiB in 16 kB parts (a NATS max_payload below 17 kB lowers the frame cap). */
const MAX_PARTS = 4096;

/**
 * Publishes a frame's message, in parts no larger than the server's max_payload; with a signer
 * (a bus secret), each message it sends is signed.
 */
export function publishFrame(
  nc: NatsConnection,
  subject: string,
  seq: number,
  message: Buffer,
  origin?: string,
  signer: BusSigner | null = null,
): void {
  const max = Math.max(1024, (nc.info?.max_payload ?? 1024 * 1024) - 1024);
  if (message.length <= max) {
    if (signer) nc.publish(subject, message, { headers: signer.sign(subject, message) });
    else nc.publish(subject, message);
    return;
  }
  const count = Math.ceil(message.length / max);
  for (let i = 0; i < count; i++) {
    const h = headers();
    h.set(PART_HEADER, `${i + 1}/${count}`);
    h.set(SEQ_HEADER, String(seq));
    if (origin) h.set(ORIGIN_HEADER, origin);
    const part = message.subarray(i * max, Math.min(message.length, (i + 1) * max));
    nc.publish(subject, part, { headers: signer ? signer.sign(subject, part, h) : h });
  }
}

interface Partial {
  next: number;
  count: number;
  parts: Uint8Array[];
  bytes: number;
  startedAt: number;
}

/**
 * Puts frames sent in parts back together. Parts of one frame arrive in order from one publisher, but
 * two publishers on one subject (a restarted origin while the old one lives) interleave: frames are
 * told apart by origin and seq. Returns the whole message, or null while parts are missing; a part out
 * of place, a frame over `maxBytes` (all frames in progress together) or older than PART_TIMEOUT_MS
 * is dropped.
 */
export class PartAssembler {
  readonly #partial = new Map<string, Partial>();
  readonly #maxBytes: number;
  #held = 0;

  constructor(maxBytes = MAX_BUS_FRAME_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes of frames in progress (for tests and stats). */
  get heldBytes(): number {
    return this.#held;
  }

  push(msg: Pick<Msg, 'data' | 'headers'>, now = Date.now()): Buffer | null {
    const h = msg.headers;
    const part = h?.get(PART_HEADER);
    if (!h || !part) return Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
    for (const [key, p] of this.#partial) if (now - p.startedAt > PART_TIMEOUT_MS) this.#drop(key);
    const key = `${h.get(ORIGIN_HEADER)}/${h.get(SEQ_HEADER)}`;
    const m = /^(\d{1,4})\/(\d{1,4})$/.exec(part);
    const i = Number(m?.[1]);
    const n = Number(m?.[2]);
    const size = msg.data.length;
    let p = this.#partial.get(key);
    if (i === 1) {
      this.#drop(key);
      // Every part but the last is as large as the first: refuse a frame that cannot fit at once.
      if (n >= 1 && n <= MAX_PARTS && (n - 1) * size < this.#maxBytes) {
        p = { next: 1, count: n, parts: [], bytes: 0, startedAt: now };
        this.#partial.set(key, p);
      }
    }
    if (!m || !p || i !== p.next || n !== p.count || p.bytes + size > this.#maxBytes) {
      this.#drop(key);
      return null;
    }
    // Frames in progress together stay under the cap too: the oldest give way.
    for (const other of this.#partial.keys()) {
      if (this.#held + size <= this.#maxBytes) break;
      if (other !== key) this.#drop(other);
    }
    p.parts.push(msg.data);
    p.bytes += size;
    this.#held += size;
    p.next++;
    if (i < n) return null;
    this.#drop(key);
    return Buffer.concat(p.parts);
  }

  #drop(key: string): void {
    const p = this.#partial.get(key);
    if (!p) return;
    this.#held -= p.bytes;
    this.#partial.delete(key);
  }
}
