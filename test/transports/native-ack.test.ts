/**
 * The server side of ACK flow control over raw sockets: the WELCOME echoes the honoured flag, an
 * acknowledging client gets at most 2 unacknowledged frames, anything but ACK after the hello is an
 * ERROR and a close, and clients without the flag are served as before.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeParser, type NativeMessage } from '../../src/protocol/native-parser.js';
import { ErrorCode, HelloFlag, encodeAck, encodeHello } from '../../src/protocol/native.js';
import { publishingServer, type PublishingServer } from '../helpers/native.js';

let srv: PublishingServer;

beforeAll(async () => {
  srv = await publishingServer({ httpPort: null }, 10);
});
afterAll(async () => {
  await srv.close();
});

type Frame = Extract<NativeMessage, { type: 'frame' }>;

/** A raw native connection that records messages and lets the test write more bytes. */
function raw(flags: number): {
  socket: net.Socket;
  messages: NativeMessage[];
  frames: () => Frame[];
  closed: Promise<void>;
} {
  const messages: NativeMessage[] = [];
  const parser = new NativeParser(1 << 24);
  const socket = net.connect({ host: '127.0.0.1', port: srv.port });
  socket.once('connect', () => socket.write(encodeHello('', Date.now(), undefined, flags)));
  socket.on('data', (c: Buffer) => parser.push(c, (m) => messages.push(m)));
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  return { socket, messages, frames: () => messages.filter((m): m is Frame => m.type === 'frame'), closed };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('native ACK flow control (server)', () => {
  it('holds an acknowledging client at 2 unacknowledged frames and sends the newest on each ACK', async () => {
    const c = raw(HelloFlag.Ack);
    try {
      await sleep(400); // 40 frames published meanwhile
      expect(c.messages[0]).toMatchObject({ type: 'welcome', flags: HelloFlag.Ack });
      expect(c.frames()).toHaveLength(2);
      // Acknowledging the first frame opens one slot: the next frame is the newest one, not the third.
      const [first, second] = c.frames() as [Frame, Frame];
      c.socket.write(encodeAck(first.seq));
      await sleep(150);
      expect(c.frames()).toHaveLength(3);
      const third = c.frames()[2] as Frame;
      expect(third.seq - second.seq).toBeGreaterThan(20);
      // An ACK is cumulative; unknown or stale seqs change nothing.
      c.socket.write(Buffer.concat([encodeAck(123456789), encodeAck(first.seq)]));
      await sleep(150);
      expect(c.frames()).toHaveLength(3);
      c.socket.write(encodeAck(third.seq));
      await sleep(150);
      expect(c.frames()).toHaveLength(5);
      expect(srv.server.hub.clients[0]?.stats().drops ?? 0).toBeGreaterThan(30);
    } finally {
      c.socket.destroy();
    }
  });

  it('lets an ACK set the window: 4 frames in flight after the client asked for 4', async () => {
    const c = raw(HelloFlag.Ack);
    try {
      await sleep(300);
      expect(c.frames()).toHaveLength(2);
      const first = c.frames()[0] as Frame;
      c.socket.write(encodeAck(first.seq, 4));
      await sleep(300);
      // One acknowledged, four unacknowledged now: 5 in all.
      expect(c.frames()).toHaveLength(5);
    } finally {
      c.socket.destroy();
    }
  });

  it('serves a client without the flag as before: WELCOME flags 0, every frame, ACKs ignored', async () => {
    const c = raw(0);
    try {
      await sleep(200);
      c.socket.write(encodeAck(0));
      await sleep(200);
      expect(c.messages[0]).toMatchObject({ type: 'welcome', flags: 0 });
      expect(c.frames().length).toBeGreaterThan(20);
      expect(c.socket.destroyed).toBe(false);
    } finally {
      c.socket.destroy();
    }
  });

  it('answers anything but an ACK after the hello with ERROR 9 and closes', async () => {
    for (const bytes of [
      Buffer.from('GET / HTTP/1.1\r\n\r\n'),
      Buffer.from('0600ffff00000000', 'hex'),
      Buffer.from('06000004000000100000000000', 'hex'),
    ]) {
      const c = raw(HelloFlag.Ack);
      await sleep(100);
      c.socket.write(Buffer.concat([encodeAck(0), bytes]));
      await Promise.race([c.closed, sleep(3000)]);
      const last = c.messages.at(-1);
      expect(last).toMatchObject({ type: 'error', code: ErrorCode.BadMessage });
      expect(c.socket.destroyed || c.socket.readableEnded).toBe(true);
    }
  });
});
