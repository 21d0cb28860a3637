import { FramecastServer } from './framecast-server.js';
import { createStreamApi } from './stream-api.js';
import { tokenProblem } from '../util/token.js';
import { createAccess } from '../access/access-setup.js';
import { TcpServer } from '../transports/tcp/tcp-server.js';
import { createNativeHandshake } from '../transports/tcp/native-handshake.js';
import { HttpServer } from '../transports/http/http-server.js';
import { IpLimiter } from '../transports/ip-limiter.js';
import { checkTlsCredentials } from '../transports/tls-config.js';
import { resolveServeOptions, type ServeOptions } from './serve-options.js';
import { openStream } from '../streams/stream.js';
import { StreamRegistry } from '../streams/streams.js';
import { checkStreams } from '../streams/stream-plan.js';
import { planStreams } from './serve-plan.js';
import { connectBus, Subjects, watchBus, type BusOptions } from '../bus/bus.js';
import type { NatsConnection } from '@nats-io/transport-node';
import { BusOrigin } from '../bus/origin.js';
import { checkRecordDir, Recordings } from '../record/recordings.js';
import { FramecastError } from '../errors.js';
import { checkedHooks, startHooks } from './serve-hooks.js';
import { registerHookMetrics } from '../hooks/hook-metrics.js';
import { execEnv } from './exec-env.js';
import type { ExecContext } from '../streams/stream.js';

export { resolveServeOptions, type ResolvedServeOptions, type ServeOptions } from './serve-options.js';
export { FramecastServer, type ServerEvents, type StreamsApplied } from './framecast-server.js';

export { checkPublishTokens } from '../streams/stream-plan.js';

/**
 * Starts a server: checks every stream's source (a missing or non-video file fails here, before
 * listening), then listens. Each source starts when its first client arrives.
 */
/** Connects to the bus an origin publishes on, if it has one. */
async function busOf(
  opts: BusOptions | null | undefined,
): Promise<{ nc: NatsConnection; subjects: Subjects; name: string } | null> {
  if (!opts) return null;
  const subjects = new Subjects(opts.prefix);
  const name = opts.name ?? `origin-${process.pid}`;
  return { nc: await connectBus({ ...opts, name }), subjects, name };
}

