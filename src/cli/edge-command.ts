import { parseArgs } from 'node:util';
import { loadEdgeConfig } from '../config/config-file.js';
import { edge } from '../app/edge.js';
import { MAX_LEGACY_OFFSET, parseLegacyPorts, type LegacyPorts } from '../app/edge-legacy-ports.js';
import { FORGET_AFTER_MS, MAX_STREAMS, STALE_MS } from '../bus/announcement.js';
import { busUrlForLog } from '../bus/bus.js';
import { UsageError } from '../errors.js';
import { checkStreamName } from '../streams/stream-options.js';
import { intOption, numberOption, withUsage } from './args.js';
import { BUS_ARGS, BUS_HELP, busOption, logBusState } from './bus-options.js';
import { httpOptions } from './http-options.js';
import { serverOptionsFromFile } from './serve-config.js';
import { Logger } from './output.js';
import { serveTokenOptions } from './token-options.js';
import { DEFAULT_MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE } from '../util/jpeg.js';

/** Help text of `framecast edge`. */
export const EDGE_HELP = `Usage: framecast edge --bus nats://HOST:PORT [options]

Serves the streams of origin servers (framecast serve ... --bus) from a NATS frame bus: no ffmpeg,
no source. Every stream an origin announces (or those given with --streams) is served with every
transport (seed and native TCP, MJPEG, snapshot, WebSocket, pages, /stats, /metrics, /healthz);
an origin runs a stream's source only while some edge has viewers for it.

Options:
  --bus URL            the NATS server(s): nats://HOST:PORT[,nats://...]
${BUS_HELP}
  --config FILE        bus: and the server-wide settings (host, port, httpPort, token, tls,
                       ...) from a YAML file (docs/CONFIG.md; its streams are ignored); options
                       given here override it
  --streams a,b        serve these streams only (default: every announced stream)
  --host ADDR          address to bind (default 127.0.0.1)
  --port N             TCP port (default 9999; 0 picks a free port)
  --http-port N|off    HTTP port (default 8080, or a free port when busy)
  --token T            clients must present token T (default: $FRAMECAST_TOKEN)
  --allow-legacy       with a token, still serve seed-framed clients
  --legacy-ports same|off|+N
                       seed-only ports of streams whose origin has a legacyPort: the same port
                       numbers (default), none, or the origin's port + N (N 0-${MAX_LEGACY_OFFSET}: several
                       edges, or an edge beside its origin, on one host); a port that cannot be
                       opened is logged and its stream is served without it
  --forget-after S     drop a silent origin's streams after S seconds, 6.5-86400 (default 60;
                       its viewers see no signal meanwhile, and a restarted origin resumes them)
  --max-clients N      viewers served at once per stream, 1-100000 (default 100, as serve); others wait
  --max-clients-per-ip N  connections at once from one address (default 0 = no cap)
  --max-image-pixels N largest image (width x height, from its JPEG header) taken from the bus,
                       256-268435456 (default 16777216 = 4096x4096); larger frames are dropped
  --json               log one JSON object per line
  -h, --help           show this help`;

