/**
 * GET /streams/NAME/events beyond its events (docs/PROTOCOL.md "Events"):
 * - a comment line (`: heartbeat`) every 15 s, none sooner, never an event;
 * - a reader that does not read: what waits in the server for it stays under MAX_EVENT_BACKLOG
 *   (256 KiB) plus one event, the rest is dropped whole and counted (its stats, /stats), and once it
 *   reads again it gets whole events and new ones.
 */
import http, { type ServerResponse } from 'node:http';
import net from 'node:net';
import sharp from 'sharp';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { serve, type FramecastServer } from '../../src/index.js';
import type { Annotation } from '../../src/meta/annotations.js';
import { EventStreamSubscriber, MAX_EVENT_BACKLOG } from '../../src/transports/http/events.js';
import { getJson, httpBase, until } from '../http/support.js';
import { openPost, part, recordSse } from './http-support.js';

/** The interval docs/PROTOCOL.md promises. */
const DOCUMENTED_HEARTBEAT_MS = 15_000;
/** Bytes of padding in each big event: near maxMetaBytes (64 KiB). */
const PAD = 60 * 1024;

let server: FramecastServer | null = null;
const cleanups: (() => void)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0)) c();
  await server?.close();
  server = null;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A raw HTTP/1.0 GET (no chunked framing: the body is the event stream as is) that stops reading
 * once the response head is in, until `resume()`.
 */
interface SlowReader {
  socket: net.Socket;
  /** The body received so far (after the head). */
  body(): string;
  resume(): void;
  /** Resolves once the head (and whatever came with it) is in and the socket is paused. */
  paused: Promise<string>;
}

