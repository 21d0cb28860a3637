import { FramecastError } from '../errors.js';
import { agreesWithMagic, NATIVE_MAGIC } from '../protocol/native.js';
import { NativeParser, type NativeMessage } from '../protocol/native-parser.js';
import { LegacyParser } from './legacy-parser.js';

/** What a WireReader hands on, with the time the bytes arrived. */
export interface WireHandlers {
  /** A native message (preamble consumed). */
  message(m: NativeMessage, receivedAt: number): void;
  /** A seed frame's payload (base64 text of a JPEG). */
  payload(p: Buffer, receivedAt: number): void;
  /** The server's first bytes were not the native magic: from now on, seed framing. */
  seed(): void;
  /**
   * A framecast server took a late hello for a seed client, then saw the hello: after a whole seed
   * frame it answered it, and from now on the connection speaks the native protocol.
   */
  upgraded(): void;
}

/**
 * The bytes of one connection, read as the native protocol or as the seed framing. In `detect` mode
 * the server's first bytes decide: the native preamble starts with "FCST", which a seed length prefix
 * (under the frame size cap) can never spell, so one byte usually settles it. Parse errors throw a
 * FramecastError for the caller to report.
 */
export class WireReader {
  readonly #max: number;
  readonly #nativeOnly: boolean;
  readonly #where: string;
  readonly #on: WireHandlers;
  #mode: 'detect' | 'native' | 'legacy' = 'detect';
  #pending: Buffer = Buffer.alloc(0);
  #native: NativeParser | null = null;
  #legacy: LegacyParser | null = null;
  #helloSent = false;

  /** `nativeOnly`: a server that is not native is an error rather than a seed server. */
  constructor(maxFrameBytes: number, nativeOnly: boolean, where: string, handlers: WireHandlers) {
    this.#max = maxFrameBytes;
    this.#nativeOnly = nativeOnly;
    this.#where = where;
    this.#on = handlers;
  }

  /** `detect` until the first bytes arrive (or `seedFraming()`), then the protocol they showed. */
  get mode(): 'detect' | 'native' | 'legacy' {
    return this.#mode;
  }

  /** Bytes held back while they may still spell the native magic. */
  get pendingBytes(): number {
    return this.#pending.length;
  }

  /** The native protocol version the server's preamble announced (1 before it). */
  get nativeVersion(): number {
    return this.#native?.version ?? 1;
  }

  /** True when the seed framing stopped between two frames (not inside one). */
  get atSeedBoundary(): boolean {
    return this.#legacy?.atBoundary === true;
  }

  /**
   * The client said its native hello. A framecast server that had already begun the seed framing (a
   * hello delayed past its grace on a loaded machine) answers it between two seed frames with the
   * native preamble, which a seed length prefix can never spell: the reader then turns native.
   */
  helloSent(): void {
    this.#helloSent = true;
  }

  /** Reads the connection as the seed framing from its first byte (protocol `legacy`: no hello sent). */
  seedFraming(): void {
    this.#mode = 'legacy';
    this.#legacy = new LegacyParser(this.#max);
  }

  /** Reads `chunk`, handing on every complete message. Throws FramecastError on bad bytes. */
  push(chunk: Buffer, receivedAt: number): void {
    if (this.#mode === 'detect') {
      this.#pending = Buffer.concat([this.#pending, chunk]);
      // Wait for 4 bytes only while they may still spell the magic: a seed length prefix
      // (which starts with 0x00 for any frame under 16 MiB) is recognised at its first byte.
      if (this.#pending.length < NATIVE_MAGIC.length && agreesWithMagic(this.#pending)) return;
      chunk = this.#pending;
      this.#pending = Buffer.alloc(0);
      this.#detect(chunk);
    }
    if (this.#mode === 'native') {
      (this.#native as NativeParser).push(chunk, (m) => this.#on.message(m, receivedAt));
    } else {
      let rest: Buffer | null = null;
      (this.#legacy as LegacyParser).push(
        chunk,
        (p) => this.#on.payload(p, receivedAt),
        this.#helloSent ? { magic: NATIVE_MAGIC, upgrade: (r) => (rest = r) } : undefined,
      );
      if (rest === null) return;
      this.#mode = 'native';
      this.#legacy = null;
      this.#native = new NativeParser(this.#max);
      this.#on.upgraded();
      this.push(rest, receivedAt);
    }
  }

  /**
   * The server closed a connection read as the seed framing (or still undecided, with a few bytes):
   * throws FramecastError when it stopped inside a frame. Bytes still held back are read as the seed
   * framing would read them.
   */
  endSeed(): void {
    if (this.#mode === 'detect') {
      const held = this.#pending;
      this.#pending = Buffer.alloc(0);
      this.#detect(held);
      try {
        (this.#legacy as LegacyParser).push(held, () => {});
      } catch {
        /* reported by finish() below */
      }
    }
    (this.#legacy as LegacyParser).finish();
  }

  #detect(first: Buffer): void {
    if (first.subarray(0, NATIVE_MAGIC.length).equals(NATIVE_MAGIC)) {
      this.#mode = 'native';
      this.#native = new NativeParser(this.#max);
      return;
    }
    if (this.#nativeOnly) {
      throw new FramecastError(
        'ERR_PROTOCOL',
        `${this.#where} does not speak the native protocol (a seed server?); use protocol auto or legacy`,
      );
    }
    this.seedFraming();
    this.#on.seed();
  }
}
