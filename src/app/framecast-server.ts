import type { BusState } from '../bus/bus-connect.js';
import type { AddressInfo } from 'node:net';
import { SafeEmitter } from '../util/safe-emitter.js';
import type { Hub, TransmissionEnd } from '../hub/hub.js';
import type { SourceDescription, SourceStatus } from '../hub/producer.js';
import type { Subscriber, SubscriberStats } from '../hub/subscriber.js';
import type { FfmpegLocation } from '../source/ffmpeg-path.js';
import type { SourceSpec } from '../source/source-spec.js';
import { TcpServer } from '../transports/tcp/tcp-server.js';
import { FramecastError } from '../errors.js';
import type { Frame } from '../hub/frame.js';
import type { HttpServer } from '../transports/http/http-server.js';
import { watchStalls } from '../hub/stall-watch.js';
import type { ResolvedServeOptions } from './serve-options.js';
import { openStream, type ExecContext, type Stream } from '../streams/stream.js';
import type { StreamRegistry } from '../streams/streams.js';
import type { ResolvedStreamConfig } from '../streams/stream-options.js';
import { checkStreams, diffStreams } from '../streams/stream-plan.js';
import type { IpLimiter } from '../transports/ip-limiter.js';
import type { Recordings } from '../record/recordings.js';
import type { SegmentInfo } from '../record/segment-name.js';
import type { TlsCredentials } from '../transports/tls-config.js';
import type { Access } from '../access/access.js';

/** Events of a running server, for logging. `stream` names the stream an event belongs to. */
export interface ServerEvents {
  'transmission-start': [source: SourceDescription, stream: string];
  'transmission-end': [reason: TransmissionEnd, err: FramecastError | null, stream: string];
  client: [sub: Subscriber];
  waiting: [sub: Subscriber, position: number];
  left: [stats: SubscriberStats];
  refused: [address: string, reason: string];
  /** A connection served the seed framing sent a late native hello and now speaks the native protocol. */
  upgraded: [address: string];
  /** A live source lost or regained its input (the transmission goes on; clients see NO SIGNAL). */
  'source-status': [status: SourceStatus, stream: string];
  /** A client that took no data for longer than the stall timeout was cut. */
  kicked: [stats: SubscriberStats, stalledMs: number];
  /** The dashboard's "End transmission" button (`stopped`: a transmission was running). */
  'web-stop': [address: string, stopped: boolean];
  frame: [frame: Frame, stream: string];
  /** A listener (of this server or of a stream's hub) threw; it was isolated and delivery went on. */
  'listener-error': [event: string, err: unknown];
  /** The frame bus (origin or edge) was lost (NATS reconnects by itself) or is back. */
  bus: [state: BusState, server: string];
  /** A stream added or changed while running was served without its legacy port (in use, ...). */
  'legacy-failed': [stream: string, port: number, err: unknown];
  /** Recording a stream failed (disk full, not writable): live viewing goes on; it resumes by itself. */
  'record-failed': [stream: string, err: Error];
  'record-resumed': [stream: string];
  /** A recording segment was completed. */
  'record-segment': [stream: string, info: SegmentInfo];
  /** Retention deleted a segment. */
  'record-deleted': [stream: string, info: SegmentInfo, why: string];
  /** A recording folder was repaired at load, or retention could not delete. */
  'record-note': [stream: string, message: string];
  /** A hook failed, timed out, or had events dropped (one line, never a secret). */
  hook: [line: string];
  /** An `exec:` stream's command ended (stopped, or exited and is restarted). */
  exec: [stream: string, line: string];
}

/** What a server keeps to open listeners for streams added while it runs. */
export interface ServerEnv {
  limiter: IpLimiter;
  tls: TlsCredentials | null;
  token: string | null;
  /** The server's one access decision (a legacyPort's seed clients are anonymous requests). */
  access: Access;
  /** What `exec:` streams' commands are given (their environment). */
  exec?: ExecContext;
}

/** A change to the set of streams: the whole new set, and how to write it down once it applies. */
export interface StreamChange {
  streams: readonly ResolvedStreamConfig[];
  /** Writes the change down (the config file) after every check passed; a failure undoes the change. */
  persist?: () => Promise<void>;
}

/** What a change to the set of streams did. */
export interface StreamsApplied {
  added: string[];
  restarted: string[];
  /** Streams whose recording settings changed (not restarted). */
  retuned: string[];
  removed: string[];
}

/**
 * A running framecast server: its streams plus the transports that serve them. Created by `serve()`.
 * Streams can be added, changed and removed while it runs (applyStreams): viewers of the streams
 * that do not change notice nothing.
 */
