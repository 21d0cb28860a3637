// A framecast server in its own process for fault tests: its file descriptors and memory can be read
// from outside without the test's own sockets in the count. Started by server-process.ts with
// `node --expose-gc server-child.mjs '<ServeOptions JSON>'`; answers 'stats' requests over IPC.
import { readdirSync } from 'node:fs';
import { serve } from '../../../dist/index.js';

const options = JSON.parse(process.argv[2] ?? '{}');
const server = await serve(options);

function stats() {
  globalThis.gc?.();
  const mem = process.memoryUsage();
  return {
    framesIn: server.hub.totals.framesIn,
    transmissions: server.hub.totals.transmissions,
    clientsServed: server.hub.totals.clientsServed,
    clients: server.hub.clients.length,
    waiting: server.hub.waitingCount,
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    external: mem.external,
    fds: readdirSync('/proc/self/fd').length,
    drops: server.hub.clients.reduce((n, c) => n + c.stats().drops, 0),
    state: server.hub.transmitting ? (server.hub.source?.status?.state ?? 'live') : 'idle',
    status: server.hub.source?.status ?? null,
  };
}

const events = [];
server.on('transmission-end', (reason, err) =>
  events.push({ event: 'transmission-end', reason, code: err?.code ?? null }),
);
server.on('source-status', (st) => events.push({ event: 'source-status', ...st }));
server.on('kicked', (st, ms) => events.push({ event: 'kicked', protocol: st.protocol, stalledMs: ms }));
server.on('refused', (address, reason) => events.push({ event: 'refused', reason }));

process.on('message', (msg) => {
  if (msg === 'stats') process.send?.({ type: 'stats', stats: stats() });
  else if (msg === 'events') process.send?.({ type: 'events', events: events.splice(0) });
  else if (msg === 'close') void server.close().then(() => process.exit(0));
});
process.on('disconnect', () => void server.close().then(() => process.exit(0)));
process.send?.({
  type: 'ready',
  port: server.address().port,
  httpPort: server.httpAddress?.()?.port ?? null,
});
