import { afterAll, describe, expect, it } from 'vitest';
import type { StatsReport } from '../../src/transports/http/stats.js';
import { startServe, type ServeHandle } from '../helpers/cli.js';
import { openMjpeg, type MjpegViewer } from '../helpers/mjpeg.js';
import { killTracked } from '../helpers/processes.js';
import { getJson, openWs, until, type WsViewer } from './support.js';

const VIEWERS = 20;
const WINDOW_MS = 4000;

let serve: ServeHandle | null = null;

afterAll(async () => {
  await serve?.stop();
  await killTracked();
});

describe('many browser viewers at once', () => {
  it(`${VIEWERS} MJPEG and ${VIEWERS} WebSocket viewers each get the source frame rate`, async () => {
    // The server runs in its own process (as in production); this process only reads.
    serve = await startServe(['test', '--http-port', '0']);
    const listening = await serve.waitForEvent('listening');
    const base = `http://127.0.0.1:${listening.httpPort as number}`;
    const mjpeg: MjpegViewer[] = [];
    const ws: WsViewer[] = [];
    for (let i = 0; i < VIEWERS; i++) {
      mjpeg.push(openMjpeg(`${base}/stream.mjpg`));
      ws.push(openWs(`${base.replace('http', 'ws')}/ws`));
    }
    const all = (): number[] => [...mjpeg.map((v) => v.count), ...ws.map((v) => v.count)];
    await until(() => all().every((n) => n >= 5), 15_000, 'every viewer receiving');

    const statsBefore = await getJson<StatsReport>(`${base}/stats`);
    const before = all();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const after = all();
    const seconds = (performance.now() - t0) / 1000;
    const statsAfter = await getJson<StatsReport>(`${base}/stats`);

    const sourceFps = (statsAfter.totals.framesIn - statsBefore.totals.framesIn) / seconds;
    const rates = after.map((n, i) => (n - (before[i] as number)) / seconds);
    const worst = Math.min(...rates);
    console.log(
      `source ${sourceFps.toFixed(1)} fps; MJPEG min ${Math.min(...rates.slice(0, VIEWERS)).toFixed(1)}, ` +
        `WS min ${Math.min(...rates.slice(VIEWERS)).toFixed(1)}, mean ${(rates.reduce((a, b) => a + b, 0) / rates.length).toFixed(1)} fps`,
    );
    // The source is the 30 fps test pattern; on a loaded 2-core machine allow it some slack.
    expect(sourceFps).toBeGreaterThan(20);
    expect(worst).toBeGreaterThanOrEqual(0.85 * sourceFps);
    expect(statsAfter.clients.filter((c) => c.protocol === 'mjpeg')).toHaveLength(VIEWERS);
    expect(statsAfter.clients.filter((c) => c.protocol === 'ws')).toHaveLength(VIEWERS);

    for (const v of mjpeg) v.close();
    for (const v of ws) v.ws.close();
  });
});