/** `framecast edge`: runs until SIGINT/SIGTERM; returns the exit code. */
export async function edgeCommand(argv: string[]): Promise<number> {
  const { values } = withUsage('edge', () =>
    parseArgs({
      args: argv,
      strict: true,
      options: {
        ...BUS_ARGS,
        config: { type: 'string' },
        streams: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        'http-port': { type: 'string' },
        token: { type: 'string' },
        'allow-legacy': { type: 'boolean' },
        'legacy-ports': { type: 'string' },
        'max-clients': { type: 'string' },
        'forget-after': { type: 'string' },
        'max-clients-per-ip': { type: 'string' },
        'max-image-pixels': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    process.stdout.write(EDGE_HELP + '\n');
    return 0;
  }
  const file = values.config === undefined ? null : loadEdgeConfig(values.config);
  const bus = busOption(values, file?.bus ?? null);
  if (!bus) throw new UsageError('edge needs --bus nats://HOST:PORT (or bus: in the --config file)');
  const streams = streamList(values.streams);
  const legacyPorts = legacyPortsOption(values['legacy-ports']);
  const log = new Logger(values.json ?? false);
  const tokens = serveTokenOptions(values.token, values['allow-legacy']);
  const http = httpOptions(values['http-port'], undefined);
  // Only what was typed on the command line overrides the file ($FRAMECAST_TOKEN only fills a gap).
  const typed = (k: keyof typeof values): boolean => values[k] !== undefined;
  const f = file?.server ?? {};
  const cli = {
    ...(typed('host') || f.host === undefined ? { host: values.host ?? '127.0.0.1' } : {}),
    ...(typed('port') || f.port === undefined
      ? { port: intOption('port', values.port, 9999, 0, 65535) }
      : {}),
    maxClients: intOption('max-clients', values['max-clients'], 100, 1, 100_000),
    maxImagePixels: intOption(
      'max-image-pixels',
      values['max-image-pixels'],
      DEFAULT_MAX_IMAGE_PIXELS,
      16 * 16,
      MAX_IMAGE_SIDE * MAX_IMAGE_SIDE,
    ),
    ...(typed('max-clients-per-ip') || f.maxClientsPerIp === undefined
      ? { maxClientsPerIp: intOption('max-clients-per-ip', values['max-clients-per-ip'], 0, 0, 100_000) }
      : {}),
    ...(typed('http-port') || f.httpPort === undefined
      ? { httpPort: http.httpPort, httpPortFallback: http.httpPortFallback }
      : {}),
    ...(tokens.token !== null && (typed('token') || f.token == null) ? { token: tokens.token } : {}),
    ...(typed('allow-legacy') ? { allowLegacy: true } : {}),
  };
  const e = await edge({
    // Conflicting read tokens, caps reached, a failed change: one line each.
    onNotice: (n) =>
      log.event('bus-notice', n.message, { kind: n.kind, stream: n.stream, message: n.message }),
    ...(file ? serverOptionsFromFile({ ...f, adminToken: undefined }) : {}),
    ...cli,
    bus,
    streams,
    legacyPorts,
    forgetAfterMs: Math.round(
      (numberOption(
        'forget-after',
        values['forget-after'],
        FORGET_AFTER_MS / 1000,
        STALE_MS / 1000,
        86_400,
      ) ?? 0) * 1000,
    ),
  });
  const s = e.server;
  log.event(
    'listening',
    `framecast edge: serving ${s.streams
      .list()
      .map((x) => x.name)
      .join(
        ', ',
      )} from ${busUrlForLog(bus.url)} on ${s.options.tls ? 'tls' : 'tcp'}://${s.options.host}:${s.address().port}` +
      (s.httpAddress() ? ` and http://${s.options.host}:${s.httpAddress()?.port}/` : ''),
    {
      port: s.address().port,
      httpPort: s.httpAddress()?.port ?? null,
      streams: s.streams.list().map((x) => x.name),
    },
  );
  s.on('client', (c) =>
    log.event('client', `client ${c.address} connected (${c.protocol})`, { address: c.address }),
  );
  logBusState(s, log);
  // A stream replaced by one of the same name (its read token or seed port changed) is a restart:
  // the registry says 'removed' then 'added' for it.
  const restarted = new Set<string>();
  s.streams.on('removed', (x) => {
    const now = s.streams.get(x.name);
    if (now !== null) {
      restarted.add(x.name);
      const port = now.config.legacyPort;
      const token = JSON.stringify(now.config.readTokenDigest) !== JSON.stringify(x.config.readTokenDigest);
      const why = [
        ...(token || port === x.config.legacyPort ? ['its read token changed on the bus'] : []),
        ...(port !== x.config.legacyPort ? [`its seed TCP port is now ${port ?? 'none'}`] : []),
      ].join(', ');
      log.event('stream', `stream ${x.name}: ${why}; restarted`, { stream: x.name, change: 'restarted' });
    } else
      log.event('stream', `stream ${x.name} no longer announced: removed`, {
        stream: x.name,
        change: 'removed',
      });
  });
  s.streams.on('added', (x) => {
    if (restarted.delete(x.name)) return;
    log.event('stream', `stream ${x.name} announced on the bus`, { stream: x.name, change: 'added' });
  });
  return new Promise((resolve) => {
    const stop = (): void => {
      log.event('shutdown', 'shutting down', {});
      const force = setTimeout(() => resolve(0), 2000);
      force.unref();
      void e.close().then(() => {
        clearTimeout(force);
        resolve(0);
      });
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

function legacyPortsOption(value: string | undefined): LegacyPorts {
  if (value === undefined) return 'same';
  const v = parseLegacyPorts(value);
  if (v === null)
    throw new UsageError(`--legacy-ports must be same, off or +N (N 0-${MAX_LEGACY_OFFSET}), got '${value}'`);
  return v;
}

function streamList(value: string | undefined): string[] | null {
  if (value === undefined) return null;
  const names = value.split(',');
  if (names.length > MAX_STREAMS)
    throw new UsageError(`--streams: an edge serves at most ${MAX_STREAMS} streams, got ${names.length}`);
  try {
    return names.map((s) => checkStreamName(s.trim()));
  } catch (err) {
    throw new UsageError(`--streams: ${(err as Error).message}`);
  }
}
