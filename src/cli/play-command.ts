import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseServerAddresses, formatAddress, type ServerAddress } from '../client/address.js';
import { SessionClient } from '../client/session-client.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../client/legacy-parser.js';
import { ReceiveStats, type ReceiveSummary } from '../client/receive-stats.js';
import { UsageError, type FramecastError } from '../errors.js';
import { nowMs } from '../util/clock.js';
import { choiceOption, intOption, numberOption, withUsage, sizeOption } from './args.js';
import { onKeys } from './output.js';
import {
  PLAY_EXTRA_HELP,
  PLAY_EXTRA_OPTIONS,
  humanExtras,
  openOutputs,
  parsePlayExtras,
  sessionSummary,
} from './play-outputs.js';
import { defaultView, startBrowserView } from './browser-view.js';
import { PLAY_JSON_HELP, PLAY_JSON_OPTIONS, annotationLine, frameLine, parsePlayJson } from './play-json.js';

/** Help text of `framecast play`. */
export const PLAY_HELP = `Usage: framecast play [HOST[:PORT]] [options]

Receives a framecast (or seed servidor.py) stream and shows its FPS. Default 127.0.0.1:9999.

Options:
  --view MODE          browser: show the stream on a local web page with its FPS (the default
                       with a display and a terminal); none: receive without displaying
  --viewer-port N      port of the local page, 0-65535 (default 0: any free port)
  --no-open            print the page's URL instead of opening a browser
  --frames N           stop after N frames
  --duration S         stop after S seconds
  --json               print the summary as one JSON line on stdout
  --max-frame-size SZ  largest frame accepted, e.g. 16MiB (default 16MiB)
  --connect-timeout S  give up connecting after S seconds (default 10)
  --idle-timeout S     after the first frame, give up when nothing arrives for S seconds
                       (default 10; 0 waits forever)
  --ca FILE            for tls:// addresses: trust the CA certificate (PEM) in FILE, e.g. the
                       server's self-signed certificate (default: the system's trust store)
${PLAY_EXTRA_HELP}
${PLAY_JSON_HELP}
  -h, --help           show this help

Keys (in a terminal): q quits.`;

function humanSummary(s: ReceiveSummary, where: string): string {
  const size = s.width ? `${s.width}x${s.height}` : 'no frames';
  const lat = s.latencyMs ? `, latency p50 ${s.latencyMs.p50} ms p99 ${s.latencyMs.p99} ms` : '';
  return (
    `received ${s.frames} frames (${size}) from ${where} in ${s.seconds.toFixed(1)} s: ` +
    `${s.fps.toFixed(1)} fps, ${(s.bytes / 1024).toFixed(0)} kB, ${s.badFrames} bad frames${lat} [${s.protocol}]`
  );
}

function hint(err: FramecastError): string {
  if (err.code === 'ERR_AUTH') return ' (give the token with --token or FRAMECAST_TOKEN)';
  if (err.code === 'ERR_CONNECTION' && /before sending any frame/.test(err.message))
    return ' (a server started with --token refuses seed-framed clients; try --protocol auto with --token)';
  return '';
}

function readCaFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new UsageError(`cannot read --ca ${path}: ${why}`);
  }
}

