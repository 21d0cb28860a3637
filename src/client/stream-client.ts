import { SafeEmitter } from '../util/safe-emitter.js';
import net from 'node:net';
import { FramecastError } from '../errors.js';
import { HelloFlag, StatusCode, encodeAck, encodeHello } from '../protocol/native.js';
import type { NativeMessage } from '../protocol/native-parser.js';
import { nowMs } from '../util/clock.js';
import { AckWindow } from './ack-window.js';
import { formatAddress, type ServerAddress } from './address.js';
import { dial, readyEvent } from './dial.js';
import { estimateClock, isLocalAddress } from './clock-sync.js';
import { DEFAULT_MAX_FRAME_BYTES } from './legacy-parser.js';
import { WireReader } from './wire-reader.js';
import { MetaChannel, type FrameAnnotation } from './frame-meta.js';
import { fromNativeFrame, fromSeedPayload } from './received-frame.js';
import { ConnectionEnd } from './connection-end.js';
import { REFUSAL_CODES, namedStreamProblem, onClosedBeforeTls } from './stream-client-errors.js';
import type { HandshakeInfo, StreamClientEvents, StreamClientOptions } from './stream-client-types.js';

export type { StreamFrame } from './received-frame.js';
export type {
  HandshakeInfo,
  ProtocolChoice,
  StreamClientEvents,
  StreamClientOptions,
  StreamEnd,
} from './stream-client-types.js';

/** How long `auto` waits for a seed server to speak first before it says hello (< the server's grace). */
const AUTO_HELLO_DELAY_MS = 40;

/**
 * One connection to a framecast (or seed) server. With `auto` (default) it opens with the native
 * hello; a server that answers with the native preamble is native, one that answers with anything
 * else is a seed server (it never reads, so its first bytes are a length prefix, which can never
 * equal "FCST" under the frame size cap) and its bytes are parsed as the seed framing.
 */
export class StreamClient extends SafeEmitter<StreamClientEvents> {
  readonly #addr: ServerAddress;
  readonly #opts: StreamClientOptions;
  readonly #where: string;
  #socket: net.Socket | null = null;
  readonly #reader: WireReader;
  #fallback = false;
  #helloAt = 0;
  #info: HandshakeInfo | null = null;
  #bytesIn = 0;
  #seq = 0;
  #waiting = false;
  #acking = false;
  readonly #ackWindow = new AckWindow();
  readonly #meta: MetaChannel;
  readonly #end: ConnectionEnd;
  #helloTimer: NodeJS.Timeout | null = null;

