/**
 * Native publishers for the recording bench, in a process of their own: one connection per stream of
 * --streams, each sending the JPEGs of --jpegs (a folder of NNN.jpg, all --width x --height) in a
 * loop at --fps, on a schedule that does not drift, the streams' phases spread over a frame
 * interval. As the protocol's window allows: at most 2 frames unacknowledged, a frame whose time
 * comes with 2 in flight is skipped (counted). On SIGTERM it prints one JSON line of its counts.
 *
 *   tsx bench/lib/record-publisher.ts --port P --streams cam,cam2 --fps 30 --jpegs DIR --width 800 --height 450
 */
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NativeParser } from '../../src/protocol/native-parser.js';
import { HelloFlag, encodeHello, encodeNativeFrame } from '../../src/protocol/native.js';
import { nowMs } from '../../src/util/clock.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    streams: { type: 'string', default: 'cam' },
    fps: { type: 'string', default: '30' },
    jpegs: { type: 'string' },
    width: { type: 'string' },
    height: { type: 'string' },
  },
});
const fps = Number(values.fps);
const width = Number(values.width);
const height = Number(values.height);
const dir = values.jpegs as string;
const jpegs = readdirSync(dir)
  .filter((n) => n.endsWith('.jpg'))
  .sort()
  .map((n) => readFileSync(join(dir, n)));
if (!jpegs.length || !width || !height) throw new Error('record-publisher: --jpegs DIR --width W --height H');

/** What one stream's publisher did. */
interface Counts {
  stream: string;
  sent: number;
  acked: number;
  /** Frame times skipped because 2 frames were unacknowledged. */
  skipped: number;
  bytes: number;
}

const period = 1000 / fps;
const names = (values.streams ?? 'cam').split(',');
const counts: Counts[] = [];
const began = performance.now();

names.forEach((stream, k) => {
  const c: Counts = { stream, sent: 0, acked: 0, skipped: 0, bytes: 0 };
  counts.push(c);
  const socket = net.connect({ host: '127.0.0.1', port: Number(values.port), noDelay: true });
  const parser = new NativeParser(1 << 20);
  let inFlight = 0;
  socket.on('error', (err) => {
    process.stderr.write(`record-publisher ${stream}: ${err.message}\n`);
    process.exit(1);
  });
  socket.on('data', (chunk: Buffer) =>
    parser.push(chunk, (m) => {
      if (m.type === 'ack') {
        inFlight = Math.max(0, inFlight - 1);
        c.acked++;
      }
      if (m.type === 'error') {
        process.stderr.write(`record-publisher ${stream}: ${m.message}\n`);
        process.exit(1);
      }
    }),
  );
  socket.write(encodeHello('', nowMs(), 2, HelloFlag.Publish, stream));
  const started = performance.now() + (k * period) / names.length;
  let n = 0;
  const tick = (): void => {
    if (inFlight >= 2) c.skipped++;
    else {
      const t = nowMs();
      const jpeg = jpegs[n % jpegs.length] as Buffer;
      socket.write(encodeNativeFrame({ seq: n, width, height, capturedAt: t, encodedAt: t, jpeg }, t));
      inFlight++;
      c.sent++;
      c.bytes += jpeg.length;
    }
    n++;
    setTimeout(tick, Math.max(0, started + n * period - performance.now()));
  };
  setTimeout(tick, Math.max(0, started - performance.now()));
});

process.on('SIGTERM', () => {
  const seconds = (performance.now() - began) / 1000;
  process.stdout.write(JSON.stringify({ seconds, streams: counts }) + '\n', () => process.exit(0));
});
