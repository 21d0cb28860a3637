/**
 * The annotation round trip, in its own process: one analyzer and --viewers viewers on one server.
 * The analyzer annotates each frame it receives at once; every viewer that asked for annotations
 * records, for each annotation, the time since the analyzer received that frame (same process, same
 * clock). Prints one JSON line when done: {"viewers","annotations","samples","p50","p99"}.
 *
 *   tsx bench/lib/annotation-rtt.ts --port P --viewers 100 --seconds 5
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { NativeParser, type NativeMessage } from '../../src/protocol/native-parser.js';
import { HelloFlag, MetaKind, encodeHello, encodeMeta } from '../../src/protocol/native.js';
import { nowMs } from '../../src/util/clock.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    viewers: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '5' },
  },
});
const port = Number(values.port);

function connect(flags: number, onMessage: (m: NativeMessage, s: net.Socket) => void): net.Socket {
  const s = net.connect({ host: '127.0.0.1', port, noDelay: true });
  const parser = new NativeParser(1 << 24);
  s.on('error', () => {});
  s.on('data', (c: Buffer) => parser.push(c, (m) => onMessage(m, s)));
  s.write(encodeHello('', nowMs(), undefined, flags));
  return s;
}

/** When the analyzer received each frame it annotated, by seq. */
const receivedAt = new Map<number, number>();
let measuring = false;
let annotations = 0;
const samples: number[] = [];
const sockets: net.Socket[] = [];
const json = Buffer.from('{"objects":[{"box":[10,20,30,40],"label":"car","score":0.8}]}');
sockets.push(
  connect(HelloFlag.Annotate, (m, s) => {
    if (m.type !== 'frame') return;
    receivedAt.set(m.seq, nowMs());
    if (receivedAt.size > 1000) receivedAt.delete(receivedAt.keys().next().value as number);
    s.write(encodeMeta({ seq: m.seq, kind: MetaKind.Annotation, name: 'bench', capturedAt: 0, json }));
    if (measuring) annotations++;
  }),
);
for (let i = 0; i < Number(values.viewers); i++)
  sockets.push(
    connect(HelloFlag.Annotations, (m) => {
      if (!measuring || m.type !== 'meta' || m.kind !== MetaKind.Annotation) return;
      const at = receivedAt.get(m.seq);
      if (at !== undefined) samples.push(nowMs() - at);
    }),
  );
setTimeout(() => (measuring = true), 2000);
setTimeout(
  () => {
    measuring = false;
    samples.sort((a, b) => a - b);
    const pick = (q: number): number | null =>
      samples.length
        ? (samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] as number)
        : null;
    const r = {
      viewers: sockets.length - 1,
      annotations,
      samples: samples.length,
      p50: pick(0.5),
      p99: pick(0.99),
    };
    process.stdout.write(JSON.stringify(r) + '\n');
    for (const s of sockets) s.destroy();
    process.exit(0);
  },
  2000 + Number(values.seconds) * 1000,
);
