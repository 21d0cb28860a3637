import type net from 'node:net';
import { SafeEmitter } from '../util/safe-emitter.js';
import { FramecastError, type FramecastErrorCode } from '../errors.js';
import {
  ACK_WINDOW,
  ErrorCode,
  HelloFlag,
  MAX_ACK_WINDOW,
  encodeEnd,
  MetaKind,
  encodeHello,
  encodeMeta,
  encodeNativeFrame,
} from '../protocol/native.js';
import { NativeParser, type NativeMessage } from '../protocol/native-parser.js';
import { nowMs } from '../util/clock.js';
import { jpegInfo, looksLikeJpeg } from '../util/jpeg.js';
import { encodeRawImage, type RawImage } from '../encode/raw-image.js';
import { formatAddress, parseServerAddress, type ServerAddress } from './address.js';
import { dial, readyEvent, tlsProblem } from './dial.js';
import type { ReconnectOptions } from './session-client.js';
import { metaJson } from './frame-meta.js';
import type {
  PublishFrameOptions,
  RemotePublisherEvents,
  RemotePublisherOptions,
} from './remote-publisher-types.js';

export type { PublishFrameOptions, RemotePublisherEvents, RemotePublisherOptions };

/** ERRORs after which coming back would only be refused again. */
const FATAL: Record<number, FramecastErrorCode> = {
  [ErrorCode.TokenRequired]: 'ERR_AUTH',
  [ErrorCode.TokenInvalid]: 'ERR_AUTH',
  [ErrorCode.UnknownStream]: 'ERR_UNKNOWN_STREAM',
  [ErrorCode.NotPublishable]: 'ERR_SERVER_REFUSED',
  [ErrorCode.BadFrame]: 'ERR_BAD_FRAME',
  [ErrorCode.BadMetadata]: 'ERR_BAD_META',
  [ErrorCode.UnsupportedVersion]: 'ERR_PROTOCOL',
};

/**
 * A publisher that pushes JPEGs into a stream of a remote framecast server (its source `publisher`).
 * Frames go out only while the server's window allows (it acknowledges each one): `publish()` drops
 * a frame rather than queue it when the window is full (latest frame wins, nothing grows), and
 * `await ready()` waits for room, for a publisher that must not drop. When the server goes away the
 * publisher reconnects with backoff (0.25 s doubling to 5 s) and goes on.
 */
export class RemotePublisher extends SafeEmitter<RemotePublisherEvents> {
  readonly #addr: ServerAddress;
  readonly #opts: RemotePublisherOptions;
  readonly #reconnect: ReconnectOptions | null;
  #socket: net.Socket | null = null;
  #connected = false;
  /** Taken by the server at least once: a later PublisherActive is our own old connection, not yet gone. */
  #everConnected = false;
  #closed = false;
  #seq = 0;
  #unacked: number[] = [];
  #window = ACK_WINDOW;
  #attempt = 0;
  #retry: NodeJS.Timeout | null = null;
  #waiters: (() => void)[] = [];
  /** The server's WELCOME echoed the Meta bit: it takes each frame's metadata. */
  #metaOk = false;
  /** Frames sent, acknowledged by the server, and dropped because the window was full or nobody was connected. */
  readonly counts = { sent: 0, accepted: 0, dropped: 0, bytes: 0, reconnects: 0 };

  constructor(address: string | ServerAddress, opts: RemotePublisherOptions = {}) {
    super();
    this.#addr = typeof address === 'string' ? parseServerAddress(address) : address;
    this.#opts = opts;
    const r = opts.reconnect ?? true;
    this.#reconnect = r === false ? null : r === true ? {} : r;
    opts.signal?.addEventListener('abort', () => this.close(), { once: true });
    this.#connect();
  }

  /** True while connected and accepted by the server. */
  get connected(): boolean {
    return this.#connected;
  }

