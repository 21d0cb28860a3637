/**
 * Server-Sent Events (events.ts), WebSocket viewers (ws-subscriber.ts, ws-message.ts) and one-frame
 * snapshots (snapshot.ts newestFrame), driven through stand-ins of the response and the socket.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { Frame } from '../../../src/hub/frame.js';
import type { Annotation } from '../../../src/meta/annotations.js';
import { nativeFrameWire } from '../../../src/protocol/native.js';
import {
  EventsEndpoint,
  EventStreamSubscriber,
  HEARTBEAT_MS,
  MAX_EVENT_BACKLOG,
  MAX_EVENT_STREAMS,
} from '../../../src/transports/http/events.js';
import { newestFrame } from '../../../src/transports/http/snapshot.js';
import { wsFrameMessage, wsMetaMessage } from '../../../src/transports/http/ws-message.js';
import {
  MAX_BUFFERED_FOR_ANNOTATIONS,
  WS_CLOSE,
  WsSubscriber,
} from '../../../src/transports/http/ws-subscriber.js';
import { FakeSub, setup } from '../../hub/fakes.js';
import { context } from './support.js';

// A test that waits for what a mutant broke fails within 3 s (mutation runs retry a failure twice).
vi.setConfig({ testTimeout: 3000 });

/** A response stand-in: what was written, its backlog as the test sets it. */
class FakeRes extends EventEmitter {
  written: string[] = [];
  writableLength = 0;
  destroyed = false;
  ended = false;
  status = 0;
  headers: Record<string, string> = {};
  headersSent = false;
  writeHead(status: number, headers: Record<string, string>): this {
    this.status = status;
    this.headers = headers;
    this.headersSent = true;
    return this;
  }
  write(text: string): boolean {
    this.written.push(text);
    return true;
  }
  end(body?: Buffer): void {
    if (body) this.written.push(body.toString());
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  get as(): ServerResponse {
    return this as unknown as ServerResponse;
  }
}

function fakeReq(method = 'GET'): IncomingMessage {
  return {
    method,
    headers: {},
    socket: { remoteAddress: '10.0.0.7', remotePort: 99, setNoDelay: () => {} },
  } as unknown as IncomingMessage;
}

function frame(seq: number, meta: string | null = null, capturedAt = 1000): Frame {
  return new Frame({
    seq,
    width: 4,
    height: 2,
    capturedAt,
    encodedAt: capturedAt + 1,
    jpeg: Buffer.from([0xff, 0xd8, seq, 0xff, 0xd9]),
    meta: meta === null ? null : Buffer.from(meta),
  });
}

const annotation = (seq = 1): Annotation => ({
  analyzer: 'det',
  seq,
  capturedAt: 1000,
  receivedAt: 2000,
  json: Buffer.from('{"n":1}'),
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('EventStreamSubscriber', () => {
  it('writes meta and annotation events; a frame without metadata writes nothing', () => {
    const res = new FakeRes();
    const sub = new EventStreamSubscriber(res.as, '1.2.3.4:5', 'cam');
    expect([sub.protocol, sub.address, sub.stream, sub.uncapped, sub.backlogged]).toEqual([
      'sse',
      '1.2.3.4:5',
      'cam',
      true,
      false,
    ]);
    sub.offer(frame(1));
    expect(res.written).toEqual([]);
    vi.spyOn(performance, 'now').mockReturnValue(1250 - performance.timeOrigin);
    sub.offer(frame(2, '{"é":1}'));
    sub.annotation(annotation(2));
    const meta = 'event: meta\ndata: {"type":"meta","seq":2,"capturedAt":1000,"data":{"é":1}}\n\n';
    const ann =
      'event: annotation\ndata: {"type":"annotation","analyzer":"det","seq":2,"capturedAt":1000,"data":{"n":1}}\n\n';
    expect(res.written).toEqual([meta, ann]);
    expect(sub.stats()).toMatchObject({
      protocol: 'sse',
      address: '1.2.3.4:5',
      stream: 'cam',
      framesSent: 2,
      bytesSent: Buffer.byteLength(meta) + Buffer.byteLength(ann),
      drops: 0,
      lastLatencyMs: 250,
    });
    sub.end('shutdown');
  });

  it('drops (counts) events while more than MAX_EVENT_BACKLOG waits; latency only for sent ones', () => {
    expect(MAX_EVENT_BACKLOG).toBe(256 * 1024);
    const res = new FakeRes();
    const sub = new EventStreamSubscriber(res.as, 'a', 'cam');
    res.writableLength = MAX_EVENT_BACKLOG + 1;
    sub.offer(frame(1, '{}'));
    sub.annotation(annotation());
    expect(res.written).toEqual([]);
    expect(sub.stats()).toMatchObject({ framesSent: 0, bytesSent: 0, drops: 2, lastLatencyMs: null });
    res.writableLength = MAX_EVENT_BACKLOG;
    sub.offer(frame(2, '{}'));
    expect(res.written).toHaveLength(1);
    expect(sub.stats().drops).toBe(2);
    expect(sub.stats().framesSent).toBe(1);
    sub.end('shutdown');
  });

  it('end: one end event with the reason, then the response ends; nothing after', () => {
    const res = new FakeRes();
    const sub = new EventStreamSubscriber(res.as, 'a', 'cam');
    sub.end('eof');
    expect(res.written).toEqual(['event: end\ndata: {"type":"end","reason":"eof"}\n\n']);
    expect(res.ended).toBe(true);
    // The end event is not counted as an event.
    expect(sub.stats().framesSent).toBe(0);
    sub.end('stopped');
    sub.offer(frame(1, '{}'));
    sub.annotation(annotation());
    expect(res.written).toHaveLength(1);
  });

  it('writes nothing to a destroyed or closed response', () => {
    const res = new FakeRes();
    const sub = new EventStreamSubscriber(res.as, 'a', 'cam');
    res.destroyed = true;
    sub.offer(frame(1, '{}'));
    expect(res.written).toEqual([]);
    expect(sub.stats().drops).toBe(0);
    expect(sub.stats().lastLatencyMs).toBeNull();
    const res2 = new FakeRes();
    const sub2 = new EventStreamSubscriber(res2.as, 'a', 'cam');
    res2.emit('close');
    sub2.end('eof');
    sub2.annotation(annotation());
    expect(res2.written).toEqual([]);
    expect(res2.ended).toBe(false);
  });

  it('a heartbeat comment every HEARTBEAT_MS, not counted, until the response closes', () => {
    vi.useFakeTimers();
    expect(HEARTBEAT_MS).toBe(15_000);
    const res = new FakeRes();
    const sub = new EventStreamSubscriber(res.as, 'a', 'cam');
    vi.advanceTimersByTime(HEARTBEAT_MS - 1);
    expect(res.written).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(res.written).toEqual([': heartbeat\n\n']);
    res.writableLength = MAX_EVENT_BACKLOG + 1;
    vi.advanceTimersByTime(HEARTBEAT_MS);
    expect(sub.stats()).toMatchObject({ framesSent: 0, bytesSent: 0, drops: 0 });
    res.writableLength = 0;
    res.emit('close');
    vi.advanceTimersByTime(HEARTBEAT_MS * 3);
    expect(res.written).toEqual([': heartbeat\n\n']);
  });

  it('no heartbeat after end()', () => {
    vi.useFakeTimers();
    const res = new FakeRes();
    const sub = new EventStreamSubscriber(res.as, 'a', 'cam');
    sub.end('stopped');
    res.ended = false;
    vi.advanceTimersByTime(HEARTBEAT_MS * 2);
    expect(res.written).toHaveLength(1);
  });
});

describe('EventsEndpoint', () => {
  it('opens with a comment and joins the hub as an uncapped client', () => {
    const { hub } = setup({ maxClients: 1 });
    hub.join(new FakeSub('viewer'));
    const ctx = context(hub, { cors: { 'X-Cors': '1' } });
    const ep = new EventsEndpoint(ctx);
    const res = new FakeRes();
    ep.serve(fakeReq(), res.as);
    expect(res.status).toBe(200);
    expect(res.headers).toEqual({
      'X-Cors': '1',
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store, no-cache, must-revalidate, proxy-revalidate, max-age=0',
      Pragma: 'no-cache',
      Expires: '0',
      'X-Accel-Buffering': 'no',
    });
    expect(res.written).toEqual([': framecast events\n\n']);
    expect(hub.clients.map((c) => c.protocol)).toEqual(['fake', 'sse']);
    expect(ctx.clients.map((c) => c.address)).toEqual(['10.0.0.7:99']);
    res.emit('close');
    expect(hub.clients.map((c) => c.protocol)).toEqual(['fake']);
  });

  it('HEAD: the head only, nobody joins', () => {
    const { hub } = setup();
    const ep = new EventsEndpoint(context(hub));
    const res = new FakeRes();
    ep.serve(fakeReq('HEAD'), res.as);
    expect(res.status).toBe(200);
    expect(res.ended).toBe(true);
    expect(res.written).toEqual([]);
    expect(hub.clients).toHaveLength(0);
  });

  it(`at most ${MAX_EVENT_STREAMS} event streams: then 503 with Retry-After; a closed one frees a place`, () => {
    expect(MAX_EVENT_STREAMS).toBe(100);
    const { hub } = setup();
    const ctx = context(hub);
    const ep = new EventsEndpoint(ctx);
    const open: FakeRes[] = [];
    for (let i = 0; i < MAX_EVENT_STREAMS; i++) {
      const res = new FakeRes();
      ep.serve(fakeReq(), res.as);
      open.push(res);
    }
    const full = new FakeRes();
    ep.serve(fakeReq(), full.as);
    expect(full.status).toBe(503);
    expect(full.headers['Retry-After']).toBe('5');
    expect(full.written).toEqual(['this stream already has 100 event streams\n']);
    expect(ctx.refused).toEqual([['10.0.0.7:99', 'events of cam: 100 event streams already']]);
    open[0]?.emit('close');
    const next = new FakeRes();
    ep.serve(fakeReq(), next.as);
    expect(next.status).toBe(200);
  });

  it('a hub that is closed refuses: the response is destroyed', () => {
    const { hub } = setup();
    hub.close();
    const ctx = context(hub);
    const res = new FakeRes();
    new EventsEndpoint(ctx).serve(fakeReq(), res.as);
    expect(res.destroyed).toBe(true);
    expect(ctx.refused).toEqual([['10.0.0.7:99', 'server full']]);
  });
});

describe('ws-message', () => {
  it('a frame is the native FRAME message, shared', () => {
    const f = frame(3);
    expect(wsFrameMessage(f)).toBe(nativeFrameWire(f));
  });
  it('the meta text, built once', () => {
    const f = frame(4, '{"a":"é"}', 12.5);
    const m = wsMetaMessage(f);
    expect(m.toString('utf8')).toBe('{"type":"meta","seq":4,"capturedAt":12.5,"data":{"a":"é"}}');
    expect(wsMetaMessage(f)).toBe(m);
  });
});

/** A WebSocket stand-in. */
class FakeWs extends EventEmitter {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  sent: Array<{ data: Buffer | string; binary: boolean | undefined }> = [];
  callbacks: Array<(err?: Error) => void> = [];
  closedWith: [number, string] | null = null;
  terminated = 0;
  send(
    data: Buffer | string,
    opts?: { binary?: boolean } | ((err?: Error) => void),
    cb?: (err?: Error) => void,
  ): void {
    const o = typeof opts === 'function' ? {} : (opts ?? {});
    this.sent.push({ data, binary: o.binary });
    const done = typeof opts === 'function' ? opts : cb;
    if (done) this.callbacks.push(done);
  }
  close(code: number, reason: string): void {
    this.closedWith = [code, reason];
  }
  terminate(): void {
    this.terminated++;
  }
  get as(): WebSocket {
    return this as unknown as WebSocket;
  }
}

function wsSub(ws: FakeWs, opts: { meta?: boolean; annotations?: boolean } = {}) {
  let drained = 0;
  const sub = new WsSubscriber(ws.as, {
    protocol: 'ws',
    address: 'a',
    lossless: false,
    onDrained: () => drained++,
    ...opts,
  });
  return { sub, drained: () => drained };
}

describe('WsSubscriber', () => {
  it('sends a frame as one binary message, counting its bytes once the send completed', () => {
    const ws = new FakeWs();
    const { sub } = wsSub(ws);
    const f = frame(1, '{"m":1}');
    sub.offer(f);
    expect(ws.sent).toEqual([{ data: wsFrameMessage(f), binary: true }]);
    expect(sub.stats().framesSent).toBe(0);
    ws.callbacks[0]?.();
    expect(sub.stats()).toMatchObject({ framesSent: 1, bytesSent: wsFrameMessage(f).length });
  });

  it('a failed send is not counted', () => {
    const ws = new FakeWs();
    const { sub } = wsSub(ws);
    sub.offer(frame(1));
    ws.callbacks[0]?.(new Error('gone'));
    expect(sub.stats()).toMatchObject({ framesSent: 0, bytesSent: 0 });
  });

  it('with meta: the meta text just before the frame, its bytes counted; none for a frame without', () => {
    const ws = new FakeWs();
    const { sub } = wsSub(ws, { meta: true });
    const f = frame(1, '{"m":1}');
    sub.offer(f);
    expect(ws.sent).toEqual([
      { data: wsMetaMessage(f), binary: false },
      { data: wsFrameMessage(f), binary: true },
    ]);
    ws.callbacks[0]?.();
    expect(sub.stats().bytesSent).toBe(wsFrameMessage(f).length + wsMetaMessage(f).length);
    const plain = frame(2);
    sub.offer(plain);
    expect(ws.sent.at(-1)).toEqual({ data: wsFrameMessage(plain), binary: true });
    expect(ws.sent).toHaveLength(3);
  });

  it('waits while anything is buffered (bufferedAmount), then a newer frame replaces the waiting one', () => {
    const ws = new FakeWs();
    const { sub } = wsSub(ws);
    ws.bufferedAmount = 1;
    sub.offer(frame(1));
    sub.offer(frame(2));
    expect(ws.sent).toHaveLength(0);
    expect(sub.stats().drops).toBe(1);
    expect(sub.backlogged).toBe(true);
  });

  it('annotations only when asked for, only while open and not too far behind (counted)', () => {
    expect(MAX_BUFFERED_FOR_ANNOTATIONS).toBe(1024 * 1024);
    const plain = new FakeWs();
    wsSub(plain).sub.annotation(annotation());
    expect(plain.sent).toEqual([]);
    const ws = new FakeWs();
    const { sub } = wsSub(ws, { annotations: true });
    sub.annotation(annotation());
    expect(ws.sent).toEqual([
      {
        data: '{"type":"annotation","analyzer":"det","seq":1,"capturedAt":1000,"data":{"n":1}}',
        binary: false,
      },
    ]);
    ws.bufferedAmount = MAX_BUFFERED_FOR_ANNOTATIONS;
    sub.annotation(annotation());
    expect(ws.sent).toHaveLength(2);
    ws.bufferedAmount = MAX_BUFFERED_FOR_ANNOTATIONS + 1;
    sub.annotation(annotation());
    expect(ws.sent).toHaveLength(2);
    expect(sub.annotationDrops).toBe(1);
    ws.bufferedAmount = 0;
    ws.readyState = WebSocket.CLOSING;
    sub.annotation(annotation());
    expect(ws.sent).toHaveLength(2);
    expect(sub.annotationDrops).toBe(1);
  });

  it('tells a waiting viewer its place while open', () => {
    const ws = new FakeWs();
    const { sub } = wsSub(ws);
    sub.waiting(3);
    expect(ws.sent).toEqual([{ data: '{"type":"waiting","position":3}', binary: undefined }]);
    ws.readyState = WebSocket.CLOSED;
    sub.waiting(2);
    expect(ws.sent).toHaveLength(1);
    // Closed: frames are not sent either.
    sub.offer(frame(1));
    expect(ws.sent).toHaveLength(1);
  });

  it('ends with 1000 for the end of a transmission, 1001 at shutdown', () => {
    expect(WS_CLOSE).toEqual({ normal: 1000, goingAway: 1001, tryAgainLater: 1013 });
    const a = new FakeWs();
    wsSub(a).sub.end('stopped');
    expect(a.closedWith).toEqual([1000, 'stopped']);
    const b = new FakeWs();
    wsSub(b).sub.end('shutdown');
    expect(b.closedWith).toEqual([1001, 'shutdown']);
  });

  it('a viewer that does not take its last frame in time is terminated; a closed socket stops the wait', () => {
    vi.useFakeTimers();
    const ws = new FakeWs();
    const { sub } = wsSub(ws);
    sub.offer(frame(1));
    sub.end('eof');
    expect(ws.closedWith).toBeNull();
    vi.advanceTimersByTime(5000);
    expect(ws.terminated).toBe(1);
    const ws2 = new FakeWs();
    const s2 = wsSub(ws2).sub;
    s2.offer(frame(1));
    s2.end('eof');
    ws2.emit('close');
    vi.advanceTimersByTime(10_000);
    expect(ws2.terminated).toBe(0);
  });
});

describe('newestFrame', () => {
  it("is the hub's current frame at once when there is one", async () => {
    const { hub, current } = setup();
    hub.join(new FakeSub('a'));
    const f = current().frame();
    expect(await newestFrame(hub, 'x', 10)).toBe(f);
  });

  it('joins for one frame, with its stats, and leaves once it came', async () => {
    const { hub, current } = setup();
    const p = newestFrame(hub, '1.1.1.1:1', 5000);
    const sub = hub.clients[0];
    expect(sub?.protocol).toBe('snapshot');
    expect(sub?.address).toBe('1.1.1.1:1');
    expect(sub?.stats()).toMatchObject({ framesSent: 0, bytesSent: 0, drops: 0, lastLatencyMs: null });
    const f = new Frame({
      seq: 1,
      width: 2,
      height: 2,
      capturedAt: Date.now() - 50,
      encodedAt: Date.now(),
      jpeg: Buffer.alloc(10),
    });
    current().emit('frame', f);
    expect(await p).toBe(f);
    expect(sub?.stats()).toMatchObject({ framesSent: 1, bytesSent: 10, drops: 0 });
    expect(sub?.stats().lastLatencyMs).toBeGreaterThanOrEqual(40);
    expect(sub?.stats().lastLatencyMs).toBeLessThan(5000);
    // A second frame changes nothing.
    sub?.offer(frame(9));
    expect(sub?.stats().bytesSent).toBe(10);
    await new Promise((r) => setImmediate(r));
    expect(hub.clients).toHaveLength(0);
  });

  it('null when the transmission ends first, after the timeout, or when the hub refuses', async () => {
    const { hub } = setup();
    const p = newestFrame(hub, 'x', 5000);
    hub.stopTransmission();
    expect(await p).toBeNull();
    const t0 = Date.now();
    expect(await newestFrame(hub, 'x', 100)).toBeNull();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    hub.close();
    expect(await newestFrame(hub, 'x', 5000)).toBeNull();
  });
});
