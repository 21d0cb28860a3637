/**
 * A publisher that delivers no complete frame for PUBLISH_IDLE_MS (10 s) is closed and its stream's
 * slot freed, whether it sends nothing or trickles bytes that never make a frame (issue "Every way in
 * checked the same", item 6.3).
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/index.js';
import { PUBLISH_IDLE_MS } from '../../src/ingest/publish/publisher-slot.js';
import { NativeParser, type NativeMessage } from '../../src/protocol/native-parser.js';
import { ErrorCode, HelloFlag, encodeHello, encodeNativeFrame } from '../../src/protocol/native.js';
import { makeJpeg } from '../helpers/native.js';
import { sleep } from '../helpers/processes.js';

let server: FramecastServer | null = null;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await server?.close();
  server = null;
});

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(20);
  expect(cond()).toBe(true);
}

async function publisherServer(): Promise<{ port: number; httpPort: number }> {
  server = await serve({ port: 0, httpPort: 0, streams: [{ name: 'yard', source: 'publisher' }] });
  return { port: server.address().port, httpPort: server.httpAddress()?.port as number };
}

const slotHolder = (): string | null => server?.streams.get('yard')?.ingest?.current?.address ?? null;

/** A native publisher on the wire: it records what the server says and when it closed. */
function nativePublisher(port: number): {
  socket: net.Socket;
  messages: NativeMessage[];
  closedAt: number | null;
  frame: (jpeg: Buffer, seq: number) => Buffer;
} {
  const parser = new NativeParser(1 << 24);
  const socket = net.connect({ host: '127.0.0.1', port });
  sockets.push(socket);
  const p = {
    socket,
    messages: [] as NativeMessage[],
    closedAt: null as number | null,
    frame: (jpeg: Buffer, seq: number): Buffer =>
      encodeNativeFrame(
        { seq, width: 0, height: 0, capturedAt: Date.now(), encodedAt: Date.now(), jpeg },
        Date.now(),
      ),
  };
  socket.on('data', (c: Buffer) => parser.push(c, (m) => p.messages.push(m)));
  socket.on('error', () => {});
  socket.on('close', () => (p.closedAt = Date.now()));
  socket.write(encodeHello('', Date.now(), 2, HelloFlag.Publish, 'yard'));
  return p;
}

const has = (m: NativeMessage[], type: NativeMessage['type']): boolean => m.some((x) => x.type === type);
const errorOf = (m: NativeMessage[]): { code: number; message: string } | undefined =>
  m.find((x): x is Extract<NativeMessage, { type: 'error' }> => x.type === 'error');

describe('idle publishers', () => {
  it('the limit is 10 s', () => {
    expect(PUBLISH_IDLE_MS).toBe(10_000);
  });

  it('native: one that trickles bytes without completing a frame gets ERROR 14 and the next one takes the stream', async () => {
    const { port } = await publisherServer();
    const jpeg = await makeJpeg();
    const idle = nativePublisher(port);
    await until(() => has(idle.messages, 'welcome'), 5000);
    idle.socket.write(idle.frame(jpeg, 0));
    await until(() => has(idle.messages, 'ack'), 5000);
    const lastFrameAt = Date.now();
    // Meanwhile a second publisher is refused: the stream is taken.
    const early = nativePublisher(port);
    await until(() => errorOf(early.messages) !== undefined, 5000);
    expect(errorOf(early.messages)?.code).toBe(ErrorCode.PublisherActive);
    // The start of a frame, then one byte every 3 s: it never completes.
    const next = idle.frame(jpeg, 1);
    let sent = 0;
    const trickle = setInterval(() => {
      if (!idle.socket.destroyed) idle.socket.write(next.subarray(sent, ++sent));
    }, 3000);
    try {
      await until(() => idle.closedAt !== null, PUBLISH_IDLE_MS + 5000);
    } finally {
      clearInterval(trickle);
    }
    const after = (idle.closedAt as number) - lastFrameAt;
    expect(after).toBeGreaterThanOrEqual(PUBLISH_IDLE_MS - 100);
    expect(after).toBeLessThan(PUBLISH_IDLE_MS + 2000);
    expect(sent).toBeGreaterThanOrEqual(3);
    expect(errorOf(idle.messages)).toEqual({
      type: 'error',
      code: ErrorCode.PublisherIdle,
      message: 'no complete frame for 10 s: the stream is free for another publisher',
    });
    expect(slotHolder()).toBeNull();
    // The slot is free: the next publisher is welcomed and its frame reaches the stream.
    const next2 = nativePublisher(port);
    await until(() => has(next2.messages, 'welcome'), 5000);
    next2.socket.write(next2.frame(jpeg, 0));
    await until(() => has(next2.messages, 'ack'), 5000);
    expect(errorOf(next2.messages)).toBeUndefined();
    expect(slotHolder()).not.toBeNull();
  }, 30_000);

  it('native: one that never sends a frame after its WELCOME is closed too', async () => {
    const { port } = await publisherServer();
    const silent = nativePublisher(port);
    await until(() => has(silent.messages, 'welcome'), 5000);
    const welcomedAt = Date.now();
    await until(() => silent.closedAt !== null, PUBLISH_IDLE_MS + 5000);
    expect((silent.closedAt as number) - welcomedAt).toBeGreaterThanOrEqual(PUBLISH_IDLE_MS - 100);
    expect(errorOf(silent.messages)?.code).toBe(ErrorCode.PublisherIdle);
    expect(slotHolder()).toBeNull();
  }, 30_000);

  it('HTTP: one that sends a byte every 3 s after its last frame gets 408 at 10 s and the slot is freed', async () => {
    const { httpPort } = await publisherServer();
    const jpeg = await makeJpeg();
    const s = net.connect({ host: '127.0.0.1', port: httpPort });
    sockets.push(s);
    s.on('error', () => {});
    let answer = '';
    let answeredAt = 0;
    s.on('data', (d: Buffer) => {
      answer += d.toString('latin1');
      answeredAt ||= Date.now();
    });
    s.write(
      'POST /streams/yard/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n' +
        `${jpeg.length.toString(16)}\r\n`,
    );
    s.write(Buffer.concat([jpeg, Buffer.from('\r\n')]));
    await until(() => slotHolder() !== null, 5000);
    const lastFrameAt = Date.now();
    // One byte of the next image every 3 s, each its own chunk.
    const trickle = setInterval(() => s.write('1\r\n\xff\r\n', 'latin1'), 3000);
    try {
      await until(() => answer.includes('\r\n\r\n'), PUBLISH_IDLE_MS + 5000);
    } finally {
      clearInterval(trickle);
    }
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('no complete frame for 10 s');
    expect(answeredAt - lastFrameAt).toBeGreaterThanOrEqual(PUBLISH_IDLE_MS - 100);
    expect(answeredAt - lastFrameAt).toBeLessThan(PUBLISH_IDLE_MS + 2000);
    await until(() => slotHolder() === null, 2000);
    // The next publisher gets the stream: its whole body is taken.
    const next = await fetch(`http://127.0.0.1:${httpPort}/streams/yard/publish`, {
      method: 'POST',
      body: Buffer.concat([jpeg, jpeg]),
    });
    expect(next.status).toBe(200);
    expect(await next.text()).toBe('2 frames received\n');
  }, 30_000);
});
