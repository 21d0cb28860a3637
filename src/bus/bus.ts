import { headers, type Msg, type NatsConnection } from '@nats-io/transport-node';

export {
  busUrlForLog,
  connectBus,
  watchBus,
  type BusOptions,
  type BusState,
  type BusTlsOptions,
} from './bus-connect.js';

/** Why `prefix` cannot be a subject prefix, or null: NATS subject tokens, no wildcards. */
export function prefixProblem(prefix: string): string | null {
  if (/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix) && prefix.length <= 128) return null;
  return `must be NATS subject tokens (letters, digits, _ -, dots between; at most 128 characters), got '${prefix}'`;
}

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
  /** Edges say here, every second, how many viewers a stream has on them (JSON). */
  demand(stream: string): string {
    return `${this.prefix}.s.${stream}.demand`;
  }
  /** Every stream's demand, for an origin. */
  get anyDemand(): string {
    return `${this.prefix}.s.*.demand`;
  }
  /** The stream name in a subject of this prefix, or null. */
  streamOf(subject: string): string | null {
    const parts = subject.slice(this.prefix.length + 1).split('.');
    return parts[0] === 's' && parts[1] ? parts[1] : null;
  }
}

/** Header of a frame sent in parts: `index/count` (1-based), with the frame's seq in Framecast-Seq. */
export const PART_HEADER = 'Framecast-Part';
export const SEQ_HEADER = 'Framecast-Seq';

/** Publishes a frame's message, in parts no larger than the server's max_payload. */
export function publishFrame(nc: NatsConnection, subject: string, seq: number, message: Buffer): void {
  const max = Math.max(1024, (nc.info?.max_payload ?? 1024 * 1024) - 1024);
  if (message.length <= max) {
    nc.publish(subject, message);
    return;
  }
  const count = Math.ceil(message.length / max);
  for (let i = 0; i < count; i++) {
    const h = headers();
    h.set(PART_HEADER, `${i + 1}/${count}`);
    h.set(SEQ_HEADER, String(seq));
    nc.publish(subject, message.subarray(i * max, Math.min(message.length, (i + 1) * max)), { headers: h });
  }
}

/**
 * Puts frames sent in parts back together (parts of one frame arrive in order from one publisher).
 * Returns the whole message, or null while parts are missing; a part out of place drops the frame.
 */
export class PartAssembler {
  #seq: string | null = null;
  #parts: Uint8Array[] = [];
  #next = 1;

  push(msg: Msg): Buffer | null {
    const part = msg.headers?.get(PART_HEADER);
    if (!part) return Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
    const [i, n] = part.split('/').map(Number) as [number, number];
    const seq = msg.headers?.get(SEQ_HEADER) ?? '';
    if (i === 1) {
      this.#seq = seq;
      this.#parts = [];
      this.#next = 1;
    }
    if (seq !== this.#seq || i !== this.#next || !(n >= i) || n > 4096) {
      this.#seq = null;
      return null;
    }
    this.#parts.push(msg.data);
    this.#next++;
    if (i < n) return null;
    this.#seq = null;
    return Buffer.concat(this.#parts);
  }
}
