/**
 * A native publisher for the metadata bench, in its own process: sends one JPEG at --fps to
 * `--port`/`--stream`, each frame preceded by a META of --meta-bytes bytes of JSON (0: no metadata),
 * as the protocol's window allows (it waits for ACKs, at most 2 frames in flight).
 *
 *   tsx bench/lib/meta-publisher.ts --port P --stream cam --fps 30 --meta-bytes 1024
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { NativeParser } from '../../src/protocol/native-parser.js';
import {
  HelloFlag,
  MetaKind,
  encodeHello,
  encodeMeta,
  encodeNativeFrame,
} from '../../src/protocol/native.js';
import { nowMs } from '../../src/util/clock.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    stream: { type: 'string', default: 'cam' },
    fps: { type: 'string', default: '30' },
    'meta-bytes': { type: 'string', default: '0' },
  },
});
const fps = Number(values.fps);
const metaBytes = Number(values['meta-bytes']);

/** A JSON object of exactly `n` bytes: a detector's objects, padded. */
function metaOf(n: number, seq: number): Buffer {
  const head = `{"seq":${seq},"objects":[{"box":[10,20,30,40],"label":"bottle","score":0.91}],"pad":"`;
  const tail = '"}';
  return Buffer.from(head + 'x'.repeat(Math.max(0, n - head.length - tail.length)) + tail);
}

const jpeg = await sharp({ create: { width: 800, height: 450, channels: 3, background: '#468' } })
  .jpeg({ quality: 80 })
  .toBuffer();
const socket = net.connect({ host: '127.0.0.1', port: Number(values.port), noDelay: true });
const parser = new NativeParser(1 << 20);
let inFlight = 0;
let seq = 0;
socket.on('error', () => process.exit(1));
socket.on('data', (c: Buffer) =>
  parser.push(c, (m) => {
    if (m.type === 'ack') inFlight = Math.max(0, inFlight - 1);
    if (m.type === 'error') {
      process.stderr.write(`meta-publisher: ${m.message}\n`);
      process.exit(1);
    }
  }),
);
socket.write(
  encodeHello(
    '',
    nowMs(),
    2,
    HelloFlag.Publish | (metaBytes > 0 ? HelloFlag.Meta : 0),
    values.stream ?? 'cam',
  ),
);
setInterval(() => {
  if (inFlight >= 2) return;
  const t = nowMs();
  if (metaBytes > 0)
    socket.write(
      encodeMeta({ seq, kind: MetaKind.Metadata, name: '', capturedAt: t, json: metaOf(metaBytes, seq) }),
    );
  socket.write(encodeNativeFrame({ seq, width: 800, height: 450, capturedAt: t, encodedAt: t, jpeg }, t));
  seq++;
  inFlight++;
}, 1000 / fps);
process.on('SIGTERM', () => process.exit(0));
