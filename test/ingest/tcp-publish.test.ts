import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamClient, parseServerAddress, serve, type FramecastServer } from '../../src/index.js';
import { NativeParser, type NativeMessage } from '../../src/protocol/native-parser.js';
import {
  ErrorCode,
  HelloFlag,
  encodeEnd,
  encodeFrameHeader,
  encodeHello,
  encodeNativeFrame,
} from '../../src/protocol/native.js';
import { openMjpeg } from '../helpers/mjpeg.js';
import { makeJpeg } from '../helpers/native.js';
import { sleep } from '../helpers/processes.js';

let server: FramecastServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

/** A publisher speaking the protocol byte by byte: hello, then FRAMEs; it records what the server says. */
interface RawPublisher {
  messages: NativeMessage[];
  closed: boolean;
  socket: net.Socket;
  send: (jpeg: Buffer, seq: number) => void;
  until: (cond: (m: NativeMessage[]) => boolean, ms?: number) => Promise<void>;
}

function rawPublisher(port: number, stream: string, token = ''): RawPublisher {
  const parser = new NativeParser(1 << 24);
  const p: RawPublisher = {
    messages: [],
    closed: false,
    socket: net.connect({ host: '127.0.0.1', port }),
    send: (jpeg, seq) =>
      p.socket.write(
        encodeNativeFrame(
          { seq, width: 0, height: 0, capturedAt: Date.now(), encodedAt: Date.now(), jpeg },
          Date.now(),
        ),
      ),
    until: async (cond, ms = 5000) => {
      const end = Date.now() + ms;
      while (!cond(p.messages) && Date.now() < end) await sleep(20);
      expect(cond(p.messages)).toBe(true);
    },
  };
  p.socket.on('data', (c: Buffer) => parser.push(c, (m) => p.messages.push(m)));
  p.socket.on('error', () => {});
  p.socket.on('close', () => (p.closed = true));
  p.socket.write(encodeHello(token, Date.now(), 2, HelloFlag.Publish, stream));
  return p;
}

/** A native viewer recording frames and STATUS messages, on one connection. */
function viewer(
  port: number,
  stream: string,
): { frames: Buffer[]; statuses: number[]; ended: boolean; close: () => void } {
  const v = { frames: [] as Buffer[], statuses: [] as number[], ended: false, close: () => c.close() };
  const c = new StreamClient(parseServerAddress(`127.0.0.1:${port}/${stream}`), { protocol: 'native' });
  c.on('frame', (f) => v.frames.push(f.jpeg));
  c.on('status', (code) => v.statuses.push(code));
  c.on('end', () => (v.ended = true));
  c.on('error', () => (v.ended = true));
  c.connect();
  return v;
}

async function until(cond: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(20);
  expect(cond()).toBe(true);
}

const errorOf = (m: NativeMessage[]): { code: number; message: string } | undefined =>
  m.find((x): x is Extract<NativeMessage, { type: 'error' }> => x.type === 'error');