  /** True when a frame sent now would go out (connected, and the server's window has room). */
  get canSend(): boolean {
    return this.#connected && this.#unacked.length < this.#window;
  }

  /** Resolves when a frame can be sent (connected and room in the window); rejects once closed. */
  ready(): Promise<void> {
    if (this.canSend) return Promise.resolve();
    if (this.#closed)
      return Promise.reject(new FramecastError('ERR_INVALID_STATE', 'the publisher is closed'));
    return new Promise((resolve, reject) => {
      this.#waiters.push(() =>
        this.#closed ? reject(new FramecastError('ERR_INVALID_STATE', 'the publisher is closed')) : resolve(),
      );
    });
  }

  /**
   * Sends one JPEG (a whole baseline or progressive JPEG), with `meta` its metadata; returns false when
   * it was dropped (not connected, or the server has not taken the previous frames yet). TypeError for
   * a non-JPEG; ERR_BAD_META for metadata that cannot be sent (checked before anything else), and
   * ERR_INVALID_STATE for metadata to a server that takes none (an older framecast).
   */
  publish(jpeg: Buffer, opts: PublishFrameOptions = {}): boolean {
    if (!Buffer.isBuffer(jpeg) || !looksLikeJpeg(jpeg))
      throw new TypeError('publish() takes a whole JPEG (FF D8 ... FF D9)');
    const meta = opts.meta === undefined ? null : metaJson(opts.meta, this.#opts.maxMetaBytes);
    if (!this.canSend || !this.#socket) {
      this.counts.dropped++;
      return false;
    }
    if (meta !== null && !this.#metaOk)
      throw new FramecastError(
        'ERR_INVALID_STATE',
        `${this.#where()} takes no frame metadata (an older framecast): publish without meta`,
      );
    const info = jpegInfo(jpeg);
    const seq = this.#seq++ >>> 0;
    const t = nowMs();
    const capturedAt = opts.capturedAt ?? t;
    this.#unacked.push(seq);
    const msg = encodeNativeFrame(
      { seq, width: info?.width ?? 0, height: info?.height ?? 0, capturedAt, encodedAt: t, jpeg },
      t,
    );
    if (meta !== null)
      this.#socket.write(encodeMeta({ seq, kind: MetaKind.Metadata, name: '', capturedAt, json: meta }));
    this.#socket.write(msg);
    this.counts.sent++;
    this.counts.bytes += msg.length;
    return true;
  }

  /** Encodes raw pixels (1, 3 or 4 channels) as JPEG at the publisher's quality, then publish()es it (with `meta`). */
  async publishRaw(pixels: Buffer, image: RawImage, opts: { meta?: unknown } = {}): Promise<boolean> {
    // Bad metadata is refused before the pixels are encoded.
    if (opts.meta !== undefined) metaJson(opts.meta, this.#opts.maxMetaBytes);
    const jpeg = await encodeRawImage(pixels, image, this.#opts.quality ?? 80);
    return this.publish(jpeg, { capturedAt: image.capturedAt, meta: opts.meta });
  }

  /** Says goodbye (END: the stream goes no-signal) and closes. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    const s = this.#socket;
    if (s && this.#connected && s.writable) s.end(encodeEnd('eof', 'the publisher closed'));
    else s?.destroy();
    this.#connected = false;
    this.#wake();
    this.emit('close');
  }

  #connect(): void {
    if (this.#closed) return;
    const socket = dial(this.#addr, { ca: this.#opts.ca ?? null });
    this.#socket = socket;
    const parser = new NativeParser(1 << 20);
    let failed = false;
    socket.once(readyEvent(this.#addr), () => {
      socket.write(
        encodeHello(
          this.#opts.token ?? '',
          nowMs(),
          2,
          HelloFlag.Publish | HelloFlag.Meta,
          this.#addr.stream ?? null,
        ),
      );
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk, (m) => this.#onMessage(socket, m));
      } catch (err) {
        failed = true;
        this.#lost(socket, (err as Error).message);
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const where = formatAddress(this.#addr.host, this.#addr.port);
      const why =
        tlsProblem(err, where) ??
        (err.code === 'ECONNREFUSED'
          ? `connection refused by ${where}`
          : `connection to ${where} failed (${err.code ?? err.message})`);
      if (!failed) this.#lost(socket, why);
      failed = true;
    });
    socket.on('close', () => {
      if (!failed)
        this.#lost(socket, `connection to ${formatAddress(this.#addr.host, this.#addr.port)} closed`);
      failed = true;
    });
  }

  #onMessage(socket: net.Socket, m: NativeMessage): void {
    if (socket !== this.#socket || this.#closed) return;
    if (m.type === 'welcome') {
      if (!(m.flags & HelloFlag.Publish)) {
        this.#fail('ERR_PROTOCOL', `${this.#where()} does not take publishers (an older framecast)`);
        return;
      }
      this.#connected = true;
      this.#metaOk = (m.flags & HelloFlag.Meta) !== 0;
      this.#everConnected = true;
      this.#attempt = 0;
      this.#unacked = [];
      this.#window = ACK_WINDOW;
      this.emit('connected');
      this.#wake();
    } else if (m.type === 'ack') {
      const i = this.#unacked.indexOf(m.seq >>> 0);
      if (i >= 0) {
        this.counts.accepted += i + 1;
        this.#unacked.splice(0, i + 1);
      }
      if (m.window !== null) this.#window = Math.max(1, Math.min(MAX_ACK_WINDOW, m.window));
      this.emit('accepted', m.seq);
      this.#wake();
    } else if (m.type === 'error') {
      const busy = m.code === ErrorCode.PublisherActive && !this.#opts.standby && !this.#everConnected;
      const fatal = busy ? 'ERR_PUBLISHER_ACTIVE' : FATAL[m.code];
      if (fatal || !this.#reconnect)
        this.#fail(fatal ?? 'ERR_SERVER_REFUSED', `${this.#where()} refused the publisher: ${m.message}`);
      else this.#lost(socket, m.message);
    } else if (m.type === 'end') {
      if (m.reason === 'kicked')
        this.#fail(
          'ERR_SERVER_REFUSED',
          `${this.#where()}: ${m.message || 'another publisher took the stream over'}`,
        );
      else this.#lost(socket, `the server ended the stream (${m.reason})`);
    }
  }

  #where(): string {
    return `${formatAddress(this.#addr.host, this.#addr.port)}${this.#addr.stream ? `/${this.#addr.stream}` : ''}`;
  }

  #lost(socket: net.Socket, reason: string): void {
    if (socket !== this.#socket || this.#closed) return;
    socket.destroy();
    this.#socket = null;
    const wasConnected = this.#connected;
    this.#connected = false;
    if (!this.#reconnect) {
      this.#fail('ERR_CONNECTION', reason);
      return;
    }
    const first = this.#reconnect.initialDelayMs ?? 250;
    const delay = Math.min(first * 2 ** this.#attempt, this.#reconnect.maxDelayMs ?? 5000);
    this.#attempt++;
    if (wasConnected) this.counts.reconnects++;
    this.emit('reconnecting', this.#attempt, delay, reason);
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.#connect();
    }, delay);
  }

  #fail(code: FramecastErrorCode, message: string): void {
    if (this.#closed) return;
    const err = new FramecastError(code, message);
    this.#socket?.destroy();
    this.#socket = null;
    this.#connected = false;
    this.emit('error', err);
    this.close();
  }

  #wake(): void {
    if (!this.canSend && !this.#closed) return;
    for (const w of this.#waiters.splice(0)) w();
  }
}

/** Connects a remote publisher to `HOST:PORT/STREAM` (the stream's source must be `publisher`). */
export function publish(address: string | ServerAddress, opts: RemotePublisherOptions = {}): RemotePublisher {
  return new RemotePublisher(address, opts);
}