/** `framecast play`: returns the exit code. */
export async function playCommand(argv: string[]): Promise<number> {
  const { values, positionals } = withUsage('play', () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        view: { type: 'string' },
        'viewer-port': { type: 'string' },
        'no-open': { type: 'boolean' },
        frames: { type: 'string' },
        duration: { type: 'string' },
        json: { type: 'boolean' },
        'max-frame-size': { type: 'string' },
        'connect-timeout': { type: 'string' },
        'idle-timeout': { type: 'string' },
        ca: { type: 'string' },
        ...PLAY_EXTRA_OPTIONS,
        ...PLAY_JSON_OPTIONS,
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    process.stdout.write(PLAY_HELP + '\n');
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`play takes one address, got ${positionals.length}`);
  const addrs = parseServerAddresses(positionals[0]);
  const addr = addrs[0] as ServerAddress;
  if (values.ca !== undefined && !addr.tls)
    throw new UsageError(`--ca is for tls:// addresses (got ${positionals[0] ?? 'the default address'})`);
  const ca = values.ca === undefined ? null : readCaFile(values.ca);
  const view = choiceOption(
    'view',
    values.view,
    defaultView((values.json || values['json-frames']) ?? false),
    ['browser', 'none'] as const,
  );
  const viewerPort = intOption('viewer-port', values['viewer-port'], 0, 0, 65535);
  const maxFrames = intOption('frames', values.frames, 0, 1, Number.MAX_SAFE_INTEGER);
  const duration = numberOption('duration', values.duration, null, 0.01, 31_536_000);
  const maxFrameBytes = sizeOption(
    'max-frame-size',
    values['max-frame-size'],
    DEFAULT_MAX_FRAME_BYTES,
    64,
    1024 ** 3,
  );
  const connectTimeout = numberOption('connect-timeout', values['connect-timeout'], 10, 0.1, 3600) as number;
  const idleTimeout = numberOption('idle-timeout', values['idle-timeout'], 10, 0, 86_400) as number;
  const json = values.json ?? false;
  const where = formatAddress(addr.host, addr.port);

  const extras = parsePlayExtras(values);
  const perFrame = parsePlayJson(values, extras.protocol);
  let onOutputError: (err: FramecastError) => void = () => {};
  const outputs = openOutputs(values, (err) => onOutputError(err));
  const client = new SessionClient(addrs, {
    maxFrameBytes,
    connectTimeoutMs: connectTimeout * 1000,
    idleTimeoutMs: idleTimeout * 1000,
    protocol: extras.protocol,
    token: extras.token,
    playback: extras.playback,
    thenLive: extras.thenLive,
    view: extras.view,
    ca,
    reconnect: extras.reconnectTimeoutMs === null ? null : { giveUpAfterMs: extras.reconnectTimeoutMs },
    meta: perFrame.meta,
    annotations: perFrame.annotations,
  });
  const stats = new ReceiveStats();
  const tty = process.stderr.isTTY === true && !json && !perFrame.frames;
  const browser =
    view === 'browser'
      ? await startBrowserView({
          port: viewerPort,
          open: !values['no-open'],
          from: where,
          print: (line) => process.stderr.write(line + '\n'),
        })
      : null;

  return new Promise<number>((resolve) => {
    let finished = false;
    let durationTimer: NodeJS.Timeout | null = null;
    const statusTimer = tty
      ? setInterval(() => {
          const lat = stats.latency();
          process.stderr.write(
            `\rFPS: ${stats.fps.toFixed(0)} | ${stats.kBps.toFixed(0)} kB/s | frames ${stats.frames}` +
              (stats.badFrames ? ` | bad ${stats.badFrames}` : '') +
              (lat
                ? ` | latency p50 ${lat.p50.toFixed(1)} ms p95 ${lat.p95.toFixed(1)} ms p99 ${lat.p99.toFixed(1)} ms`
                : '') +
              '\x1b[K',
          );
        }, 250)
      : null;

    const finish = (code: number, err: FramecastError | null): void => {
      if (finished) return;
      finished = true;
      client.close();
      void browser?.close(err ? 'source-error' : 'stopped');
      releaseKeys();
      if (statusTimer) {
        clearInterval(statusTimer);
        process.stderr.write('\r\x1b[K');
      }
      if (durationTimer) clearTimeout(durationTimer);
      const summary = stats.summary(client.protocol, code === 0 && !err ? undefined : nowMs());
      void outputs.close().then((written) => {
        const fields = { ...summary, ...sessionSummary(client), ...written };
        if (json)
          process.stdout.write(
            JSON.stringify(err ? { ...fields, error: { code: err.code, message: err.message } } : fields) +
              '\n',
          );
        else process.stderr.write(humanSummary(summary, where) + humanExtras(fields) + '\n');
        if (err) process.stderr.write(`framecast: ${err.message}${hint(err)}\n`);
        resolve(code);
      });
    };
    onOutputError = (err) => finish(1, err);

    const releaseKeys = onKeys({ q: () => finish(0, null), interrupt: () => finish(0, null) });
    process.once('SIGINT', () => finish(0, null));
    process.once('SIGTERM', () => finish(0, null));

    client.on('connect', () => {
      if (duration !== null) durationTimer = setTimeout(() => finish(0, null), duration * 1000);
    });
    client.on('frame', (f) => {
      stats.add(f.wireBytes, f.width, f.height, f.receivedAt, f.latencyMs);
      outputs.write(f.jpeg);
      if (perFrame.frames) process.stdout.write(frameLine(f, perFrame.meta));
      browser?.push(f);
      if (maxFrames > 0 && stats.frames >= maxFrames) finish(0, null);
    });
    client.on('annotation', (a) => process.stdout.write(annotationLine(a)));
    client.on('bad-frame', () => {
      stats.badFrames++;
    });
    client.on('status', (_code, _value, message) => process.stderr.write(`\rserver: ${message}\x1b[K\n`));
    client.on('reconnecting', (attempt, delayMs, reason) =>
      process.stderr.write(
        `\r${reason}; reconnecting in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt})\x1b[K\n`,
      ),
    );
    client.on('live', () => process.stderr.write('\rend of the recording: going on live\x1b[K\n'));
    client.on('reconnected', (gapMs) =>
      process.stderr.write(`\rreconnected after ${(gapMs / 1000).toFixed(1)} s\x1b[K\n`),
    );
    client.on('end', () => finish(0, null));
    client.on('error', (err) => finish(err.exitCode, err));
    client.connect();
  });
}