function slowReader(port: number, path: string): SlowReader {
  const socket = net.connect(port, '127.0.0.1');
  cleanups.push(() => socket.destroy());
  let raw = '';
  let headEnd = -1;
  let onHead: (head: string) => void = () => {};
  const paused = new Promise<string>((r) => (onHead = r));
  socket.setEncoding('utf8');
  socket.on('data', (c: string) => {
    raw += c;
    if (headEnd < 0 && (headEnd = raw.indexOf('\r\n\r\n')) >= 0) {
      socket.pause();
      onHead(raw.slice(0, headEnd));
    }
  });
  socket.on('error', () => {});
  socket.write(`GET ${path} HTTP/1.0\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  return {
    socket,
    body: () => (headEnd < 0 ? '' : raw.slice(headEnd + 4)),
    resume: () => socket.resume(),
    paused,
  };
}

/** The events of an event-stream body: [event, parsed data] of each whole block; comments apart. */
function parseEvents(body: string): {
  events: [string, Record<string, unknown>][];
  comments: string[];
  rest: string;
} {
  const blocks = body.split('\n\n');
  const rest = blocks.pop() ?? '';
  const events: [string, Record<string, unknown>][] = [];
  const comments: string[] = [];
  for (const b of blocks) {
    if (b.startsWith(':')) {
      comments.push(b);
      continue;
    }
    const m = /^event: (\w+)\ndata: (.*)$/s.exec(b);
    if (!m) throw new Error(`not a whole event: ${b.slice(0, 120)}`);
    events.push([m[1] as string, JSON.parse(m[2] as string) as Record<string, unknown>]);
  }
  return { events, comments, rest };
}

describe('SSE heartbeat', () => {
  it('a `: heartbeat` comment every 15 s, not sooner, and never an event', async () => {
    server = await serve({ port: 0, httpPort: 0, streams: [{ name: 'cam', source: 'publisher' }] });
    const base = httpBase(server);
    // Only intervals are faked (the server's sockets and timeouts run on real time), from before
    // the connection so the endpoint's heartbeat is one of them.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const sse = recordSse(`${base}/streams/cam/events`);
    cleanups.push(() => sse.req.destroy());
    expect(await sse.status).toBe(200);
    await until(() => sse.comments.length === 1, 5000, 'the opening comment');
    expect(sse.comments).toEqual([': framecast events']);
    vi.advanceTimersByTime(DOCUMENTED_HEARTBEAT_MS - 1);
    await sleep(300);
    expect(sse.comments).toEqual([': framecast events']);
    vi.advanceTimersByTime(1);
    await until(() => sse.comments.length === 2, 5000, 'the first heartbeat');
    expect(sse.comments[1]).toBe(': heartbeat');
    vi.advanceTimersByTime(DOCUMENTED_HEARTBEAT_MS - 1);
    await sleep(300);
    expect(sse.comments).toHaveLength(2);
    vi.advanceTimersByTime(1);
    await until(() => sse.comments.length === 3, 5000, 'the second heartbeat');
    expect(sse.comments[2]).toBe(': heartbeat');
    expect(sse.events).toEqual([]);
  });
});

describe('SSE backpressure', () => {
  it('a reader that does not read: the server buffers at most MAX_EVENT_BACKLOG plus one event for it, drops whole events (counted), and it gets new ones once it reads', async () => {
    // One EventStreamSubscriber on a real HTTP response whose client stops reading.
    let res: ServerResponse | null = null;
    const srv = http.createServer((_req, r) => {
      r.writeHead(200, { 'Content-Type': 'text/event-stream' });
      r.write(': open\n\n');
      res = r;
    });
    cleanups.push(() => {
      srv.closeAllConnections();
      srv.close();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const reader = slowReader((srv.address() as net.AddressInfo).port, '/');
    await reader.paused;
    await until(() => res !== null);
    const out = res as unknown as ServerResponse;
    const sub = new EventStreamSubscriber(out, '127.0.0.1:1', 'cam');
    const json = Buffer.from(JSON.stringify({ pad: 'x'.repeat(PAD) }));
    const annotation = (seq: number): Annotation => ({
      analyzer: 'big',
      seq,
      capturedAt: 1000 + seq,
      receivedAt: 0,
      json,
    });
    const eventBytes =
      Buffer.byteLength(`event: annotation\ndata: {"type":"annotation"}\n\n`) + 200 + json.length;
    const N = 400; // 24 MiB of events: more than loopback's socket buffers take
    let most = 0;
    for (let seq = 0; seq < N; seq++) {
      sub.annotation(annotation(seq));
      most = Math.max(most, out.writableLength);
      if (seq % 20 === 19) await sleep(5); // the kernel takes what it takes
    }
    // What waits in this process for the reader stayed bounded; the rest was dropped and counted.
    expect(most).toBeGreaterThan(MAX_EVENT_BACKLOG);
    expect(most).toBeLessThanOrEqual(MAX_EVENT_BACKLOG + eventBytes);
    const stats = sub.stats();
    expect(stats.drops).toBeGreaterThan(N / 2);
    expect(stats.framesSent + stats.drops).toBe(N);
    // It reads again: everything written arrives, as whole events, in order, with the gap of the drops.
    reader.resume();
    const preamble = ': open\n\n'.length;
    await until(
      () => Buffer.byteLength(reader.body()) === preamble + stats.bytesSent,
      15_000,
      'the buffered events',
    );
    const got = parseEvents(reader.body());
    expect(got.rest).toBe('');
    const seqs = got.events.map(([, d]) => d.seq as number);
    expect(seqs).toHaveLength(stats.framesSent);
    expect(seqs.every((s, i) => i === 0 || s > (seqs[i - 1] as number))).toBe(true);
    expect(seqs.at(-1)).toBeLessThan(N - 1); // the newest were dropped while it did not read
    for (const [, d] of got.events) expect((d.data as { pad: string }).pad).toHaveLength(PAD);
    // Drained: a new event goes out (not dropped), and the end too.
    await until(() => out.writableLength === 0);
    sub.annotation(annotation(N));
    sub.end('eof');
    await until(() => reader.body().endsWith('"reason":"eof"}\n\n'), 5000, 'the new event and the end');
    const after = parseEvents(reader.body()).events.slice(seqs.length);
    expect(after.map(([e, d]) => [e, d.seq ?? d.reason])).toEqual([
      ['annotation', N],
      ['end', 'eof'],
    ]);
    expect(sub.stats().drops).toBe(stats.drops);
  }, 60_000);

  it('through the server: a slow /events reader has its drops in /stats; a reader that reads gets every event', async () => {
    server = await serve({ port: 0, httpPort: 0, streams: [{ name: 'cam', source: 'publisher' }] });
    const base = httpBase(server);
    const port = (server.httpAddress() as net.AddressInfo).port;
    const slow = slowReader(port, '/streams/cam/events');
    await slow.paused;
    const fast = recordSse(`${base}/streams/cam/events`);
    cleanups.push(() => fast.req.destroy());
    expect(await fast.status).toBe(200);
    // 300 frames, each with 60 KiB of metadata: 18 MiB of `event: meta` for each reader.
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#345' } })
      .jpeg()
      .toBuffer();
    const N = 300;
    const post = openPost(`${base}/streams/cam/publish`);
    for (let k = 0; k < N; k++) {
      post.write(part('application/json', Buffer.from(JSON.stringify({ k, pad: 'x'.repeat(PAD) })), 'p'));
      post.write(part('image/jpeg', jpeg, 'p'));
      if (k % 10 === 9) await sleep(30);
    }
    await until(
      () => fast.events.some((e) => e.data.includes(`"k":${N - 1},`)),
      20_000,
      'the last frame at the reader',
    );
    expect(fast.events.filter((e) => e.event === 'meta')).toHaveLength(N);
    // The slow reader's drops, in /stats (protocol sse), found by its own port.
    interface Client {
      protocol: string;
      address: string;
      framesSent: number;
      bytesSent: number;
      drops: number;
    }
    const clients = (await getJson<{ clients: Client[] }>(`${base}/streams/cam/stats`)).clients;
    const mine = clients.find((c) => c.address === `127.0.0.1:${slow.socket.localPort}`);
    expect(mine?.protocol).toBe('sse');
    const them = clients.find((c) => c.protocol === 'sse' && c !== mine);
    expect(them?.drops).toBe(0);
    expect(mine?.drops).toBeGreaterThan(0);
    expect((mine?.framesSent ?? 0) + (mine?.drops ?? 0)).toBe(N);
    // It reads again: whole events, in order, then a new frame's.
    slow.resume();
    await until(
      () => parseEvents(slow.body()).events.length === mine?.framesSent,
      15_000,
      'what was written for the slow reader',
    );
    const ks = parseEvents(slow.body()).events.map(([, d]) => (d.data as { k: number }).k);
    expect(ks.every((k, i) => i === 0 || k > (ks[i - 1] as number))).toBe(true);
    post.write(part('application/json', Buffer.from('{"k":"after"}'), 'p'));
    post.write(part('image/jpeg', jpeg, 'p'));
    await until(() => slow.body().includes('"k":"after"'), 10_000, 'a new event at the slow reader');
    post.end();
  }, 90_000);
});
