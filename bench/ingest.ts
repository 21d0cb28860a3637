/**
 * Push ingest: `framecast publish test` (its own process: ffmpeg + libjpeg, 800x450 at 30 fps) feeds
 * a publisher stream watched by 100 native viewers; the JPEGs are passed through. Beside it, the same
 * picture and audience with the server decoding and encoding the test pattern itself. Latency is
 * the publisher's capture to a viewer's receive (same host, same clock).
 */
import { fileURLToPath } from 'node:url';
import { runFanout, type FanoutRow } from './fanout.js';
import { spawnWithFds, stop, treeCpuMs } from './lib/proc.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FRAMECAST = `${ROOT}bin/framecast`;

/** The ingest rows: passthrough (publisher) and re-encoded (the server's own source). */
export interface IngestRows {
  passthrough: FanoutRow;
  /** CPU of the publisher process and its ffmpeg over the run, in cores. */
  publisherCores: number;
  reencoded: FanoutRow;
}

/** Runs both rows with `viewers` native viewers for `seconds`. */
export async function ingest(opts: {
  viewers: number;
  seconds: number;
  log: (s: string) => void;
}): Promise<IngestRows> {
  let publisherCores = 0;
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
      pub.stdout?.resume();
      pub.stderr?.resume();
      const t0 = performance.now();
      // Let the publisher connect before the viewers come.
      await new Promise((r) => setTimeout(r, 1500));
      return async () => {
        publisherCores = treeCpuMs(pub.pid as number) / (performance.now() - t0);
        await stop(pub);
      };
    },
  });
  opts.log(
    `ingest passthrough, ${opts.viewers} viewers: min ${(passthrough.minFraction * 100).toFixed(1)}%, server ${passthrough.serverCores.toFixed(2)} cores, latency p50/p99 ${passthrough.latencyMs?.p50}/${passthrough.latencyMs?.p99} ms`,
  );
  const reencoded = await runFanout({ viewers: opts.viewers, seconds: opts.seconds });
  opts.log(
    `same picture encoded by the server: server ${reencoded.serverCores.toFixed(2)} + ffmpeg ${reencoded.ffmpegCores.toFixed(2)} cores, latency p50/p99 ${reencoded.latencyMs?.p50}/${reencoded.latencyMs?.p99} ms`,
  );
  return { passthrough, publisherCores, reencoded };
}
