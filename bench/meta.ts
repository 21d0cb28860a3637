/**
 * Metadata and annotations: what 1 KiB of metadata per frame costs a server serving many native
 * viewers that asked for it (the same publisher and audience with and without, side by side), and the
 * annotation round trip (an analyzer receives frame N and annotates it; each of 100 viewers receives
 * the annotation) on loopback.
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { runFanout, type FanoutRow } from './fanout.js';
import { spawnWithFds, stop, waitForLine } from './lib/proc.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FRAMECAST = `${ROOT}bin/framecast`;

/** The annotation round trip at `viewers` viewers: ms from the analyzer's receipt to each viewer's. */
export interface AnnotationRtt {
  viewers: number;
  annotations: number;
  samples: number;
  p50: number | null;
  p99: number | null;
}

/** The metadata rows of latest.json. */
export interface MetaRows {
  metaBytes: number;
  without: FanoutRow;
  with: FanoutRow;
  rtt: AnnotationRtt | null;
}

async function costRow(viewers: number, seconds: number, metaBytes: number): Promise<FanoutRow> {
  return runFanout({
    viewers,
    seconds,
    sources: ['cam=publisher'],
    stream: 'cam',
    meta: true,
    serverArgs: ['--allow-anonymous-publish'],
    feed: async (port) => {
      const pub = spawnWithFds(
        process.execPath,
        [
          '--import',
          'tsx',
          'bench/lib/meta-publisher.ts',
          '--port',
          String(port),
          '--meta-bytes',
          String(metaBytes),
        ],
        undefined,
        ROOT,
      );
      pub.stdout?.resume();
      pub.stderr?.resume();
      await new Promise((r) => setTimeout(r, 1500));
      return () => stop(pub);
    },
  });
}

async function roundTrip(viewers: number, seconds: number): Promise<AnnotationRtt | null> {
  const server = spawnWithFds(process.execPath, [
    FRAMECAST,
    'serve',
    'test',
    ...['--width', '320', '--port', '0', '--http-port', 'off', '--max-clients', '100000', '--json'],
  ]);
  try {
    const m = await waitForLine(server, /"event":"listening".*?"port":(\d+)/, 20_000);
    server.stdout?.resume();
    const rtt = spawnWithFds(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/lib/annotation-rtt.ts',
        '--port',
        m[1] as string,
        '--viewers',
        String(viewers),
        '--seconds',
        String(seconds),
      ],
      undefined,
      ROOT,
    );
    rtt.stderr?.resume();
    const lines = createInterface({ input: rtt.stdout as NodeJS.ReadableStream });
    for await (const line of lines) if (line.startsWith('{')) return JSON.parse(line) as AnnotationRtt;
    return null;
  } finally {
    await stop(server);
  }
}

/** Both measures: `viewers` for the cost rows (1000 in a full run), 100 for the round trip. */
export async function metaRows(opts: {
  viewers: number;
  seconds: number;
  log: (s: string) => void;
}): Promise<MetaRows> {
  const metaBytes = 1024;
  const without = await costRow(opts.viewers, opts.seconds, 0);
  const withMeta = await costRow(opts.viewers, opts.seconds, metaBytes);
  opts.log(
    `metadata, ${opts.viewers} viewers: server ${without.serverCores.toFixed(2)} cores without, ` +
      `${withMeta.serverCores.toFixed(2)} with ${metaBytes} B per frame; ` +
      `min ${(without.minFraction * 100).toFixed(1)}% / ${(withMeta.minFraction * 100).toFixed(1)}% of frames`,
  );
  const rtt = await roundTrip(100, opts.seconds);
  opts.log(
    `annotation round trip, 100 viewers: p50/p99 ${rtt?.p50?.toFixed(2) ?? '-'}/${rtt?.p99?.toFixed(2) ?? '-'} ms over ${rtt?.samples ?? 0} receipts`,
  );
  return { metaBytes, without, with: withMeta, rtt };
}
