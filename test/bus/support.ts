/** Shared bits of the bus tests: skip-or-fail without nats-server, polling, a recording native viewer. */
import net from 'node:net';
import { afterAll, afterEach, expect } from 'vitest';
import type { Edge } from '../../src/app/edge.js';
import type { FramecastServer } from '../../src/index.js';
import { StreamClient, parseServerAddress } from '../../src/index.js';
import { natsAvailable, type NatsServer } from '../helpers/nats.js';
import { killTracked, sleep } from '../helpers/processes.js';

/** True when nats-server runs here; under CI=true its absence is a failure, not a skip. */
export function natsOrFail(): boolean {
  const available = natsAvailable();
  if (!available && process.env['CI'] === 'true')
    throw new Error("nats-server is missing: install Debian's nats-server");
  return available;
}

/** What a bus test starts; busRig() stops it after each test: edges, then the origin, then nats-server. */
export interface BusRig {
  nats: NatsServer | null;
  origin: FramecastServer | null;
  edges: Edge[];
}

/** A file's BusRig, emptied after each test (and every tracked process killed after the file). */
export function busRig(): BusRig {
  const rig: BusRig = { nats: null, origin: null, edges: [] };
  afterEach(async () => {
    for (const e of rig.edges.splice(0)) await e.close();
    await rig.origin?.close();
    rig.origin = null;
    await rig.nats?.stop();
    rig.nats = null;
  });
  afterAll(killTracked);
  return rig;
}

/** Waits for `cond()` (polled every 25 ms), then asserts it. */
export async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(25);
  expect(cond()).toBe(true);
}

/** A native viewer's record: frames (with arrival times), STATUS codes, how it ended. */
export interface Viewer {
  frames: { seq: number; width: number; jpeg: Buffer; at: number }[];
  statuses: number[];
  /** When each STATUS arrived (Date.now()), index for index with `statuses`. */
  statusAt: number[];
  /** The END reason, `error:CODE`, or null while connected. */
  ended: string | null;
  close: () => void;
}

/** A native viewer of `stream` on 127.0.0.1:`port`. */
export function viewer(port: number, stream: string, token?: string): Viewer {
  const c = new StreamClient(parseServerAddress(`127.0.0.1:${port}/${stream}`), {
    protocol: 'native',
    ...(token ? { token } : {}),
  });
  const v: Viewer = { frames: [], statuses: [], statusAt: [], ended: null, close: () => c.close() };
  c.on('frame', (f) => v.frames.push({ seq: f.seq, width: f.width, jpeg: f.jpeg, at: Date.now() }));
  c.on('status', (code) => {
    v.statuses.push(code);
    v.statusAt.push(Date.now());
  });
  c.on('end', (e) => (v.ended ??= e.reason));
  c.on('error', (e) => (v.ended ??= `error:${e.code}`));
  c.connect();
  return v;
}

/** Frames of the stream's own size (the NO SIGNAL picture has another). */
export const sized = (v: Viewer, width: number): Viewer['frames'] =>
  v.frames.filter((f) => f.width === width);

/** A seed (legacy) client: JPEGs decoded from its length-prefixed base64 framing. */
export function seedViewer(port: number): { jpegs: Buffer[]; close: () => void } {
  const jpegs: Buffer[] = [];
  let buf = Buffer.alloc(0);
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const n = buf.readUInt32BE(0);
      jpegs.push(Buffer.from(buf.subarray(4, 4 + n).toString('latin1'), 'base64'));
      buf = buf.subarray(4 + n);
    }
  });
  socket.on('error', () => {});
  return { jpegs, close: () => socket.destroy() };
}