export class FramecastServer extends SafeEmitter<ServerEvents> {
  readonly options: ResolvedServeOptions;
  readonly streams: StreamRegistry;
  readonly startedAt = Date.now();
  readonly #tcp: TcpServer;
  readonly #env: ServerEnv;
  #http: HttpServer | null = null;
  /** Recording and playback (null only for servers made without it). */
  recordings: Recordings | null = null;
  /** What starting up repaired (recording segments cut by a crash), for the log. */
  readonly startupNotes: { stream: string; message: string }[] = [];
  readonly #legacy = new Map<string, TcpServer>();
  readonly #unwatch = new Map<Stream, () => void>();
  /** Stream changes run one at a time (a reload and an API call may overlap). */
  #changes: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | null = null;
  readonly #cleanups: (() => Promise<void> | void)[] = [];

  /** @internal use serve() */
  constructor(options: ResolvedServeOptions, streams: StreamRegistry, tcp: TcpServer, env: ServerEnv) {
    super();
    this.options = options;
    this.streams = streams;
    this.#tcp = tcp;
    this.#env = env;
    for (const s of streams.list()) this.#watch(s);
    streams.on('added', (s) => this.#watch(s));
    streams.on('removed', (s) => {
      this.#unwatch.get(s)?.();
      this.#unwatch.delete(s);
    });
    this.#forward(tcp);
  }

  #forward(t: TcpServer): void {
    t.on('client', (s) => this.emit('client', s));
    t.on('refused', (a, r) => this.emit('refused', a, r));
    t.on('upgraded', (a) => this.emit('upgraded', a));
  }

  /** @internal something to close with the server (the bus), before its streams. */
  onClose(cleanup: () => Promise<void> | void): void {
    this.#cleanups.push(cleanup);
  }

  /** @internal the HTTP transport, once it listens. */
  attachHttp(http: HttpServer): void {
    this.#http = http;
    http.on('client', (s) => this.emit('client', s));
    http.on('refused', (a, r) => this.emit('refused', a, r));
    http.on('stop', (a, stopped) => this.emit('web-stop', a, stopped));
  }

  /** @internal recording and playback of every stream. */
  attachRecordings(r: Recordings): void {
    this.recordings = r;
    r.on('failed', (s, e) => this.emit('record-failed', s, e));
    r.on('resumed', (s) => this.emit('record-resumed', s));
    r.on('segment', (s, i) => this.emit('record-segment', s, i));
    r.on('deleted', (s, i, why) => this.emit('record-deleted', s, i, why));
    r.on('note', (s, m) => this.emit('record-note', s, m));
    r.on('listener-error', (e, err) => this.emit('listener-error', e, err));
    this.onClose(() => r.close());
  }

  /** @internal opens the seed-only port of a stream that has one. */
  async openLegacy(stream: Stream): Promise<void> {
    const port = stream.config.legacyPort;
    if (port === null) return;
    const name = stream.name;
    const server = new TcpServer({
      limiter: this.#env.limiter,
      tls: this.#env.tls,
      host: this.options.host,
      port,
      target: () => this.streams.get(name),
      helloGraceMs: this.options.helloGraceMs,
      legacyOnly: true,
      // Seed clients carry no credentials: what anonymous requests from their address may read.
      refuseLegacy: (address) => {
        const s = this.streams.get(name);
        return (
          s === null ||
          (!this.options.allowLegacy && !this.#env.access.anonymousMay('read', s, name, address))
        );
      },
    });
    await server.listen();
    this.#legacy.set(name, server);
    this.#forward(server);
  }

  async #closeLegacy(name: string): Promise<void> {
    const server = this.#legacy.get(name);
    this.#legacy.delete(name);
    await server?.close();
  }

