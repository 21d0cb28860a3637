/**
 * Push ingest: `framecast publish test` (its own process: ffmpeg + libjpeg, 800x450 at 30 fps) feeds
 * a publisher stream watched by 100 native viewers; the JPEGs are passed through. Beside it, the same
 * picture and audience with the server decoding and encoding the test pattern itself. Latency is
 * the publisher's capture to a viewer's receive (same host, same clock).
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { runFanout, type FanoutRow } from './fanout.js';
import { sleep, spawnWithFds, stop, treeCpuMs } from './lib/proc.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FRAMECAST = `${ROOT}bin/framecast`;

/** `framecast publish --json`'s summary line: the publisher's own counts over its whole run. */
export interface PublisherSummary {
  /** Frames its source produced, those the server's window took, and those dropped (window full). */
  frames: number;
  accepted: number;
  dropped: number;
  bytes: number;
  seconds: number;
  /** accepted / seconds. */
  fps: number;
  reconnects: number;
}

/** The ingest rows: passthrough (publisher) and re-encoded (the server's own source). */
export interface IngestRows {
  passthrough: FanoutRow;
  /** CPU of the publisher process and its ffmpeg over the run, in cores. */
  publisherCores: number;
  /** The publisher's own counts (from connecting to being stopped); absent in older results. */
  publisher?: PublisherSummary | null;
  reencoded: FanoutRow;
}

/** Runs both rows with `viewers` native viewers for `seconds`. */
export async function ingest(opts: {
  viewers: number;
  seconds: number;
  log: (s: string) => void;
}): Promise<IngestRows> {
  let publisherCores = 0;
  let publisher: PublisherSummary | null = null;
  const passthrough = await runFanout({
    viewers: opts.viewers,
    seconds: opts.seconds,
    sources: ['cam=publisher'],
    stream: 'cam',
    feed: async (port) => {
      const pub = spawnWithFds(process.execPath, [
        FRAMECAST,
        'publish',
        'test',
        `127.0.0.1:${port}/cam`,
        '--json',
      ]);
      // Its one JSON line comes when it is stopped (SIGTERM): frames, accepted, dropped.
      const lines = createInterface({ input: pub.stdout as NodeJS.ReadableStream });
      lines.on('line', (line) => {
        if (line.startsWith('{"frames"')) publisher = JSON.parse(line) as PublisherSummary;
      });
      const closed = new Promise<void>((r) => lines.once('close', r));
      pub.stderr?.resume();
      const t0 = performance.now();
      // Let the publisher connect before the viewers come.
      await new Promise((r) => setTimeout(r, 1500));
      return async () => {
        publisherCores = treeCpuMs(pub.pid as number) / (performance.now() - t0);
        await stop(pub);
        // The exit can come before readline has the last line.
        await Promise.race([closed, sleep(1000)]);
      };
    },
  });
  const pc = publisher as PublisherSummary | null;
  opts.log(
    `ingest passthrough, ${opts.viewers} viewers: min ${(passthrough.minFraction * 100).toFixed(1)}%, ` +
      `published ${passthrough.publishedFps ?? '-'} fps by the server; publisher ` +
      (pc ? `${pc.accepted} accepted, ${pc.dropped} dropped of ${pc.frames}` : 'summary missing') +
      `, server ${passthrough.serverCores.toFixed(2)} cores, latency p50/p99 ${passthrough.latencyMs?.p50}/${passthrough.latencyMs?.p99} ms`,
  );
  const reencoded = await runFanout({ viewers: opts.viewers, seconds: opts.seconds });
  opts.log(
    `same picture encoded by the server: server ${reencoded.serverCores.toFixed(2)} + ffmpeg ${reencoded.ffmpegCores.toFixed(2)} cores, latency p50/p99 ${reencoded.latencyMs?.p50}/${reencoded.latencyMs?.p99} ms`,
  );
  return { passthrough, publisherCores, publisher: pc, reencoded };
}
