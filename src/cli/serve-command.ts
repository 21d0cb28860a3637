import { existsSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_STREAM, PUBLISHER_SOURCE, splitNamedSource } from '../streams/stream-options.js';
import { encoderImplementation } from '../encode/frame-pipeline.js';
import { nativeJpegUnavailableReason } from '../encode/native-jpeg.js';
import { networkInterfaces } from 'node:os';
import { formatAddress } from '../client/address.js';
import { UsageError } from '../errors.js';
import { serve, type FramecastServer, type ServeOptions } from '../app/serve.js';
import { loadConfig } from '../config/config-file.js';
import type { StreamConfig } from '../streams/stream-options.js';
import { adminTokenOption, optionsFromFile, publishTokenOption, watchConfig } from './serve-config.js';
import type { Hub } from '../hub/hub.js';
import { readTlsFiles, type TlsCredentials } from '../transports/tls-config.js';
import { choiceOption, intOption, numberOption, withUsage } from './args.js';
import { Logger, onKeys } from './output.js';
import { SERVE_TOKEN_HELP, serveTokenOptions } from './token-options.js';
import { httpLines, httpOptions } from './http-options.js';
import { BUS_ARGS, BUS_HELP, busOption, logBusState } from './bus-options.js';
import { redactCredentials } from '../util/redact.js';
import { DEFAULT_MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE } from '../util/jpeg.js';

/** Help text of `framecast serve`. */
export const SERVE_HELP = `Usage: framecast serve [[NAME=]SOURCE ...] [options]

Streams each SOURCE to every client that connects, encoding each frame once: on TCP, the seed's
framing (length + base64 JPEG) or framecast's native protocol on the same port; on HTTP,
MJPEG, snapshots, WebSocket, a viewer page and a dashboard.

SOURCE    a video file, an http/rtsp URL, a webcam (/dev/video0, webcam:0, 0),
          'test' (moving test pattern, the default), or 'publisher': frames pushed by a
          remote publisher (framecast publish, HTTP POST .../publish), passed through as they come
NAME=     names the stream (letters, digits, _ . -; at most 64): clients watch it at
          HOST:PORT/NAME and http://HOST:HTTP_PORT/streams/NAME/. A source without a name is
          the stream 'default'. The first stream is the default stream: seed clients on the
          main port and the plain HTTP paths (/stream.mjpg, /ws, ...) serve it.

Options:
  --host ADDR          address to bind (default 127.0.0.1; 0.0.0.0 serves the network)
  --port N             TCP port, 0-65535 (default 9999; 0 picks a free port)
  --width N            output width, aspect kept; 0 keeps the source width (default 800)
  --quality N          JPEG quality 1-100, libjpeg/OpenCV scale (default 80)
  --encoder E          JPEG encoder: libjpeg (default, in-process libjpeg-turbo) or ffmpeg
                       (ffmpeg's MJPEG encoder: faster, at least libjpeg's PSNR at each --quality)
  --no-pace            send as fast as the pipeline and clients allow, never dropping
                       (the seed's behaviour; default paces at the source's own rate)
  --fps N              cap the frame rate (0.1-1000)
  --loop               restart a file at its end
  --retry-delay S      a camera or URL that fails is retried after S seconds, doubling up to
                       30 s, while clients see NO SIGNAL (0-3600, default 1; 0 = do not retry)
  --max-clients N      clients served at once, 1-100000 (default 100); others wait in turn
  --publish-token T    the token remote publishers present to feed the first stream when its
                       SOURCE is publisher (default: $FRAMECAST_PUBLISH_TOKEN); viewers' tokens
                       never allow publishing
  --allow-anonymous-publish  let a server bound beyond loopback take publishers without a token
  --max-image-pixels N largest image (width x height, from its JPEG header) a publisher or a
                       passthrough source may send, 256-268435456 (default 16777216 = 4096x4096);
                       larger ones are refused before anyone decodes them
  --legacy-port N      also serve seed clients on TCP port N (0 = any free port): the seed
                       framing only, first frame at once (no 100 ms wait for a native hello)
  --passthrough        the source's frames already are JPEG (an MJPEG camera or file): send
                       them untouched, no scale, no encode (--width/--quality do not apply)
  --preload            keep the source running with nobody watching, so the first client gets
                       a frame at once (default: the source runs while someone watches)
  --max-clients-per-ip N  connections at once from one IP address, TCP and HTTP together
                       (0-100000, default 0 = no cap; set it when serving a network)
  --stall-timeout S    cut a client that takes no data for S seconds (0-86400, default 60;
                       0 = never): a peer that stops reading would hold its place forever
  --tls-cert FILE      serve TLS: TCP becomes tls:// (both protocols), HTTP becomes HTTPS/WSS;
  --tls-key FILE       the certificate chain and its private key, PEM (give both)
${SERVE_TOKEN_HELP}
  --http-port N|off    HTTP for browsers and players: viewer (/), /dashboard, /stream.mjpg,
                       /snapshot.jpg, /ws, /stats, /metrics (default 8080, or a free port when
                       8080 is busy; 0 picks a free port; off disables HTTP)
  --allow-origin O     let pages from origin O ('*' = any) call the HTTP endpoints (CORS; default none)
  --config FILE        streams and settings from a YAML file (docs/CONFIG.md); options given
                       here override it. SIGHUP or a change to the file reloads its streams
  --admin-token T      allow PUT/DELETE /api/streams/NAME with this token (default:
                       $FRAMECAST_ADMIN_TOKEN); with --config, changes are written to the file
  --source-path DIR    a directory file sources may come from (repeat for several); default:
                       the working directory, the config file's and each SOURCE file's own
  --bus URL            also be an origin on a NATS frame bus (nats://HOST:PORT): announce the
                       streams there and publish a stream's frames while edges watch it
${BUS_HELP}
  --json               log one JSON object per line
  -h, --help           show this help

Keys (in a terminal): q ends the current transmission; Ctrl-C stops the server.`;

function lanAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && a.family === 'IPv4') out.push(a.address);
  }
  return out;
}

/** `framecast serve`: runs until SIGINT/SIGTERM; returns the exit code. */
export async function serveCommand(argv: string[]): Promise<number> {
  const { values, positionals } = withUsage('serve', () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        width: { type: 'string' },
        quality: { type: 'string' },
        encoder: { type: 'string' },
        'no-pace': { type: 'boolean' },
        fps: { type: 'string' },
        loop: { type: 'boolean' },
        'retry-delay': { type: 'string' },
        'max-clients': { type: 'string' },
        'max-clients-per-ip': { type: 'string' },
        'legacy-port': { type: 'string' },
        'publish-token': { type: 'string' },
        'allow-anonymous-publish': { type: 'boolean' },
        'max-image-pixels': { type: 'string' },
        preload: { type: 'boolean' },
        passthrough: { type: 'boolean' },
        'tls-cert': { type: 'string' },
        'stall-timeout': { type: 'string' },
        'tls-key': { type: 'string' },
        token: { type: 'string' },
        'allow-legacy': { type: 'boolean' },
        'http-port': { type: 'string' },
        'allow-origin': { type: 'string' },
        json: { type: 'boolean' },
        config: { type: 'string' },
        ...BUS_ARGS,
        'admin-token': { type: 'string' },
        'source-path': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    process.stdout.write(SERVE_HELP + '\n');
    return 0;
  }
  if (values.config !== undefined && positionals.length > 0)
    throw new UsageError('give the streams in --config FILE or as SOURCE arguments, not both');
  const streams = streamArgs(positionals);
  const width = intOption('width', values.width, 800, 0, 16384);
  if (width !== 0 && width < 16)
    throw new UsageError(`--width must be 0 or from 16 to 16384, got '${values.width}'`);
  const legacyPort =
    values['legacy-port'] === undefined ? null : intOption('legacy-port', values['legacy-port'], 0, 0, 65535);
  const single = streams.length === 1 && streams[0]?.name === DEFAULT_STREAM;
  const opts = {
    source: single ? (streams[0]?.source ?? 'test') : 'test',
    ...(!single ? { streams: streams.map((st, i) => (i === 0 ? { ...st, legacyPort } : st)) } : {}),
    host: values.host ?? '127.0.0.1',
    port: intOption('port', values.port, 9999, 0, 65535),
    width,
    quality: intOption('quality', values.quality, 80, 1, 100),
    encoder: choiceOption('encoder', values.encoder, 'libjpeg', ['libjpeg', 'ffmpeg'] as const),
    pace: !values['no-pace'],
    fps: numberOption('fps', values.fps, null, 0.1, 1000),
    loop: values.loop ?? false,
    retryDelayMs: retryDelayOption(values['retry-delay']),
    maxClients: intOption('max-clients', values['max-clients'], 100, 1, 100_000),
    maxClientsPerIp: intOption('max-clients-per-ip', values['max-clients-per-ip'], 0, 0, 100_000),
    legacyPort:
      values['legacy-port'] === undefined
        ? null
        : intOption('legacy-port', values['legacy-port'], 0, 0, 65535),
    preload: values.preload ?? false,
    passthrough: values.passthrough ?? false,
    maxImagePixels: intOption(
      'max-image-pixels',
      values['max-image-pixels'],
      DEFAULT_MAX_IMAGE_PIXELS,
      16 * 16,
      MAX_IMAGE_SIDE * MAX_IMAGE_SIDE,
    ),
    tls: tlsOption(values['tls-cert'], values['tls-key']),
    stallTimeoutMs: stallTimeoutOption(values['stall-timeout']),
    ...serveTokenOptions(values.token, values['allow-legacy']),
    ...httpOptions(values['http-port'], values['allow-origin']),
  };
  if (opts.legacyPort !== null && opts.token !== null && !opts.allowLegacy)
    throw new UsageError(
      '--legacy-port serves seed clients, which cannot present a token: add --allow-legacy',
    );
  const adminToken = adminTokenOption(values['admin-token']);
  const publishToken = publishTokenOption(values['publish-token']);
  const firstPublisher = (single ? opts.source : streams[0]?.source) === PUBLISHER_SOURCE;
  if (publishToken !== null && !firstPublisher)
    throw new UsageError(
      '--publish-token applies to a first stream whose SOURCE is publisher (e.g. cam=publisher)',
    );
  let serveOpts: ServeOptions = {
    ...opts,
    adminToken,
    allowAnonymousPublish: values['allow-anonymous-publish'] ?? false,
    ...(publishToken !== null
      ? single
        ? { streams: [{ name: DEFAULT_STREAM, source: PUBLISHER_SOURCE, legacyPort, publishToken }] }
        : { streams: (opts.streams ?? []).map((st, i) => (i === 0 ? { ...st, publishToken } : st)) }
      : {}),
  };
  let streamFlags: Omit<StreamConfig, 'source'> = {};
  const configPath = values.config;
  const config = configPath === undefined ? null : loadConfig(configPath);
  if (config !== null) {
    // Only what was typed on the command line overrides the file.
    const typed = <K extends keyof typeof values>(k: K): boolean => values[k] !== undefined;
    const given: ServeOptions = {
      ...(typed('host') ? { host: opts.host } : {}),
      ...(typed('port') ? { port: opts.port } : {}),
      ...(typed('http-port') || config.server.httpPort === undefined
        ? { httpPort: opts.httpPort, httpPortFallback: opts.httpPortFallback }
        : {}),
      ...(opts.token !== null && (typed('token') || config.server.token == null)
        ? { token: opts.token }
        : {}),
      ...(typed('allow-legacy') ? { allowLegacy: true } : {}),
      ...(typed('allow-anonymous-publish') ? { allowAnonymousPublish: true } : {}),
      ...(typed('allow-origin') ? { allowOrigin: opts.allowOrigin } : {}),
      ...(typed('max-clients-per-ip') ? { maxClientsPerIp: opts.maxClientsPerIp } : {}),
      ...(typed('stall-timeout') ? { stallTimeoutMs: opts.stallTimeoutMs } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
      ...(adminToken !== null && (typed('admin-token') || config.server.adminToken == null)
        ? { adminToken }
        : {}),
    };
    streamFlags = {
      ...(typed('width') ? { width: opts.width } : {}),
      ...(typed('quality') ? { quality: opts.quality } : {}),
      ...(typed('encoder') ? { encoder: opts.encoder } : {}),
      ...(typed('no-pace') ? { pace: false } : {}),
      ...(typed('fps') ? { fps: opts.fps } : {}),
      ...(typed('loop') ? { loop: true } : {}),
      ...(typed('retry-delay') ? { retryDelayMs: opts.retryDelayMs } : {}),
      ...(typed('max-clients') ? { maxClients: opts.maxClients } : {}),
      ...(typed('preload') ? { preload: true } : {}),
      ...(typed('passthrough') ? { passthrough: true } : {}),
      ...(typed('max-image-pixels') ? { maxImagePixels: opts.maxImagePixels } : {}),
    };
    serveOpts = optionsFromFile(config, given, streamFlags);
  }
  const bus = busOption(values, config?.bus ?? null);
  if (bus !== null) serveOpts = { ...serveOpts, bus };
  const sourcePaths = values['source-path'];
  if (sourcePaths !== undefined) {
    for (const d of sourcePaths)
      if (!existsSync(d) || !statSync(d).isDirectory())
        throw new UsageError(`--source-path ${d}: not a directory`);
    serveOpts = { ...serveOpts, sourcePaths };
  }
  const log = new Logger(values.json ?? false);
  const server = await serve(serveOpts).catch((err: unknown) => {
    // A bad value (in the file, the streams it gives, or the options) is a usage error: one line,
    // naming the file when there is one, never an internal error with a stack trace.
    if (err instanceof RangeError)
      throw new UsageError(configPath !== undefined ? `${configPath}: ${err.message}` : err.message);
    throw err;
  });
  const unwatch = configPath !== undefined ? watchConfig(server, configPath, streamFlags, log) : () => {};
  // Signal handlers go in before the 'listening' line: a supervisor may stop us as soon as it reads it.
  const done = runUntilSignal(server, log);
  reportStart(server, log);
  const code = await done;
  unwatch();
  return code;
}

/** `[NAME=]SOURCE ...` as streams, in order; a name given twice, or two unnamed sources, is a usage error. */
function streamArgs(positionals: string[]): { name: string; source: string }[] {
  const out: { name: string; source: string }[] = [];
  for (const arg of positionals.length > 0 ? positionals : ['test']) {
    const { name, source } = splitNamedSource(arg, existsSync);
    const n = name ?? DEFAULT_STREAM;
    if (source.trim() === '') throw new UsageError(`stream ${n}: no SOURCE after '${n}='`);
    if (out.some((s) => s.name === n))
      throw new UsageError(
        name === null
          ? `more than one SOURCE without a name: name them, e.g. cam1=${arg}`
          : `stream name ${n} is given twice`,
      );
    out.push({ name: n, source });
  }
  return out;
}

function retryDelayOption(value: string | undefined): number {
  const s = numberOption('retry-delay', value, 1, 0, 3600) as number;
  if (s > 0 && s < 0.1)
    throw new UsageError(`--retry-delay must be 0 or from 0.1 to 3600 seconds, got '${value}'`);
  return Math.round(s * 1000);
}

function stallTimeoutOption(value: string | undefined): number {
  const s = numberOption('stall-timeout', value, 60, 0, 86_400) as number;
  // Under a second would cut healthy clients on any hiccup.
  if (s > 0 && s < 1)
    throw new UsageError(`--stall-timeout must be 0 or from 1 to 86400 seconds, got '${value}'`);
  return Math.round(s * 1000);
}

function tlsOption(cert: string | undefined, key: string | undefined): TlsCredentials | null {
  if (cert === undefined && key === undefined) return null;
  if (cert === undefined || key === undefined)
    throw new UsageError(
      `--tls-cert and --tls-key go together (got only --${cert ? 'tls-cert' : 'tls-key'})`,
    );
  return readTlsFiles(cert, key);
}

function reportStart(server: FramecastServer, log: Logger): void {
  const { port } = server.address();
  const host = server.options.host;
  if (server.ffmpeg) {
    log.event('ffmpeg', `ffmpeg: ${server.ffmpeg.path} (from ${server.ffmpeg.origin})`, { ...server.ffmpeg });
    const implementation = encoderImplementation(server.options.encoder);
    const why = server.options.encoder === 'libjpeg' ? nativeJpegUnavailableReason() : null;
    log.event('encoder', `encoder: ${implementation}${why ? ` (native encoder not used: ${why})` : ''}`, {
      implementation,
      ...(why ? { nativeUnavailable: why } : {}),
    });
  }
  const hosts = host === '0.0.0.0' || host === '::' ? ['127.0.0.1', ...lanAddresses()] : [host];
  const o = server.options;
  const scheme = o.tls ? 'tls' : 'tcp';
  const urls = hosts.map((h) => (o.tls ? 'tls://' : '') + formatAddress(h, port));
  const httpPort = server.httpAddress()?.port ?? null;
  const list = server.streams.list();
  const what =
    list.length === 1 && list[0]?.name === 'default'
      ? server.spec?.kind === 'test'
        ? 'the test pattern'
        : (server.spec?.name ?? 'published frames')
      : `${list.length} stream${list.length === 1 ? '' : 's'} (${list.map((s) => `${s.name}: ${s.spec?.kind === 'test' ? 'test pattern' : (s.spec?.name ?? 'published frames')}`).join(', ')})`;
  log.event(
    'listening',
    `framecast: serving ${what} on ${scheme}://${formatAddress(host, port)}` +
      ` (width ${o.width || 'source'}, quality ${o.quality}${o.encoder === 'ffmpeg' ? ', ffmpeg encoder' : ''}, ${o.pace ? 'paced' : 'no pace'}${o.fps ? `, max ${o.fps} fps` : ''}${o.loop ? ', loop' : ''}, max ${o.maxClients} clients${o.tokenRequired ? `, token required${o.allowLegacy ? ', seed clients allowed without it' : ''}` : ''})\n` +
      urls
        .map((u) =>
          o.tls
            ? `  connect with: framecast play ${u}   (add --ca CERT unless the certificate is publicly trusted)`
            : `  connect with: framecast play ${u}   (or the seed's cliente.py)`,
        )
        .join('\n') +
      (server.legacyAddress()
        ? `\n  seed clients only: ${scheme}://${formatAddress(host, server.legacyAddress()?.port ?? 0)} (first frame at once)`
        : '') +
      (httpPort === null
        ? ''
        : '\n' +
          httpLines(hosts, httpPort, o.httpPort, o.tokenRequired)
            .map((l) => (o.tls ? l.replaceAll('http://', 'https://') : l))
            .join('\n')),
    {
      host,
      port,
      httpPort,
      legacyPort: server.legacyAddress()?.port ?? null,
      streams: list.map((st) => ({
        name: st.name,
        source: st.spec?.name ?? null,
        legacyPort: server.legacyAddress(st.name)?.port ?? null,
      })),
      addresses: urls,
      source: server.spec?.name ?? null,
      // The options hold the source as given: a camera URL's password must not reach the log.
      options: { ...o, source: redactCredentials(o.source) },
    },
  );
}

function runUntilSignal(server: FramecastServer, log: Logger): Promise<number> {
  return new Promise((resolve) => {
    const many = server.streams.size > 1;
    const tag = (stream: string): string => (many ? `[${stream}] ` : '');
    server.on('transmission-start', (s, stream) =>
      log.event('transmission-start', `${tag(stream)}transmission started: ${s.name}`, { source: s, stream }),
    );
    server.on('transmission-end', (reason, err, stream) =>
      log.event(
        'transmission-end',
        `${tag(stream)}transmission ended (${reason})${err ? `: ${err.message}` : ''}`,
        { reason, error: err ? { code: err.code, message: err.message } : null, stream },
      ),
    );
    server.on('client', (s) => {
      const stream = s.stats().stream ?? 'default';
      log.event('client', `${tag(stream)}client ${s.address} connected (${s.protocol})`, {
        id: s.id,
        address: s.address,
        protocol: s.protocol,
        stream,
      });
    });
    server.on('waiting', (s, p) =>
      log.event('waiting', `client ${s.address} waits for a place (#${p})`, {
        id: s.id,
        address: s.address,
        position: p,
      }),
    );
    server.on('left', (st) =>
      log.event(
        'left',
        `client ${st.address} left: ${st.framesSent} frames, ${Math.round(st.bytesSent / 1024)} kB, ${st.drops} dropped`,
        { ...st },
      ),
    );
    server.on('refused', (a, r) =>
      log.event('refused', `client ${a} refused: ${r}`, { address: a, reason: r }),
    );
    server.on('web-stop', (a, stopped) =>
      log.event(
        'stop',
        stopped
          ? `transmission stopped from the dashboard (${a}); waiting for the next client`
          : `dashboard ${a} asked to stop, but nothing was being transmitted`,
        { address: a, stopped, from: 'http' },
      ),
    );
    server.on('kicked', (st, ms) =>
      log.event('kicked', `client ${st.address} cut: it took no data for ${(ms / 1000).toFixed(1)} s`, {
        ...st,
        stalledMs: Math.round(ms),
      }),
    );
    logBusState(server, log);
    server.on('source-status', (st, stream) =>
      log.event(
        'source-status',
        tag(stream) +
          (st.state === 'no-signal'
            ? `source lost (${st.lastError ?? 'unknown error'}); retry ${st.retries + 1} in ${Math.max(0, ((st.nextRetryAt ?? Date.now()) - Date.now()) / 1000).toFixed(1)} s`
            : `source ${st.state}`),
        { ...st, stream },
      ),
    );

    // The status line adds up every stream.
    const hubs = (): Hub[] => server.streams.list().map((st) => st.hub);
    const framesIn = (): number => hubs().reduce((n, h) => n + h.totals.framesIn, 0);
    let last = { frames: framesIn(), bytes: 0, drops: 0, t: Date.now() };
    const sentBytes = (): { bytes: number; drops: number } => {
      let bytes = 0;
      let drops = 0;
      for (const c of hubs().flatMap((h) => h.clients)) {
        const s = c.stats();
        bytes += s.bytesSent;
        drops += s.drops;
      }
      return { bytes, drops };
    };
    const status = setInterval(() => {
      const now = Date.now();
      const clients = hubs().reduce((n, h) => n + h.clientCount, 0);
      const { bytes, drops } = sentBytes();
      const frames = framesIn();
      const dt = (now - last.t) / 1000;
      const fps = (frames - last.frames) / dt;
      const kBps = Math.max(0, bytes - last.bytes) / 1024 / dt;
      const newDrops = Math.max(0, drops - last.drops);
      last = { frames, bytes, drops, t: now };
      if (clients === 0) return;
      const waiting = hubs().reduce((n, h) => n + h.waitingCount, 0);
      log.event(
        'status',
        `FPS: ${fps.toFixed(1)} | clients ${clients}${waiting ? ` (+${waiting} waiting)` : ''} | ${kBps.toFixed(0)} kB/s | drops ${newDrops}`,
        { fps: Math.round(fps * 10) / 10, clients, waiting, kBps: Math.round(kBps), drops: newDrops },
      );
    }, 1000);

    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      clearInterval(status);
      releaseKeys();
      log.event('shutdown', `shutting down (${signal})`, { signal });
      const force = setTimeout(() => resolve(0), 2000);
      force.unref();
      void server.close().then(() => {
        clearTimeout(force);
        resolve(0);
      });
    };
    const releaseKeys = onKeys({
      q: () => {
        if (server.stopTransmission())
          log.event('stop', "transmission stopped ('q'); waiting for the next client", {});
      },
      interrupt: () => stop('SIGINT'),
    });
    // `on`, not `once`: a second signal must not kill us by default and orphan ffmpeg; the 2 s
    // force timer already bounds the shutdown.
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}