  #watch(stream: Stream): void {
    const { hub, name } = stream;
    hub.on('transmission-start', (s) => this.emit('transmission-start', s, name));
    hub.on('transmission-end', (r, e) => this.emit('transmission-end', r, e, name));
    hub.on('waiting', (s, p) => this.emit('waiting', s, p));
    hub.on('left', (s) => this.emit('left', s));
    hub.on('frame', (f) => this.emit('frame', f, name));
    hub.on('source-status', (s) => this.emit('source-status', s, name));
    hub.on('listener-error', (e, err) => this.emit('listener-error', e, err));
    stream.exec?.on('exit', (line) => this.emit('exec', name, line));
    this.#unwatch.set(
      stream,
      watchStalls(hub, this.options.stallTimeoutMs, (sub, ms) => this.emit('kicked', sub.stats(), ms)),
    );
  }

  /** The default stream (seed clients on the main port, un-prefixed HTTP paths). */
  get defaultStream(): Stream {
    return this.streams.default as Stream;
  }

  /** The default stream's hub. */
  get hub(): Hub {
    return this.defaultStream.hub;
  }

  /** The default stream's source, or null when its frames are published by the program. */
  get spec(): SourceSpec | null {
    return this.defaultStream.spec;
  }

  /** The ffmpeg in use, or null when frames are published by the program. */
  get ffmpeg(): FfmpegLocation | null {
    return this.streams.list().find((s) => s.ffmpeg)?.ffmpeg ?? null;
  }

  /** The HTTP address (MJPEG, WebSocket, pages), or null when HTTP is off. */
  httpAddress(): AddressInfo | null {
    return this.#http?.address() ?? null;
  }

  /** The TCP address the server listens on. */
  address(): AddressInfo {
    return this.#tcp.address();
  }

  /** The seed-only TCP address of a stream (default: the default stream), or null when it has none. */
  legacyAddress(stream?: string): AddressInfo | null {
    return this.#legacy.get(stream ?? this.defaultStream.name)?.address() ?? null;
  }

  /** Ends a stream's current transmission (the 'q' key: every stream): clients are closed cleanly. */
  stopTransmission(stream?: string): boolean {
    if (stream !== undefined) return this.streams.get(stream)?.hub.stopTransmission() ?? false;
    let stopped = false;
    for (const s of this.streams.list()) stopped = s.hub.stopTransmission() || stopped;
    return stopped;
  }

  /**
   * Makes the running streams match `next` (in order; the first existing stream stays the default):
   * new streams are opened, removed ones end cleanly (their viewers get END), changed ones restart,
   * and streams whose settings did not change are not touched.
   *
   * The one path of every change (API, reload, SIGHUP): check the whole set (checkStreams), open
   * every new or changed stream (its source checked against the allow-list), then `persist` (the
   * config file), and only then swap them in. A failure at any step rejects with the server, and
   * whatever `persist` writes, exactly as before. `next` may be a function, called in turn with
   * the other changes (a file is then read after the change before it was written).
   */
  applyStreams(
    next: readonly ResolvedStreamConfig[] | (() => StreamChange | Promise<StreamChange>),
  ): Promise<StreamsApplied> {
    const run = this.#changes.then(async () => {
      const change = typeof next === 'function' ? await next() : { streams: next };
      return this.#apply(change);
    });
    this.#changes = run.catch(() => undefined);
    return run;
  }

  async #apply({ streams: next, persist }: StreamChange): Promise<StreamsApplied> {
    if (this.#closing) throw new FramecastError('ERR_INVALID_STATE', 'the server is shutting down');
    checkStreams(next, {
      mainPort: this.address().port,
      host: this.options.host,
      token: this.#env.token,
      allowLegacy: this.options.allowLegacy,
      allowAnonymousPublish: this.options.allowAnonymousPublish,
    });
    const changes = diffStreams(
      this.streams.list().map((s) => s.config),
      next,
    );
    const policy = { paths: this.options.sourcePaths };
    const tries = await Promise.allSettled(
      [...changes.add, ...changes.restart].map((c) => openStream(c, undefined, policy, this.#env.exec)),
    );
    const opened = tries.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : []));
    try {
      const failed = tries.find((t): t is PromiseRejectedResult => t.status === 'rejected');
      if (failed) throw failed.reason;
      await persist?.();
    } catch (err) {
      // Nothing was swapped in: the streams opened for this change were never served.
      for (const s of opened) s.close('removed');
      throw err;
    }
    for (const config of changes.retune) this.streams.retune(config);
    for (const name of changes.remove) {
      this.streams.remove(name);
      await this.#closeLegacy(name);
    }
    for (const stream of opened) {
      const restart = this.streams.get(stream.name) !== null;
      if (restart) {
        await this.#closeLegacy(stream.name);
        this.streams.replace(stream);
      } else {
        this.streams.add(stream);
      }
      await this.openLegacy(stream).catch((err: unknown) => {
        const reason = err instanceof Error ? err.message : String(err);
        const port = stream.config.legacyPort ?? 0;
        this.emit('refused', `:${port}`, `stream ${stream.name}: its legacy port was not opened: ${reason}`);
        this.emit('legacy-failed', stream.name, port, err);
      });
    }
    return {
      added: changes.add.map((c) => c.name),
      restarted: changes.restart.map((c) => c.name),
      retuned: changes.retune.map((c) => c.name),
      removed: changes.remove,
    };
  }

  /** Stops accepting, closes every client after its frame in flight, stops ffmpeg. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#http?.setReady(false);
      for (const c of this.#cleanups.splice(0)) await Promise.resolve(c()).catch(() => undefined);
      for (const stop of this.#unwatch.values()) stop();
      this.streams.close();
      await Promise.all([
        this.#tcp.close(),
        ...[...this.#legacy.values()].map((t) => t.close()),
        this.#http?.close(),
      ]);
    })();
    return this.#closing;
  }
}
