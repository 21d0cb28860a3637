/**
 * One edge in its own process, for the bus bench (its CPU is then read from /proc alone). It runs
 * edge() rather than `framecast edge` because the command has no --max-clients yet and an edge
 * keeps serve()'s default of 100 clients (the 101st waits in turn). The code is dist/'s, as the
 * origin's (`npm run bench` builds it first): typed against src/, but a source file being edited
 * cannot break a run.
 *
 *   tsx bench/lib/edge-process.ts --bus nats://127.0.0.1:PORT
 *
 * Prints {"event":"listening","port":N} once its stream is served; closes on SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util';

type EdgeModule = typeof import('../../src/app/edge.js');
const { edge } = (await import(new URL('../../dist/app/edge.js', import.meta.url).href)) as EdgeModule;

const { values } = parseArgs({ options: { bus: { type: 'string' } } });
if (!values.bus) throw new Error('usage: edge-process --bus nats://HOST:PORT');

const e = await edge({
  bus: { url: values.bus, name: `bench-edge-${process.pid}` },
  host: '127.0.0.1',
  port: 0,
  httpPort: null,
  maxClients: 100_000,
});
process.stdout.write(JSON.stringify({ event: 'listening', port: e.server.address().port }) + '\n');
const stop = (): void => void e.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
