/**
 * ACK flow control end to end: the server's test pattern at 30 fps, a connect() loop that takes one
 * frame every 250 ms, with and without acknowledgements, beside a normal client on the same server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/connect.js';
import { StreamClient } from '../../src/client/stream-client.js';
import { serve, type FramecastServer } from '../../src/app/serve.js';

let server: FramecastServer;
let port: number;

beforeAll(async () => {
  server = await serve({ source: 'test', port: 0, httpPort: null });
  port = server.address().port;
});
afterAll(async () => {
  await server.close();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface SlowRun {
  /** receivedAt - capturedAt of the frames taken after the first second (same host: one clock). */
  receiveMs: number[];
  /** How old each of those frames was when the loop took it. */
  takenMs: number[];
  acknowledging: boolean;
}

/** A connect() loop that spends 250 ms on each frame, for `ms`. */
async function slowLoop(ack: boolean, ms: number): Promise<SlowRun> {
  const stream = connect({ host: '127.0.0.1', port, tls: false }, { ack });
  const run: SlowRun = { receiveMs: [], takenMs: [], acknowledging: false };
  const start = Date.now();
  for await (const f of stream) {
    const now = Date.now();
    if (now - start >= ms) break;
    if (now - start >= 1000 && f.capturedAt !== null) {
      run.receiveMs.push(f.receivedAt - f.capturedAt);
      run.takenMs.push(now - f.capturedAt);
    }
    await sleep(250);
  }
  return run;
}

/** A client that takes every frame at once: which seqs it got. */
function normalClient(ms: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const seqs: number[] = [];
    const c = new StreamClient({ host: '127.0.0.1', port, tls: false });
    c.on('frame', (f) => seqs.push(f.seq));
    c.on('error', reject);
    c.connect();
    setTimeout(() => {
      c.close();
      resolve(seqs);
    }, ms);
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

describe('ACK flow control', () => {
  it('keeps a slow connect() loop on fresh frames; without it frames wait seconds in socket buffers', async () => {
    const [acked, unacked, normal] = await Promise.all([
      slowLoop(true, 6000),
      slowLoop(false, 6000),
      normalClient(6000),
    ]);
    // About 4 frames a second for 5 s in each loop.
    expect(acked.receiveMs.length).toBeGreaterThanOrEqual(12);
    expect(unacked.receiveMs.length).toBeGreaterThanOrEqual(12);
    const a = median(acked.receiveMs);
    const u = median(unacked.receiveMs);
    console.log(
      `slow loop p50 receive latency: ${a.toFixed(0)} ms with ACK, ${u.toFixed(0)} ms without; ` +
        `age when taken ${median(acked.takenMs).toFixed(0)} / ${median(unacked.takenMs).toFixed(0)} ms`,
    );
    // Measured on the 2-core dev box: 21 ms with ACK, 2113 ms without (taken at 270 / 3050 ms old).
    expect(a).toBeLessThan(300);
    expect(median(acked.takenMs)).toBeLessThan(600);
    // The same loop without acknowledgements reads what the kernel buffered: seconds old.
    expect(u).toBeGreaterThan(1000);
    // A client that keeps up still gets (nearly) every frame of the 30 fps stream.
    expect(normal.length).toBeGreaterThan(100);
    const span = (normal.at(-1) as number) - (normal[0] as number) + 1;
    expect(normal.length / span).toBeGreaterThanOrEqual(0.9);
  }, 30_000);
});
