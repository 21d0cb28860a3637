import { createHmac, timingSafeEqual } from 'node:crypto';
import { headers, type Msg, type MsgHdrs } from '@nats-io/transport-node';
import { ORIGIN_HEADER, PART_HEADER, SEQ_HEADER } from './bus-headers.js';

import { secretProblem } from '../config/bus-settings.js';

export { MIN_SECRET_LENGTH, secretProblem } from '../config/bus-settings.js';

/** HMAC-SHA256 of a message, hex (see docs/PROTOCOL.md, "Bus", "Bus secret"). */
export const SIG_HEADER = 'Framecast-Sig';
/** When the origin sent the message: ms since the Unix epoch, decimal. */
export const TIME_HEADER = 'Framecast-Time';
/** The origin process's message counter (1, 2, ...: every signed message it sends), decimal. */
export const COUNT_HEADER = 'Framecast-Count';

/**
 * A signed message whose Framecast-Time is further than this from the edge's clock is dropped: an
 * old message cannot be replayed to roll a stream back (a newer one from the same process is refused
 * by its counter). Hosts need clocks within this of each other (NTP keeps them within milliseconds).
 */
export const SIGNED_WINDOW_MS = 30_000;

/** The bus secret may come from the environment: a command line shows in `ps`. */
export const BUS_SECRET_ENV = 'FRAMECAST_BUS_SECRET';

const INT = /^\d{1,16}$/;
const HEX_SHA256 = /^[0-9a-f]{64}$/;
/** An instance is a UUID; a peer's header is bounded before it is hashed or kept. */
const MAX_INSTANCE = 128;

function mac(
  secret: string,
  subject: string,
  instance: string,
  time: string,
  count: string,
  h: MsgHdrs,
  data: Uint8Array,
): Buffer {
  const m = createHmac('sha256', secret);
  // Newline-separated: none of these may hold one (a subject cannot, the others are checked).
  const part = h.get(PART_HEADER);
  const seq = h.get(SEQ_HEADER);
  m.update(`framecast-bus-v1\n${subject}\n${instance}\n${time}\n${count}\n${part}\n${seq}\n`);
  m.update(data);
  return m.digest();
}

/** Signs what an origin process publishes: one counter for all its messages. */
export class BusSigner {
  readonly #secret: string;
  readonly #instance: string;
  #count = 0;

  constructor(secret: string, instance: string) {
    const problem = secretProblem(secret);
    if (problem) throw new RangeError(`bus secret ${problem}`);
    this.#secret = secret;
    this.#instance = instance;
  }

  /** The headers of `data` on `subject`, signed; `h` may hold the part headers already. */
  sign(subject: string, data: Uint8Array, h: MsgHdrs = headers()): MsgHdrs {
    const time = String(Date.now());
    const count = String(++this.#count);
    h.set(ORIGIN_HEADER, this.#instance);
    h.set(TIME_HEADER, time);
    h.set(COUNT_HEADER, count);
    h.set(SIG_HEADER, mac(this.#secret, subject, this.#instance, time, count, h, data).toString('hex'));
    return h;
  }
}

/** Why an edge dropped a message that should have been signed. */
export type BusDropKind = 'unsigned' | 'forged' | 'replayed' | 'stale';

/** One line for a log (the first drop of each kind). */
export function dropText(kind: BusDropKind, subject: string): string {
  const why = {
    unsigned: 'is not signed (an origin without the bus secret, or a peer)',
    forged: 'has a signature that does not verify with the bus secret (another secret, or a peer)',
    replayed: 'repeats an older message of its origin process (replayed)',
    stale: `was signed more than ${SIGNED_WINDOW_MS / 1000} s from this host's time (replayed, or the clocks differ)`,
  }[kind];
  return `bus: dropped a message on ${subject} that ${why}; such messages are counted, not logged again`;
}

/** How long an origin process's last counter is remembered per subject after its last message. */
const REMEMBER_MS = 2 * SIGNED_WINDOW_MS;

/**
 * Checks signed messages on an edge: the signature, the time window and each origin process's
 * counter, per subject (NATS keeps one publisher's order per subscription). Drops are counted and
 * reported once per kind.
 */
export class BusVerifier {
  readonly #secret: string;
  readonly #onFirstDrop: (kind: BusDropKind, subject: string) => void;
  /** `subject\0instance` -> the last counter taken and when. Only verified messages add entries. */
  readonly #last = new Map<string, { count: number; at: number }>();
  readonly #counts: Record<BusDropKind, number> = { unsigned: 0, forged: 0, replayed: 0, stale: 0 };
  #checked = 0;

  constructor(secret: string, onFirstDrop: (kind: BusDropKind, subject: string) => void = () => {}) {
    const problem = secretProblem(secret);
    if (problem) throw new RangeError(`bus secret ${problem}`);
    this.#secret = secret;
    this.#onFirstDrop = onFirstDrop;
  }

  /** Messages dropped so far, by kind. */
  get dropped(): Readonly<Record<BusDropKind, number>> {
    return { ...this.#counts };
  }

  /** The origin process (instance) that signed `msg`, or null when it is dropped. */
  verify(subject: string, msg: Pick<Msg, 'data' | 'headers'>, now = Date.now()): string | null {
    const h = msg.headers;
    const sig = h?.get(SIG_HEADER);
    if (!h || !sig) return this.drop('unsigned', subject);
    const instance = h.get(ORIGIN_HEADER);
    const time = h.get(TIME_HEADER);
    const count = h.get(COUNT_HEADER);
    if (
      !HEX_SHA256.test(sig) ||
      !INT.test(time) ||
      !INT.test(count) ||
      instance === '' ||
      instance.length > MAX_INSTANCE ||
      /[\n\0]/.test(instance + h.get(PART_HEADER) + h.get(SEQ_HEADER))
    )
      return this.drop('forged', subject);
    const expected = mac(this.#secret, subject, instance, time, count, h, msg.data);
    if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) return this.drop('forged', subject);
    if (Math.abs(now - Number(time)) > SIGNED_WINDOW_MS) return this.drop('stale', subject);
    const key = `${subject}\0${instance}`;
    const n = Number(count);
    const last = this.#last.get(key);
    if (last && n <= last.count) return this.drop('replayed', subject);
    this.#last.set(key, { count: n, at: now });
    if (++this.#checked % 1024 === 0)
      for (const [k, v] of this.#last) if (now - v.at > REMEMBER_MS) this.#last.delete(k);
    return instance;
  }

  /** Counts a drop (reported the first time of each kind); null, for `return verifier.drop(...)`. */
  drop(kind: BusDropKind, subject: string): null {
    if (this.#counts[kind]++ === 0) this.#onFirstDrop(kind, subject);
    return null;
  }
}