export async function serve(options: ServeOptions = {}): Promise<FramecastServer> {
  const opts = resolveServeOptions(options);
  const tlsCreds = options.tls ?? null;
  if (tlsCreds) checkTlsCredentials(tlsCreds);
  const token = options.token ?? null;
  const problem = token === null ? null : tokenProblem(token);
  if (problem) throw new RangeError(`token: ${problem}`);
  const adminProblem = options.adminToken ? tokenProblem(options.adminToken) : null;
  if (adminProblem) throw new RangeError(`adminToken: ${adminProblem}`);
  const access = createAccess({
    token,
    adminToken: options.adminToken ?? null,
    auth: options.auth ?? null,
    // Failed logins are logged as refusals (the server exists by the time a client connects).
    log: (address, reason) => server?.emit('refused', address, reason),
  });
  // eslint-disable-next-line prefer-const
  let server: FramecastServer | undefined;
  const hooks = checkedHooks(options.hooks);
  // exec: streams' commands start on demand, once the server listens (`server` is set).
  const exec: ExecContext = { env: (c) => (server ? execEnv(server, c, token) : null) };
  const configs = planStreams(opts, options);
  checkStreams(configs, {
    mainPort: opts.port,
    host: opts.host,
    token,
    allowLegacy: opts.allowLegacy,
    allowAnonymousPublish: opts.allowAnonymousPublish,
  });
  const producer = options.producer ?? options.publisher?.producer;
  const registry = new StreamRegistry();
  const policy = { paths: opts.sourcePaths };
  const opened = await Promise.all(
    configs.map((c, i) => openStream(c, i === 0 ? producer : undefined, policy, exec)),
  );
  for (const s of opened) registry.add(s);
  const recordings = new Recordings(registry, {
    baseDir: opts.recordBaseDir,
    defaultPath: opts.recordPath ?? 'recordings',
    maxBytes: opts.recordMaxBytes,
  });
  try {
    // A recording folder that cannot be written is a usage error at start (at run time, a state).
    for (const s of registry.list())
      if (s.config.record)
        await checkRecordDir(recordings.dirOf(s)).catch((err: unknown) => {
          throw new FramecastError(
            'ERR_RECORD_PATH',
            `stream ${s.name}: cannot record in ${recordings.dirOf(s)}: ${(err as Error).message}`,
            { exitCode: 2 },
          );
        });
  } catch (err) {
    await recordings.close();
    registry.close();
    throw err;
  }
  // The bus first: a wrong password or certificate fails before any port opens.
  const bus = await busOf(options.bus).catch((err: unknown) => {
    registry.close();
    throw err;
  });
  const limiter = new IpLimiter(opts.maxClientsPerIp);
  const tcp = new TcpServer({
    limiter,
    tls: tlsCreds,
    host: opts.host,
    port: opts.port,
    target: () => registry.default,
    // With one stream, its source starts as a connection is accepted (ffmpeg's start overlaps the
    // hello grace); with several, a connection's stream is known only from its hello or silence.
    warmOnAccept: () => registry.size === 1 && registry.default?.spec != null,
    helloGraceMs: opts.helloGraceMs,
    refuseLegacy:
      options.refuseLegacy ??
      ((address: string): boolean => {
        const d = registry.default;
        // Seed clients present no credentials: they may read what anonymous requests may (what needs
        // no token), or anything with allowLegacy.
        return d === null || (!opts.allowLegacy && !access.anonymousMay('read', d, d.name, address));
      }),
    native:
      options.native ??
      createNativeHandshake({
        access,
        resolve: (n) => registry.get(n),
        helloTimeoutMs: opts.helloTimeoutMs,
        playback: (target, req) =>
          (options.recordingsFrom ?? recordings).playback(target.name, { ...req, end: Infinity }),
      }),
  });
  await tcp.listen().catch(async (err: unknown) => {
    registry.close();
    await bus?.nc.close();
    throw err;
  });
  server = new FramecastServer(opts, registry, tcp, { limiter, tls: tlsCreds, token, access, exec });
  server.attachRecordings(recordings);
  startHooks(server, hooks);
  server.startupNotes.push(...(await recordings.start()));
  try {
    for (const s of registry.list()) await server.openLegacy(s);
    if (opts.httpPort !== null) {
      const http = new HttpServer({
        limiter,
        tls: tlsCreds,
        headersTimeoutMs: opts.httpHeadersTimeoutMs,
        requestTimeoutMs: opts.httpRequestTimeoutMs,
        host: opts.host,
        port: opts.httpPort,
        portFallback: options.httpPortFallback ?? false,
        streams: registry,
        access,
        allowOrigin: opts.allowOrigin,
        startedAt: Date.now(),
        recordings: options.recordingsFrom ?? recordings,
        metrics: (r) => registerHookMetrics(r, hooks),
        api: createStreamApi(server, {
          configPath: options.configPath ?? null,
          streamOverrides: options.streamOverrides ?? {},
        }),
      });
      server.attachHttp(http);
      await http.listen();
      http.setReady(true);
    }
    if (bus) {
      const origin = new BusOrigin(server, bus.nc, bus.subjects, bus.name, options.bus?.secret ?? null);
      const nc = bus.nc;
      watchBus(nc, (state, at) => server.emit('bus', state, at));
      server.onClose(async () => {
        origin.close();
        await nc.close();
      });
    }
  } catch (err) {
    await server.close();
    if (bus && !bus.nc.isClosed()) await bus.nc.close();
    throw err;
  }
  return server;
}