  constructor(addr: ServerAddress, options: StreamClientOptions = {}) {
    super();
    // A playback speaks the native protocol only: a seed server's frames would be live ones.
    const opts: StreamClientOptions =
      options.playback || options.view ? { ...options, protocol: 'native' } : options;
    this.#addr = addr;
    this.#opts = opts;
    this.#where = formatAddress(addr.host, addr.port);
    this.#reader = new WireReader(
      opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      opts.protocol === 'native',
      this.#where,
      {
        message: (m, at) => this.#onMessage(m, at),
        payload: (p, at) => this.#onLegacyPayload(p, at),
        seed: () => {
          this.#fallback = true;
          this.#settle({ protocol: 'legacy', server: null, clock: null });
        },
        // The seed frames so far stay delivered; the welcome that follows settles the native protocol.
        upgraded: () => {
          this.#fallback = false;
        },
      },
    );
    if (opts.protocol === 'legacy') this.#reader.seedFraming();
    this.#end = new ConnectionEnd({
      where: this.#where,
      tls: addr.tls,
      nativeOnly: opts.protocol === 'native',
      reader: this.#reader,
      bytesIn: () => this.#bytesIn,
      seedClosed: () => this.#fallback && this.#reader.atSeedBoundary && this.#seq > 0,
      cleanup: () => this.#cleanup(),
      end: (end) => this.emit('end', end),
      error: (err) => this.emit('error', err),
    });
    this.#meta = new MetaChannel(opts, this.#where, {
      annotation: (a) => this.emit('annotation', a),
      refused: (r) => this.emit('annotation-refused', r),
    });
  }

  /** `detect` until the server's first bytes (or protocol `legacy`) decide, then `native` or `legacy`. */
  get #mode(): 'detect' | 'native' | 'legacy' {
    return this.#reader.mode;
  }

  /** The protocol in use (`auto` until the server's first bytes decide it). */
  get protocol(): string {
    return this.#info?.protocol ?? (this.#mode === 'detect' ? (this.#opts.protocol ?? 'auto') : this.#mode);
  }

  /** What the handshake settled, or null before. */
  get handshake(): HandshakeInfo | null {
    return this.#info;
  }

  /** Opens the connection; events follow. */
  connect(): void {
    const { host, port } = this.#addr;
    this.#acking = false;
    const socket = dial({ host, port, tls: this.#addr.tls }, { ca: this.#opts.ca ?? null });
    this.#socket = socket;
    this.#end.arm(
      this.#opts.connectTimeoutMs ?? 10_000,
      `no answer from ${this.#where}`,
      'ERR_CONNECT_TIMEOUT',
    );
    if (this.#addr.tls)
      onClosedBeforeTls(socket, this.#where, (message) => this.#end.fail('ERR_TLS', message));
    // Over TLS, the hello waits for the handshake (and the connect timeout covers it).
    socket.once(readyEvent(this.#addr), () => {
      this.#end.disarm();
      if (this.#mode === 'detect' && this.#opts.protocol !== 'native' && !this.#addr.tls) {
        // A seed server speaks first and never reads: a hello left unread in its buffer makes its
        // close a reset that can destroy the last frames. A framecast server stays silent for its
        // hello grace (100 ms), so wait a little for a seed server's first bytes before saying hello.
        this.#helloTimer = setTimeout(() => this.#sayHello(socket), AUTO_HELLO_DELAY_MS);
        this.emit('connect');
        return;
      }
      if (this.#mode === 'detect') {
        this.#helloAt = nowMs();
        this.#reader.helloSent();
        socket.write(this.#hello());
        // A framecast server answers a hello at once; only an explicit native client insists on it.
        if (this.#opts.protocol === 'native') {
          const ms = this.#opts.connectTimeoutMs ?? 10_000;
          this.#end.arm(ms, `${this.#where} did not answer the native hello`, 'ERR_PROTOCOL');
        }
      } else {
        this.#settle({ protocol: 'legacy', server: null, clock: null });
      }
      this.emit('connect');
    });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.once('end', () => this.#end.onEnd());
    socket.on('error', (err: NodeJS.ErrnoException) => this.#end.onSocketError(err));
    socket.once('close', () => this.#end.fail('ERR_CONNECTION', `connection to ${this.#where} closed`));
  }

  #sayHello(socket: net.Socket): void {
    this.#helloTimer = null;
    if (this.#end.done || this.#mode !== 'detect' || this.#reader.pendingBytes > 0) return;
    this.#helloAt = nowMs();
    this.#reader.helloSent();
    socket.write(this.#hello());
  }

  #hello(): Buffer {
    return encodeHello(
      this.#opts.token ?? '',
      this.#helloAt,
      undefined,
      (this.#opts.ack === false ? 0 : HelloFlag.Ack) | this.#meta.helloFlags,
      this.#addr.stream ?? null,
      this.#opts.playback
        ? { start: this.#opts.playback.start, speed: this.#opts.playback.speed ?? 1 }
        : null,
      this.#opts.view
        ? {
            width: this.#opts.view.width ?? null,
            quality: this.#opts.view.quality ?? null,
            fps: this.#opts.view.fps ?? null,
          }
        : null,
    );
  }

  /** True once the server agreed to frame acknowledgements on this connection. */
  get acknowledging(): boolean {
    return this.#acking;
  }

  /** Tells the server the client is done with frame `seq` (and those before it); a no-op unless acknowledging. */
  ack(seq: number): void {
    const s = this.#socket;
    if (!this.#acking || this.#end.done || !s || !s.writable) return;
    s.write(encodeAck(seq, this.#ackWindow.size(this.#info?.clock?.rttMs ?? null)));
  }

  /** Each analyzer's newest annotation received on this connection (with the `annotations` option). */
  get latestAnnotations(): ReadonlyMap<string, FrameAnnotation> {
    return this.#meta.latest;
  }

  /** Annotates a received frame (or its seq) as `analyzer` (see frame-meta.ts); refusals come as `annotation-refused`. */
  annotate(frame: number | { seq: number }, analyzer: string, data: unknown): void {
    const msg = this.#meta.annotation(frame, analyzer, data);
    const s = this.#socket;
    if (this.#end.done || !s || !s.writable)
      throw new FramecastError('ERR_INVALID_STATE', `the connection to ${this.#where} is closed`);
    s.write(msg);
  }

  /** Stops reading (TCP backpressure: the server then drops frames for us instead of queueing). */
  pause(): void {
    this.#socket?.pause();
  }

  /** Resumes reading after pause(). */
  resume(): void {
    this.#socket?.resume();
  }

  #armIdle(): void {
    const ms = this.#opts.idleTimeoutMs ?? 0;
    // A client waiting for a place gets no frames for as long as it waits: that is not a stall.
    if (ms <= 0 || this.#waiting) return;
    if (this.#end.timer) this.#end.timer.refresh();
    else
      this.#end.arm(ms, `stream from ${this.#where} stalled: no data for ${ms / 1000} s`, 'ERR_CONNECTION');
  }

  #settle(info: HandshakeInfo): void {
    this.#info = info;
    this.emit('handshake', info);
  }

  #onData(chunk: Buffer): void {
    if (this.#end.done) return;
    const receivedAt = nowMs();
    this.#bytesIn += chunk.length;
    if (this.#mode === 'detect') this.#end.disarm();
    this.#armIdle();
    try {
      this.#reader.push(chunk, receivedAt);
    } catch (err) {
      const e = err as FramecastError;
      this.#end.fail(e.code, e.message);
    }
  }

  #onMessage(m: NativeMessage, receivedAt: number): void {
    if (this.#end.done) return;
    if (m.type === 'welcome') {
      const problem = namedStreamProblem(this.#where, this.#addr.stream, this.#reader.nativeVersion);
      if (problem) return this.#end.fail('ERR_PROTOCOL', problem);
      const sameHost = isLocalAddress(this.#socket?.remoteAddress);
      const clock = estimateClock(this.#helloAt, m.helloReceivedAt, m.welcomeSentAt, receivedAt, sameHost);
      this.#acking = this.#opts.ack !== false && (m.flags & HelloFlag.Ack) !== 0;
      this.#meta.welcome(m.flags);
      this.#settle({ protocol: 'native', server: m.server, clock });
    } else if (m.type === 'error') {
      const code = REFUSAL_CODES[m.code] ?? 'ERR_SERVER_REFUSED';
      this.#end.fail(code, `${this.#where} refused the connection: ${m.message || `error ${m.code}`}`);
    } else if (this.#info === null) {
      throw new FramecastError('ERR_PROTOCOL', `${this.#where} sent a message before its welcome`);
    } else if (m.type === 'frame') {
      this.#waiting = false;
      this.#ackWindow.observe(m.capturedAt);
      const f = fromNativeFrame(m, receivedAt, this.#info.clock, this.#meta.frameMeta(m.seq));
      if (typeof f === 'string') {
        this.emit('bad-frame', f);
        this.ack(m.seq);
      } else {
        this.emit('frame', f);
        if (!this.#opts.manualAck) this.ack(m.seq);
      }
    } else if (m.type === 'status') {
      if (m.code === StatusCode.Waiting) {
        this.#waiting = true;
        this.#end.disarm();
      }
      this.#meta.status(m.code, m.value, m.message);
      this.emit('status', m.code, m.value, m.message);
    } else if (m.type === 'meta') {
      this.#meta.message(m);
    } else if (m.type === 'end') {
      this.#end.ended({ reason: m.reason, message: m.message });
    }
  }

  #onLegacyPayload(payload: Buffer, receivedAt: number): void {
    if (this.#end.done) return;
    const f = fromSeedPayload(payload, this.#seq++, receivedAt);
    if (typeof f === 'string') this.emit('bad-frame', f);
    else this.emit('frame', f);
  }

  #cleanup(): void {
    if (this.#helloTimer) clearTimeout(this.#helloTimer);
    this.#socket?.destroy();
  }

  /** Closes the connection without an event (the user quit). Idempotent. */
  close(): void {
    this.#end.close();
  }
}
