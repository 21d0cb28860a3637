/** Shared bits of the bus security tests: a raw NATS peer that copies what origins announce, viewers' answers. */
import { connect, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { encodeHello } from '../../src/protocol/native.js';
import type { NativeMessage } from '../../src/protocol/native-parser.js';
import { rawNative } from '../helpers/native.js';
import { sleep, spawnTracked, waitExit } from '../helpers/processes.js';
import type { Viewer } from '../bus/support.js';

/** A readToken long enough for any check, known to the legitimate viewers only. */
export const TOKEN = 'r3ad-only-this-token';

/** The ERROR code a native viewer of `stream` gets with `token`, or 'frames' once a frame of `width` comes. */
export async function answer(
  port: number,
  stream: string,
  token: string,
  width = 160,
): Promise<number | 'frames' | 'nothing'> {
  const s = await rawNative(port, encodeHello(token, Date.now(), 2, 0, stream), {
    timeoutMs: 5000,
    until: (m) => m.some((x) => x.type === 'error' || (x.type === 'frame' && x.width === width)),
  });
  const err = s.messages.find((m): m is Extract<NativeMessage, { type: 'error' }> => m.type === 'error');
  if (err) return err.code;
  return s.messages.some((m) => m.type === 'frame') ? 'frames' : 'nothing';
}

/**
 * A peer's flood while viewers knock: `publish` runs every 20 ms while a token-less native viewer of
 * `stream` asks `times` times, 150 ms apart. Resolves with each answer (an ERROR code, or 'frames').
 */
export async function answersDuringFlood(
  port: number,
  stream: string,
  times: number,
  publish: () => void,
): Promise<(number | 'frames' | 'nothing')[]> {
  const flood = setInterval(publish, 20);
  const answers: (number | 'frames' | 'nothing')[] = [];
  try {
    for (let n = 0; n < times; n++) {
      answers.push(await answer(port, stream, ''));
      await sleep(150);
    }
  } finally {
    clearInterval(flood);
  }
  return answers;
}

/** A plain NATS client on the bus (no framecast code): what an attacker with bus access has. */
export interface Peer {
  nc: NatsConnection;
  /** The next message on `subject` (with its headers), within `ms`. */
  next: (subject: string, ms?: number) => Promise<{ data: Uint8Array; headers: MsgHdrs | undefined }>;
}

/** Connects a raw peer to `url`; the caller closes `nc`. */
export async function rawPeer(url: string): Promise<Peer> {
  const nc = await connect({ servers: url });
  return {
    nc,
    next: (subject, ms = 5000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          sub.unsubscribe();
          reject(new Error(`nothing on ${subject} within ${ms} ms`));
        }, ms);
        const sub = nc.subscribe(subject, {
          max: 1,
          callback: (_err, msg) => {
            clearTimeout(timer);
            resolve({ data: msg.data, headers: msg.headers });
          },
        });
      }),
  };
}

/** The largest gap in ms between consecutive frames of `width` a viewer got after `from`. */
export function largestGap(v: Viewer, width: number, from: number): number {
  const at = v.frames.filter((f) => f.width === width && f.at >= from).map((f) => f.at);
  let gap = 0;
  for (let i = 1; i < at.length; i++) gap = Math.max(gap, at[i]! - at[i - 1]!);
  return gap;
}

/**
 * A peer in its own process (so the flood keeps its pace whatever the edge does) publishing
 * announcements of 1000 fake streams as one origin process every `everyMs` for `forMs`; with
 * `churn` each announcement names 1000 new streams. Resolves with how many it sent.
 */
export async function flood(
  url: string,
  opts: { churn: boolean; everyMs: number; forMs: number },
): Promise<number> {
  const script = `
    import { connect } from '@nats-io/transport-node';
    const nc = await connect({ servers: ${JSON.stringify(url)} });
    const list = (round) => JSON.stringify({ origin: 'flood', instance: 'flood-1', streams:
      Array.from({ length: 1000 }, (_, i) => ({ name: ${opts.churn} ? 'fake' + round + '-' + i : 'fake' + i, width: 160, height: 120 })) });
    let round = 0;
    const end = Date.now() + ${opts.forMs};
    while (Date.now() < end) {
      nc.publish('framecast.streams', list(round++));
      await new Promise((r) => setTimeout(r, ${opts.everyMs}));
    }
    await nc.flush();
    await nc.close();
    process.stdout.write(String(round));
  `;
  const child = spawnTracked(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  await waitExit(child, opts.forMs + 15_000);
  return Number(out);
}
