import { SafeEmitter } from '../../util/safe-emitter.js';
import { admit, admitInPlace, type Admissible, type AdmissionReport } from '../admission.js';
import { peerAddress } from '../peer.js';
import net from 'node:net';
import type { Hub } from '../../hub/hub.js';
import type { Subscriber } from '../../hub/subscriber.js';
import { bindServer } from '../listen.js';
import { agreesWithMagic } from '../../protocol/native.js';
import { StreamSubscriber } from '../stream-subscriber.js';
import { legacyWire } from './legacy-framing.js';
import { watchLateHello } from './late-hello.js';
import type { IpLimiter } from '../ip-limiter.js';
import { createListener, type TlsCredentials } from '../tls-config.js';

/** First bytes a native client sends; anything else that arrives before the grace period ends is refused. */
export { NATIVE_MAGIC } from '../../protocol/native.js';

/**
 * Takes over a connection whose first bytes are the native magic. Installed by the native protocol
 * module; returns the subscriber and the hub of the stream it asked for, or null if it refused (and
 * closed) the socket. `upgrading`: the connection is a seed one being served or waiting already (a late
 * hello), so a full hub is no reason to refuse it; admission still decides where it goes.
 */
export type NativeHandshake = (
  socket: net.Socket,
  firstBytes: Buffer,
  upgrading?: boolean,
) => Promise<{ sub: Subscriber; hub: Hub } | null>;

/** A stream as the TCP transport needs it for seed clients (a Stream is one). */
export interface SeedTarget {
  readonly name: string;
  readonly hub: Hub;
  readonly lossless: boolean;
  /**
   * Clients the hub can still take (served or waiting). Connections in their hello phase are refused
   * only beyond this (and at least 64 are always let in, so a full server can still say why it refuses).
   */
  room(): number;
}

/** Options of the TCP transport. */
export interface TcpServerOptions {
  host: string;
  port: number;
  /**
   * The stream seed clients join (the default stream, or this legacy port's stream), asked at each
   * connection so the stream may change while the server runs; null refuses them.
   */
  target: () => SeedTarget | null;
  /** How long a client may stay silent before it is taken for a seed (legacy) client. */
  helloGraceMs: number;
  /**
   * Start the source as a connection is accepted, before it is known to be a client (default true):
   * ffmpeg's start then overlaps the hello grace. Off for frames a program publishes, whose 'start'
   * means that someone watches.
   */
  warmOnAccept?: boolean | (() => boolean);
  /** A port for seed clients only: every connection gets the seed framing at once, with no hello grace. */
  legacyOnly?: boolean;
  /**
   * Refuse legacy clients (set when a token is required and --allow-legacy is not given); a function
   * is asked with the client's address.
   */
  refuseLegacy?: boolean | ((address: string) => boolean);
  native?: NativeHandshake;
  /** Per-address connection cap shared with the other transports (--max-clients-per-ip). */
  limiter?: IpLimiter;
  /** Serve TLS (both protocols, inside the encryption) with this certificate and key. */
  tls?: TlsCredentials | null;
}

/** Events of the TCP transport. */
export interface TcpServerEvents {
  client: [sub: Subscriber];
  /** A connection served the seed framing sent a (late) native hello and now speaks the native protocol. */
  upgraded: [address: string];
  refused: [address: string, reason: string];
  error: [err: Error];
}

/** Connections in their hello phase always let in, so a full server can still answer with a reason. */
const MIN_HANDSHAKES = 64;
/** Without a room callback (tests, embedders): the cap before crowds were served. */
const DEFAULT_ROOM = 256;
const noop = (): void => {};
/** When, within the hello grace, a silent connection's source is started (see #onConnection). */
const WARM_AFTER_MS = 50;
/**
 * How long a server that refuses seed clients (a token is required, no allowLegacy) waits for a
 * native hello: a seed client is refused 1 s after connecting instead of at the hello grace.
 */
const REFUSING_GRACE_MS = 1000;

/**
 * The TCP transport on one port for both protocols: a client that says nothing within the grace
 * period gets the seed's framing; one that opens with the native magic is handed to the native handshake.
 */
export class TcpServer extends SafeEmitter<TcpServerEvents> {
  readonly #opts: TcpServerOptions;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #handshakes = 0;

