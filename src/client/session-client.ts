import { SafeEmitter } from '../util/safe-emitter.js';
import { FramecastError, type FramecastErrorCode } from '../errors.js';
import { formatAddress, type ServerAddress } from './address.js';
import type { FrameAnnotation } from './frame-meta.js';
import {
  StreamClient,
  type HandshakeInfo,
  type StreamClientEvents,
  type StreamClientOptions,
  type StreamEnd,
} from './stream-client.js';

/** How to come back after the server went away. */
export interface ReconnectOptions {
  /** First retry delay (default 250 ms); doubles per failed attempt. */
  initialDelayMs?: number;
  /** Longest delay between attempts (default 5000 ms). */
  maxDelayMs?: number;
  /** Give up when the server stayed away this long (default 60000 ms; 0 = never). */
  giveUpAfterMs?: number;
}

/** Options of a SessionClient. */
export interface SessionClientOptions extends StreamClientOptions {
  /** Reconnect when the server goes away (null/undefined: one connection only). */
  reconnect?: ReconnectOptions | null;
  /** With `playback`: when the recording ends (END eof), go on with the live stream on a new connection. */
  thenLive?: boolean;
}

/** Events of a SessionClient: a StreamClient's, plus the reconnect cycle. */
export interface SessionClientEvents extends StreamClientEvents {
  /** The connection was lost (`err`, or a clean end the server may come back from); retrying after `delayMs`. */
  reconnecting: [attempt: number, delayMs: number, reason: string];
  /** Back after `gapMs` without a connection. */
  reconnected: [gapMs: number];
  /** A playback reached the recording's end and the session goes on live (`thenLive`). */
  live: [];
}

const RETRYABLE = new Set<FramecastErrorCode>([
  'ERR_CONNECTION',
  'ERR_CONNECTION_REFUSED',
  'ERR_CONNECT_TIMEOUT',
  'ERR_TRUNCATED_FRAME',
]);
/** Clean ends after which the server may come back: a shutdown, or a seed-framed close (which cannot say). */
const RETRY_ENDS = new Set(['shutdown', 'closed', 'removed']);

/**
 * A client session over one or more connections: with `reconnect`, a lost server is retried with
 * exponential backoff (jittered) until it answers again or `giveUpAfterMs` passes, and frames keep
 * flowing to the same listeners. Counts reconnects and the time spent without a connection.
 */
export class SessionClient extends SafeEmitter<SessionClientEvents> {
  /** The servers to use, in order; a reconnect moves to the next (an edge that went away). */
  readonly #addrs: ServerAddress[];
  #current = 0;
  readonly #opts: SessionClientOptions;
  #client: StreamClient | null = null;
  #closed = false;
  #paused = false;
  #lostAt: number | null = null;
  #attempt = 0;
  #retryTimer: NodeJS.Timeout | null = null;
  #everConnected = false;
  #info: HandshakeInfo | null = null;
  /** Connections re-established after a loss. */
  reconnects = 0;
  /** Total ms spent without a connection after a loss (the gaps). */
  gapMs = 0;
  /** How the stream ended cleanly, once it did. */
  ended: StreamEnd | null = null;
  readonly #latest = new Map<string, FrameAnnotation>();
  /** The playback is over and the session watches live (`thenLive`). */
  #live = false;