describe('publishing over TCP (native)', () => {
  it('frames go to every viewer byte for byte; no publisher is no-signal; a new one resumes the same viewers', async () => {
    server = await serve({
      port: 0,
      httpPort: 0,
      streams: [{ name: 'cam', source: 'publisher', publishToken: 'pub-secret-1' }],
    });
    const port = server.address().port;
    const v = viewer(port, 'cam');
    // Nobody publishes yet: the viewer is told (STATUS no-signal) and gets the NO SIGNAL picture.
    await until(() => v.statuses.includes(2) && v.frames.length >= 1);
    const mjpeg = openMjpeg(`http://127.0.0.1:${server.httpAddress()?.port}/streams/cam/stream.mjpg`, {
      keep: true,
    });
    const jpegs = await Promise.all([1, 2, 3].map((i) => makeJpeg(320, 240, i)));
    const pub = rawPublisher(port, 'cam', 'pub-secret-1');
    await pub.until((m) => m.some((x) => x.type === 'welcome'));
    const welcome = pub.messages.find((x) => x.type === 'welcome');
    expect(welcome && welcome.type === 'welcome' && welcome.flags & HelloFlag.Publish).toBeTruthy();
    const before = v.frames.length;
    for (const [i, j] of jpegs.entries()) {
      pub.send(j, i);
      await pub.until((m) => m.filter((x) => x.type === 'ack').length > i);
      await sleep(40);
    }
    await until(() => v.frames.length >= before + 3);
    // The exact bytes that came in (no decode, no re-encode), on native and MJPEG alike.
    expect(v.frames.slice(-3)).toEqual(jpegs);
    await until(() => mjpeg.parts.some((p) => p.body.equals(jpegs[2] as Buffer)));
    const acks = pub.messages.filter((x) => x.type === 'ack');
    expect(acks.map((a) => a.type === 'ack' && a.seq)).toEqual([0, 1, 2]);
    // The publisher leaves cleanly: viewers stay, are told no-signal again; a new publisher resumes them.
    pub.socket.end(encodeEnd('eof'));
    const statuses = v.statuses.length;
    await until(() => v.statuses.slice(statuses).includes(2));
    const again = rawPublisher(port, 'cam', 'pub-secret-1');
    await again.until((m) => m.some((x) => x.type === 'welcome'));
    again.send(jpegs[0] as Buffer, 10);
    await until(() => v.frames.at(-1)?.equals(jpegs[0] as Buffer) === true);
    expect(v.ended).toBe(false);
    const stats =
      server.httpAddress() &&
      (await (await fetch(`http://127.0.0.1:${server.httpAddress()?.port}/streams/cam/stats`)).json());
    expect((stats as { encoder: { kind: string } }).encoder.kind).toBe('passthrough');
    again.socket.destroy();
    mjpeg.close();
    v.close();
  }, 30_000);

  it('refuses a missing or wrong publish token, a viewer token, a second publisher, and streams that take none', async () => {
    server = await serve({
      port: 0,
      streams: [
        { name: 'cam', source: 'publisher', publishToken: 'pub-secret-1', readToken: 'view-secret-1' },
        { name: 'pattern', source: 'test' },
      ],
    });
    const port = server.address().port;
    const cases: [string, string, number][] = [
      ['cam', '', ErrorCode.TokenRequired],
      ['cam', 'wrong-token-1', ErrorCode.TokenInvalid],
      ['cam', 'view-secret-1', ErrorCode.TokenInvalid],
      ['pattern', '', ErrorCode.NotPublishable],
      ['nope', '', ErrorCode.UnknownStream],
    ];
    for (const [stream, token, code] of cases) {
      const p = rawPublisher(port, stream, token);
      await p.until((m) => errorOf(m) !== undefined);
      expect([stream, token, errorOf(p.messages)?.code]).toEqual([stream, token, code]);
    }
    const first = rawPublisher(port, 'cam', 'pub-secret-1');
    await first.until((m) => m.some((x) => x.type === 'welcome'));
    const second = rawPublisher(port, 'cam', 'pub-secret-1');
    await second.until((m) => errorOf(m) !== undefined);
    expect(errorOf(second.messages)).toMatchObject({ code: ErrorCode.PublisherActive });
    expect(first.closed).toBe(false);
    first.socket.destroy();
  }, 20_000);

  it('overridePublisher hands the stream to a newcomer; the old one gets END', async () => {
    server = await serve({
      port: 0,
      streams: [{ name: 'cam', source: 'publisher', publishToken: 'pub-secret-1', overridePublisher: true }],
    });
    const port = server.address().port;
    const first = rawPublisher(port, 'cam', 'pub-secret-1');
    await first.until((m) => m.some((x) => x.type === 'welcome'));
    const second = rawPublisher(port, 'cam', 'pub-secret-1');
    await second.until((m) => m.some((x) => x.type === 'welcome'));
    await first.until((m) => m.some((x) => x.type === 'end'));
    expect(first.messages.find((x) => x.type === 'end')).toMatchObject({ reason: 'kicked' });
    second.socket.destroy();
  });

  it('a non-JPEG, an oversize length or a truncated frame ends that publisher only; viewers stay', async () => {
    server = await serve({
      port: 0,
      streams: [{ name: 'cam', source: 'publisher', publishToken: 'pub-secret-1' }],
    });
    const port = server.address().port;
    const v = viewer(port, 'cam');
    const good = await makeJpeg(64, 48, 1);
    const notJpeg = rawPublisher(port, 'cam', 'pub-secret-1');
    await notJpeg.until((m) => m.some((x) => x.type === 'welcome'));
    notJpeg.send(Buffer.from('this is not a JPEG at all'), 0);
    await notJpeg.until((m) => errorOf(m) !== undefined);
    expect(errorOf(notJpeg.messages)).toMatchObject({ code: ErrorCode.BadFrame });
    // An oversize declared length is refused from the header alone: the body is never sent.
    const big = rawPublisher(port, 'cam', 'pub-secret-1');
    await big.until((m) => m.some((x) => x.type === 'welcome'));
    const header = encodeFrameHeader(
      { seq: 0, width: 1, height: 1, capturedAt: 0, encodedAt: 0, jpeg: good },
      0,
    );
    header.writeUInt32BE(64 * 1024 * 1024, 4);
    big.socket.write(header);
    await big.until((m) => errorOf(m) !== undefined);
    expect(errorOf(big.messages)).toMatchObject({ code: ErrorCode.BadFrame });
    // Half a frame, then gone: the stream is no-signal again, the viewer stays connected.
    const cut = rawPublisher(port, 'cam', 'pub-secret-1');
    await cut.until((m) => m.some((x) => x.type === 'welcome'));
    const whole = encodeNativeFrame(
      { seq: 0, width: 0, height: 0, capturedAt: 0, encodedAt: 0, jpeg: good },
      0,
    );
    cut.socket.end(whole.subarray(0, whole.length - 10));
    await until(() => cut.closed);
    const ok = rawPublisher(port, 'cam', 'pub-secret-1');
    await ok.until((m) => m.some((x) => x.type === 'welcome'));
    ok.send(good, 1);
    await until(() => v.frames.at(-1)?.equals(good) === true);
    expect(v.ended).toBe(false);
    ok.socket.destroy();
    v.close();
  }, 20_000);

  it('a server bound beyond loopback refuses a publisher stream without a publish token', async () => {
    await expect(
      serve({ host: '0.0.0.0', port: 0, streams: [{ name: 'cam', source: 'publisher' }] }),
    ).rejects.toThrow(/stream cam takes publishers but has no publishToken/);
    server = await serve({
      host: '0.0.0.0',
      port: 0,
      allowAnonymousPublish: true,
      streams: [{ name: 'cam', source: 'publisher' }],
    });
    expect(server.streams.get('cam')?.ingest).not.toBeNull();
  });
});