  constructor(opts: TcpServerOptions) {
    super();
    this.#opts = opts;
    this.#server = createListener(
      opts.tls ?? null,
      (socket) => this.#onConnection(socket),
      (raw) => this.#onRaw(raw),
    );
  }

  /** Binds and listens; rejects with ERR_PORT_IN_USE / ERR_LISTEN. */
  async listen(): Promise<net.AddressInfo> {
    const { host, port } = this.#opts;
    const label = this.#opts.legacyOnly
      ? { protocol: 'seed TCP', option: '--legacy-port' }
      : { protocol: 'TCP', option: '--port' };
    const address = await bindServer(this.#server, host, port, label);
    this.#server.on('error', (err) => this.emit('error', err));
    return address;
  }

  /** The bound address. */
  address(): net.AddressInfo {
    return this.#server.address() as net.AddressInfo;
  }

  /** Every TCP connection, before any TLS handshake: tracked for close(), counted per address. */
  #onRaw(raw: net.Socket): void {
    this.#sockets.add(raw);
    raw.on('close', () => this.#sockets.delete(raw));
    raw.on('error', () => raw.destroy());
    if (this.#opts.limiter && !this.#opts.limiter.admit(raw)) {
      this.emit('refused', peerAddress(raw), 'too many connections from this address (--max-clients-per-ip)');
      raw.destroy();
    }
  }

  #onConnection(socket: net.Socket): void {
    const address = peerAddress(socket);
    socket.on('error', () => socket.destroy());
    if (this.#opts.legacyOnly) {
      this.#startLegacy(socket, address);
      return;
    }
    // A crowd arriving at once (a reconnect storm) spends its hello grace here: refused only when it
    // could not be served anyway. Idle floods are bounded by this room and the per-address cap.
    const target = this.#opts.target();
    const room = Math.max(MIN_HANDSHAKES, target?.room() ?? DEFAULT_ROOM);
    if (this.#handshakes >= room) {
      this.emit('refused', address, 'server full (connections in handshake fill every place)');
      socket.destroy();
      return;
    }
    this.#handshakes++;
    // Start the source during the hello grace, so its first frame decodes while we wait instead of
    // after. Not at once: a native client says hello within ~40 ms (framecast's auto mode waits that
    // long), and ffmpeg's start (~60 ms of CPU) in that window made late hellos, taken for seed
    // clients, frequent on a loaded 2-core machine; a client still silent by then is likely a seed client.
    const w = this.#opts.warmOnAccept ?? true;
    const warm = (typeof w === 'function' ? w() : w) && !this.#refusesLegacy(socket.remoteAddress ?? '');
    let releaseWarm = noop;
    let warmTimer: NodeJS.Timeout | null =
      warm && target
        ? setTimeout(
            () => {
              warmTimer = null;
              if (!socket.destroyed) releaseWarm = target.hub.warm();
            },
            Math.min(WARM_AFTER_MS, this.#opts.helloGraceMs / 2),
          )
        : null;
    const release = (): void => {
      if (warmTimer) clearTimeout(warmTimer);
      warmTimer = null;
      releaseWarm();
    };
    socket.once('close', release);
    let decided = false;
    const decide = (first: Buffer | null): void => {
      if (decided) return;
      decided = true;
      this.#handshakes--;
      clearTimeout(timer);
      socket.off('data', onData);
      if (first === null) {
        this.#startLegacy(socket, address);
        release();
      } else if (first.length === 0) {
        socket.destroy(); // gone before saying anything
        release();
      } else if (agreesWithMagic(first)) {
        socket.pause();
        this.#startNative(socket, address, first, release);
      } else {
        this.emit('refused', address, 'unknown protocol');
        socket.end();
        release();
      }
    };
    const onData = (chunk: Buffer): void => decide(chunk);
    socket.on('data', onData);
    socket.once('close', () => decide(Buffer.alloc(0)));
    // Timers run before I/O in an event-loop turn: after a busy stretch the grace timer and a hello
    // that arrived in time are both pending. setImmediate lets the hello be read first, so a loaded
    // server does not mistake a native client for a seed client.
    // A server that refuses seed clients has nothing to gain from deciding early: it waits longer for
    // a native hello, so a client whose hello a loaded machine delayed is not taken for a seed client.
    const grace = this.#refusesLegacy(socket.remoteAddress ?? '')
      ? Math.max(this.#opts.helloGraceMs, REFUSING_GRACE_MS)
      : this.#opts.helloGraceMs;
    const timer = setTimeout(() => setImmediate(() => decide(null)), grace);
  }

  #refusesLegacy(address: string): boolean {
    const r = this.#opts.refuseLegacy ?? false;
    return typeof r === 'function' ? r(address) : r;
  }

  #startLegacy(socket: net.Socket, address: string): void {
    if (socket.destroyed) return;
    if (this.#refusesLegacy(socket.remoteAddress ?? '')) {
      this.emit('refused', address, 'legacy client refused: a token is required');
      socket.destroy();
      return;
    }
    const target = this.#opts.target();
    if (!target) {
      this.emit('refused', address, 'no stream to serve');
      socket.destroy();
      return;
    }
    const { hub } = target;
    const sub = new StreamSubscriber({
      stream: socket,
      protocol: 'legacy',
      address,
      streamName: target.name,
      encode: legacyWire,
      lossless: target.lossless,
      onDrained: () => hub.drained(),
    });
    // A seed client never writes: anything it sends is ignored rather than buffered, except a native
    // hello that came after the grace (a loaded machine delayed it), which is answered (see #upgrade).
    if (this.#opts.legacyOnly || !this.#opts.native) socket.on('data', noop);
    else watchLateHello(socket, (hello) => this.#upgrade(socket, address, sub, hub, hello));
    this.#attach(socket, sub, address, hub);
  }

  /**
   * Turns a seed-framed connection native: the seed subscriber holds (the frame it is writing
   * completes, later ones wait in its queue) while the native handshake answers the hello, so the
   * client reads the native preamble where the next seed length prefix would be (a prefix under the
   * frame cap can never spell the magic); then the native subscriber takes over what it held.
   */
  #upgrade(socket: net.Socket, address: string, sub: StreamSubscriber, hub: Hub, hello: Buffer): void {
    sub.hold();
    this.emit('upgraded', address);
    this.#startNative(socket, address, hello, noop, { sub, hub });
  }

  #startNative(
    socket: net.Socket,
    address: string,
    first: Buffer,
    release: () => void,
    upgrading: { sub: StreamSubscriber; hub: Hub } | null = null,
  ): void {
    const native = this.#opts.native;
    if (!native) {
      this.emit('refused', address, 'native protocol not enabled');
      socket.destroy();
      release();
      return;
    }
    // An upgraded connection: once the native subscriber is ready it takes the seed one's place on the
    // same stream and size (the frames it held first, none of its frames twice); else the seed one leaves.
    const settle = (r: { sub: Subscriber; hub: Hub } | null): void => {
      if (!upgrading) {
        if (r) this.#attach(socket, r.sub, address, r.hub);
        return;
      }
      const { sub: old, hub } = upgrading;
      const left = old.release();
      if (r && r.hub === hub && !socket.destroyed) {
        r.sub.takeOver?.(left);
        admitInPlace(hub, old, r.sub, this.#admissible(socket), this.#report(address));
        return;
      }
      hub.leave(old);
      if (r) this.#attach(socket, r.sub, address, r.hub);
    };
    native(socket, first, upgrading !== null)
      .then(settle, (err: unknown) => {
        settle(null);
        this.emit('refused', address, err instanceof Error ? err.message : String(err));
        socket.destroy();
      })
      .finally(release);
  }

  #attach(socket: net.Socket, sub: Subscriber, address: string, hub: Hub): void {
    if (socket.destroyed) return;
    admit(hub, sub, this.#admissible(socket), this.#report(address));
  }

  #admissible(socket: net.Socket): Admissible {
    return { onceClosed: (fn) => socket.once('close', fn), refuse: () => socket.destroy() };
  }

  #report(address: string): AdmissionReport {
    return {
      onClient: (s) => this.emit('client', s),
      onRefused: (_a, r) => this.emit('refused', address, r),
    };
  }

  /** Stops accepting and destroys remaining sockets (call after the hub ended its clients). Idempotent. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) {
        resolve();
        return;
      }
      this.#server.close(() => resolve());
      const timer = setTimeout(() => {
        for (const s of this.#sockets) s.destroy();
      }, 1500);
      timer.unref();
      this.#server.once('close', () => clearTimeout(timer));
    });
  }
}