  constructor(addr: ServerAddress | ServerAddress[], opts: SessionClientOptions = {}) {
    super();
    this.#addrs = Array.isArray(addr) ? [...addr] : [addr];
    if (this.#addrs.length === 0) throw new RangeError('at least one server address is needed');
    this.#opts = opts;
  }

  /** Protocol of the current (or last) connection. */
  get protocol(): string {
    return this.#info?.protocol ?? this.#client?.protocol ?? this.#opts.protocol ?? 'auto';
  }

  /** Handshake of the current (or last) connection. */
  get handshake(): HandshakeInfo | null {
    return this.#info;
  }

  /** Starts the first connection. */
  connect(): void {
    this.#open();
  }

  /** TCP backpressure: stop reading until resume(). */
  pause(): void {
    this.#paused = true;
    this.#client?.pause();
  }

  /** Acknowledges frame `seq` on the current connection (see StreamClientOptions.ack). */
  ack(seq: number): void {
    this.#client?.ack(seq);
  }

  /** Each analyzer's newest annotation (with the `annotations` option), kept across reconnects. */
  get latestAnnotations(): ReadonlyMap<string, FrameAnnotation> {
    return this.#latest;
  }

  /**
   * Sends an annotation of frame `frame` (a received frame or its seq) on the current connection; see
   * StreamClient.annotate(). ERR_INVALID_STATE while no connection is up.
   */
  annotate(frame: number | { seq: number }, analyzer: string, data: unknown): void {
    if (!this.#client || this.#info === null || this.#closed)
      throw new FramecastError('ERR_INVALID_STATE', 'not connected: cannot annotate');
    this.#client.annotate(frame, analyzer, data);
  }

  /** Resumes reading. */
  resume(): void {
    this.#paused = false;
    this.#client?.resume();
  }

  /** The server in use now. */
  get #addr(): ServerAddress {
    return this.#addrs[this.#current] as ServerAddress;
  }

  #open(): void {
    const client = new StreamClient(this.#addr, this.#live ? { ...this.#opts, playback: null } : this.#opts);
    this.#client = client;
    client.on('connect', () => {
      if (!this.#everConnected) this.emit('connect');
    });
    client.on('handshake', (info) => {
      this.#info = info;
      this.#attempt = 0;
      if (this.#lostAt !== null && !this.#everConnected) this.#lostAt = null;
      if (this.#lostAt !== null) {
        const gap = Date.now() - this.#lostAt;
        this.#lostAt = null;
        this.reconnects++;
        this.gapMs += gap;
        this.emit('reconnected', gap);
      }
      this.#everConnected = true;
      this.emit('handshake', info);
    });
    client.on('frame', (f) => this.emit('frame', f));
    client.on('status', (c, v, m) => this.emit('status', c, v, m));
    client.on('annotation', (a) => {
      this.#latest.set(a.analyzer, a);
      this.emit('annotation', a);
    });
    client.on('annotation-refused', (r) => this.emit('annotation-refused', r));
    client.on('bad-frame', (r) => this.emit('bad-frame', r));
    client.on('end', (end) => this.#onEnd(end));
    client.on('error', (err) => this.#onError(err));
    client.connect();
    if (this.#paused) client.pause();
  }

  #onEnd(end: StreamEnd): void {
    if (this.#closed) return;
    if (this.#opts.playback && this.#opts.thenLive && !this.#live && end.reason === 'eof') {
      this.#live = true;
      this.emit('live');
      this.#open();
      return;
    }
    if (this.#opts.reconnect && RETRY_ENDS.has(end.reason)) this.#retry(`stream ended (${end.reason})`);
    else {
      this.ended = end;
      this.emit('end', end);
    }
  }

  #onError(err: FramecastError): void {
    if (this.#closed) return;
    if (this.#opts.reconnect && RETRYABLE.has(err.code)) this.#retry(err.message);
    else this.emit('error', err);
  }

  #retry(reason: string): void {
    const r = this.#opts.reconnect ?? {};
    this.#lostAt ??= Date.now();
    const giveUp = r.giveUpAfterMs ?? 60_000;
    const down = Date.now() - this.#lostAt;
    if (giveUp > 0 && down >= giveUp) {
      const where = formatAddress(this.#addr.host, this.#addr.port);
      this.emit(
        'error',
        new FramecastError(
          'ERR_CONNECTION',
          `${where} did not come back within ${Math.round(giveUp / 1000)} s (last: ${reason})`,
        ),
      );
      return;
    }
    const base = Math.min(r.maxDelayMs ?? 5000, (r.initialDelayMs ?? 250) * 2 ** this.#attempt);
    // Jitter spreads many clients that lost the same server so they do not come back in one burst.
    let delay = Math.round(base * (0.75 + Math.random() * 0.5));
    if (giveUp > 0) delay = Math.max(0, Math.min(delay, giveUp - down));
    this.#attempt++;
    // With several servers (edges), try the next one: the one just lost may be gone for good.
    if (this.#addrs.length > 1) {
      this.#current = (this.#current + 1) % this.#addrs.length;
      delay = this.#attempt <= this.#addrs.length ? 0 : delay;
    }
    this.emit('reconnecting', this.#attempt, delay, reason);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      if (!this.#closed) this.#open();
    }, delay);
  }

  /** Closes the connection and stops retrying, without an event. Idempotent. */
  close(): void {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#client?.close();
  }
}
