import { parseArgs } from 'node:util';
import { parseServerAddress, formatAddress } from '../client/address.js';
import { RemotePublisher } from '../client/remote-publisher.js';
import { FramecastError, UsageError } from '../errors.js';
import type { Frame } from '../hub/frame.js';
import { resolveStreamConfig } from '../streams/stream-options.js';
import { sourceProducer } from '../streams/stream.js';
import { choiceOption, intOption, numberOption, withUsage } from './args.js';
import { Logger } from './output.js';
import { publishTokenOption } from './serve-config.js';
import { readMetaFile } from './meta-file.js';

/** Help text of `framecast publish`. */
export const PUBLISH_HELP = `Usage: framecast publish SOURCE HOST[:PORT]/NAME [options]

Reads SOURCE here (ffmpeg decodes and scales, libjpeg-turbo encodes) and pushes its frames into the
stream NAME of a framecast server whose source for it is 'publisher' (serve NAME=publisher). When
the server goes away it reconnects with backoff and goes on.

SOURCE    a video file, an http/rtsp URL, a webcam (/dev/video0, webcam:0, 0), or 'test'

Options:
  --width N            output width, aspect kept; 0 keeps the source width (default 800)
  --quality N          JPEG quality 1-100 (default 80)
  --encoder E          libjpeg (default) or ffmpeg
  --fps N              cap the frame rate (0.1-1000)
  --loop               restart a file at its end
  --no-pace            as fast as the server takes them (each frame waits for room; none dropped)
  --token T            the stream's publish token (default: $FRAMECAST_PUBLISH_TOKEN)
  --frames N / --duration S   stop early
  --no-reconnect       a lost server ends publish with exit code 1
  --standby            when the stream already has a publisher, wait (retrying with backoff)
                       until it is free and take over then; default: exit 1 with the reason
  --meta-file FILE     a JSON lines file: line N is the metadata of frame N (one JSON object;
                       an empty line: none), sent with it to viewers that ask (play --meta)
  --json               one JSON summary line on stdout: frames, accepted, dropped, bytes, seconds,
                       fps, reconnects
  -h, --help           show this help

Exit codes: 0 the source ended or the limit was reached, 1 runtime error, 2 usage error.`;

/** `framecast publish`: returns the exit code. */
export async function publishCommand(argv: string[]): Promise<number> {
  const { values, positionals } = withUsage('publish', () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        width: { type: 'string' },
        quality: { type: 'string' },
        encoder: { type: 'string' },
        fps: { type: 'string' },
        loop: { type: 'boolean' },
        'no-pace': { type: 'boolean' },
        token: { type: 'string' },
        frames: { type: 'string' },
        duration: { type: 'string' },
        'no-reconnect': { type: 'boolean' },
        standby: { type: 'boolean' },
        'meta-file': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    process.stdout.write(PUBLISH_HELP + '\n');
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError('publish takes SOURCE and HOST[:PORT]/NAME');
  const [source, target] = positionals as [string, string];
  const addr = parseServerAddress(target);
  const pace = !values['no-pace'];
  let config;
  try {
    config = resolveStreamConfig('publish', {
      source,
      width: intOption('width', values.width, 800, 0, 16384),
      quality: intOption('quality', values.quality, 80, 1, 100),
      encoder: choiceOption('encoder', values.encoder, 'libjpeg', ['libjpeg', 'ffmpeg'] as const),
      fps: numberOption('fps', values.fps, null, 0.1, 1000),
      loop: values.loop ?? false,
      pace,
    });
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`--${(err as { field?: string }).field ?? 'option'}: ${(err as Error).message}`);
  }
  const maxFrames = intOption('frames', values.frames, 0, 1, Number.MAX_SAFE_INTEGER);
  const duration = numberOption('duration', values.duration, null, 0.01, 31_536_000);
  const token = publishTokenOption(values.token);
  const metas = values['meta-file'] === undefined ? [] : readMetaFile(values['meta-file']);
  const log = new Logger(false, process.stderr);
  const local = await sourceProducer(config);
  const where = `${formatAddress(addr.host, addr.port)}/${addr.stream ?? 'default'}`;

  return new Promise<number>((resolve) => {
    const pub = new RemotePublisher(addr, {
      token,
      reconnect: values['no-reconnect'] ? false : true,
      standby: values.standby ?? false,
    });
    const producer = local.create();
    const started = performance.now();
    let frames = 0;
    let failure: FramecastError | null = null;
    let done = false;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      clearInterval(status);
      producer.stop();
      pub.close();
      const seconds = (performance.now() - started) / 1000;
      const c = pub.counts;
      const summary = {
        frames,
        accepted: c.accepted,
        dropped: c.dropped,
        bytes: c.bytes,
        seconds: Math.round(seconds * 1000) / 1000,
        fps: Math.round((c.accepted / Math.max(seconds, 1e-3)) * 10) / 10,
        reconnects: c.reconnects,
      };
      if (values.json) process.stdout.write(JSON.stringify(summary) + '\n');
      else
        log.event(
          'summary',
          `published ${c.accepted} of ${frames} frames to ${where} in ${seconds.toFixed(1)} s (${summary.fps} fps, ${Math.round(c.bytes / 1024)} kB, ${c.dropped} dropped, ${c.reconnects} reconnects)`,
        );
      if (failure) process.stderr.write(`framecast: ${failure.message}\n`);
      resolve(code);
    };
    pub.on('connected', () => log.event('connected', `publishing to ${where}`));
    pub.on('reconnecting', (attempt, delay, why) =>
      log.event(
        'reconnecting',
        `${why}; reconnecting in ${(delay / 1000).toFixed(2)} s (attempt ${attempt})`,
      ),
    );
    pub.on('error', (err) => {
      failure = err;
      finish(1);
    });
    // Without pace, the source waits for the server (no frame dropped); paced, a frame that finds
    // the window full is dropped (latest frame wins) and the source keeps its rate.
    const send = (f: Frame, meta: unknown): void => {
      try {
        pub.publish(f.jpeg, { capturedAt: f.capturedAt, meta });
      } catch (err) {
        // Metadata for a server that takes none: say so once and stop.
        failure = err as FramecastError;
        finish(1);
      }
    };
    const onFrame = (f: Frame): void => {
      if (done || (maxFrames > 0 && frames >= maxFrames)) return;
      const meta = metas[frames] ?? undefined;
      frames++;
      if (pace) send(f, meta);
      else {
        producer.pause();
        void pub.ready().then(
          () => {
            send(f, meta);
            producer.resume();
          },
          () => undefined,
        );
      }
      if (maxFrames > 0 && frames >= maxFrames) setTimeout(() => finish(0), 200);
    };
    producer.on('frame', onFrame);
    producer.on('end', () => setTimeout(() => finish(0), 200));
    producer.on('error', (err) => {
      failure = err;
      finish(1);
    });
    let last = { accepted: 0, bytes: 0, t: performance.now() };
    const status = setInterval(() => {
      const now = performance.now();
      const dt = (now - last.t) / 1000;
      const c = pub.counts;
      if (!values.json && pub.connected)
        log.event(
          'status',
          `FPS: ${((c.accepted - last.accepted) / dt).toFixed(1)} | ${((c.bytes - last.bytes) / 1024 / dt).toFixed(0)} kB/s | accepted ${c.accepted} | dropped ${c.dropped}`,
        );
      last = { accepted: c.accepted, bytes: c.bytes, t: now };
      if (duration !== null && (now - started) / 1000 >= duration) finish(0);
    }, 1000);
    const stop = (): void => finish(0);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    producer.start();
  });
}
