/**
 * The native handshake driven by hand (createNativeHandshake on a plain TCP server): the paths a hello
 * can take after its bytes are read — access refused in each of its words, publishers, playback,
 * renditions, annotators, the version spoken, a full server and an upgrading connection — with the
 * exact ERROR or WELCOME a client receives, and what the hook hands the TCP server.
 */
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Access, type AccessRequest, type Action, type Decision } from '../../src/access/access.js';
import { Frame } from '../../src/hub/frame.js';
import { Hub } from '../../src/hub/hub.js';
import { PublisherSlot } from '../../src/ingest/publish/publisher-slot.js';
import {
  ErrorCode,
  HelloFlag,
  MetaKind,
  NATIVE_VERSION,
  StatusCode,
  encodeAck,
  encodeHello,
  encodeMeta,
} from '../../src/protocol/native.js';
import { NativeParser, type NativeMessage } from '../../src/protocol/native-parser.js';
import {
  createNativeHandshake,
  type NativeHandshakeOptions,
} from '../../src/transports/tcp/native-handshake.js';
import type { StreamTarget } from '../../src/transports/stream-target.js';
import { FakeProducer } from '../hub/fakes.js';

/** Access whose every answer is scripted by action; it notes each request. */
class ScriptedAccess extends Access {
  readonly asked: AccessRequest[] = [];
  constructor(
    readonly answers: Partial<Record<Action, Decision | Error>>,
    serverToken: string | null = null,
  ) {
    super({ token: serverToken });
  }
  override authorize(req: AccessRequest): Promise<Decision> {
    this.asked.push(req);
    const a = this.answers[req.action] ?? { allowed: true };
    return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
  }
}

/** An analyzer's annotation of frame `seq`, as a client sends it. */
const annotation = (seq: number, json: string): Buffer =>
  encodeMeta({ seq, kind: MetaKind.Annotation, name: 'det', capturedAt: 0, json: Buffer.from(json) });

/** Access that answers only when told: release() allows every request asked so far. */
class SlowAccess extends ScriptedAccess {
  readonly #waiting: ((d: Decision) => void)[] = [];
  constructor() {
    super({});
  }
  override authorize(req: AccessRequest): Promise<Decision> {
    this.asked.push(req);
    return new Promise((r) => this.#waiting.push(r));
  }
  release(): void {
    for (const r of this.#waiting.splice(0)) r({ allowed: true });
  }
}

const refused = (refusal: Extract<Decision, { allowed: false }>['refusal']): Decision => ({
  allowed: false,
  refusal,
});

function hubOf(): { hub: Hub; producer: () => FakeProducer } {
  let producer: FakeProducer | null = null;
  const hub = new Hub({
    createProducer: () => (producer = new FakeProducer(0)),
    maxClients: 10,
    maxWaiting: 0,
    lossless: false,
  });
  return { hub, producer: () => producer as FakeProducer };
}

function targetOf(name: string, extra: Partial<StreamTarget> = {}): StreamTarget & { hub: Hub } {
  return { name, hub: hubOf().hub, lossless: false, readToken: null, hasRoom: () => true, ...extra };
}

type Outcome = { hub: Hub | null } | { error: string; code: string | undefined };

interface Harness {
  port: number;
  /** What the hook settled with, per connection: the hub joined, null (a publisher), or the error. */
  outcomes: Promise<Outcome>[];
  /** The i-th connection's outcome, once its first bytes came. */
  outcome(i: number): Promise<Outcome>;
  close(): Promise<void>;
}

const servers: { server: net.Server; sockets: Set<net.Socket> }[] = [];
afterEach(async () => {
  for (const { server, sockets } of servers.splice(0)) {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  }
});

async function harness(
  opts: Omit<NativeHandshakeOptions, 'access'> & { access?: Access },
  upgrading = false,
): Promise<Harness> {
  const hook = createNativeHandshake({ access: opts.access ?? new Access({ token: null }), ...opts });
  const outcomes: Harness['outcomes'] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', (first: Buffer) => {
      socket.pause();
      outcomes.push(
        (upgrading ? hook(socket, first, true) : hook(socket, first)).then(
          (r) => {
            // As the TCP server does (through admission): the subscriber joins the hub it was given.
            r?.hub.join(r.sub);
            return { hub: r?.hub ?? null };
          },
          (err: Error & { code?: string }) => ({ error: err.message, code: err.code }),
        ),
      );
    });
  });
  servers.push({ server, sockets });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r));
  return {
    port: (server.address() as net.AddressInfo).port,
    outcomes,
    outcome: async (i) => {
      await vi.waitFor(() => expect(outcomes.length).toBeGreaterThan(i));
      return outcomes[i] as Promise<Outcome>;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
    },
  };
}

interface Session {
  messages: NativeMessage[];
  /** The version the server's preamble announced. */
  version: number;
  closed: boolean;
  socket: net.Socket;
}

/** Sends `hello` (and `after`, once the WELCOME is in), reads until `until` or the close. */
function talk(
  port: number,
  hello: Buffer,
  opts: { until?: (m: NativeMessage[]) => boolean; after?: Buffer; timeoutMs?: number } = {},
): Promise<Session> {
  return new Promise((resolve) => {
    const parser = new NativeParser(1 << 20);
    const socket = net.connect({ host: '127.0.0.1', port });
    const s: Session = { messages: [], version: 0, closed: false, socket };
    const done = (): void => {
      clearTimeout(timer);
      resolve(s);
    };
    const timer = setTimeout(done, opts.timeoutMs ?? 3000);
    socket.on('error', () => {});
    socket.once('connect', () => socket.write(hello));
    socket.on('data', (chunk: Buffer) => {
      parser.push(chunk, (m) => {
        s.messages.push(m);
        if (m.type === 'welcome' && opts.after) socket.write(opts.after);
      });
      s.version = parser.version;
      if (opts.until?.(s.messages)) done();
    });
    socket.once('close', () => {
      s.closed = true;
      done();
    });
  });
}

const welcomeOf = (s: Session): Extract<NativeMessage, { type: 'welcome' }> | undefined =>
  s.messages.find((m): m is Extract<NativeMessage, { type: 'welcome' }> => m.type === 'welcome');
const errorOf = (s: Session): { code: number; message: string } | undefined => {
  const e = s.messages.find((m): m is Extract<NativeMessage, { type: 'error' }> => m.type === 'error');
  return e ? { code: e.code, message: e.message } : undefined;
};
const welcomed = (m: NativeMessage[]): boolean => m.some((x) => x.type === 'welcome');

describe('native handshake: access refusals in the protocol’s words', () => {
  const cases: [string, Decision, number, string, string][] = [
    ['token-invalid', refused('token-invalid'), ErrorCode.TokenInvalid, 'wrong token', 'wrong publish token'],
    ['disabled', refused('disabled'), ErrorCode.TokenInvalid, 'wrong token', 'wrong publish token'],
    [
      'forbidden',
      refused('forbidden'),
      ErrorCode.Forbidden,
      'not permitted to read cam',
      'not permitted to publish to cam',
    ],
    [
      'rate-limited',
      refused('rate-limited'),
      ErrorCode.TooManyFailures,
      'too many failed logins from this address: try again later',
      'too many failed logins from this address: try again later',
    ],
    [
      'unknown-stream',
      refused('unknown-stream'),
      ErrorCode.UnknownStream,
      'no stream named cam',
      'no stream named cam',
    ],
  ];
  it.each(cases)(
    '%s: a viewer and a publisher each get their ERROR and the hook rejects',
    async (_n, d, code, read, pub) => {
      const access = new ScriptedAccess({ read: d, publish: d });
      const h = await harness({
        access,
        resolve: () => targetOf('cam', { ingest: new PublisherSlot(false) }),
      });
      const viewer = await talk(h.port, encodeHello('tok', 1, undefined, 0, 'cam'));
      expect(errorOf(viewer)).toEqual({ code, message: read });
      expect(viewer.closed).toBe(true);
      const publisher = await talk(h.port, encodeHello('tok', 1, undefined, HelloFlag.Publish, 'cam'));
      expect(errorOf(publisher)).toEqual({ code, message: pub });
      const kind = code === ErrorCode.UnknownStream ? 'ERR_PROTOCOL' : 'ERR_AUTH';
      expect(await Promise.all(h.outcomes)).toEqual([
        { error: read, code: kind },
        { error: pub, code: kind },
      ]);
    },
  );

  it('token-required names the server when it has a token, else the stream; a publisher its publish token', async () => {
    for (const [serverToken, read] of [
      ['s3cret', 'this server requires a token'],
      [null, 'this stream requires a token'],
    ] as const) {
      const access = new ScriptedAccess(
        { read: refused('token-required'), publish: refused('token-required') },
        serverToken,
      );
      const h = await harness({ access, resolve: () => targetOf('cam') });
      expect(errorOf(await talk(h.port, encodeHello('', 1, undefined, 0, 'cam')))).toEqual({
        code: ErrorCode.TokenRequired,
        message: read,
      });
      expect(errorOf(await talk(h.port, encodeHello('', 1, undefined, HelloFlag.Publish, 'cam')))).toEqual({
        code: ErrorCode.TokenRequired,
        message: 'publishing to cam requires its publish token',
      });
    }
  });

  it('asks access once per hello with what the hello carries; the default stream by its name', async () => {
    const access = new ScriptedAccess({});
    const cam = targetOf('cam');
    const h = await harness({ access, resolve: (name) => (name === null || name === 'cam' ? cam : null) });
    await talk(h.port, encodeHello('abc', 1, undefined, 0, 'cam'), { until: welcomed });
    await talk(h.port, encodeHello('', 1), { until: welcomed });
    expect(access.asked).toEqual([
      {
        action: 'read',
        name: 'cam',
        stream: cam,
        credentials: { token: 'abc', user: null, password: null },
        ip: '127.0.0.1',
        protocol: 'native',
      },
      expect.objectContaining({
        action: 'read',
        name: 'cam',
        stream: cam,
        credentials: expect.objectContaining({ token: '' }),
      }),
    ]);
  });

  it('a stream that does not exist, allowed by access: UnknownStream naming it (default when none is named)', async () => {
    const h = await harness({ access: new ScriptedAccess({}), resolve: () => null });
    expect(errorOf(await talk(h.port, encodeHello('', 1, undefined, 0, 'nope')))).toEqual({
      code: ErrorCode.UnknownStream,
      message: 'no stream named nope',
    });
    expect(errorOf(await talk(h.port, encodeHello('', 1)))).toEqual({
      code: ErrorCode.UnknownStream,
      message: 'no stream named default',
    });
    // Access saw no stream for either.
  });

  it('access that fails: ERROR Internal naming why, never a hang', async () => {
    const h = await harness({
      access: new ScriptedAccess({ read: new Error('hook down') }),
      resolve: () => targetOf('cam'),
    });
    expect(errorOf(await talk(h.port, encodeHello('', 1, undefined, 0, 'cam')))).toEqual({
      code: ErrorCode.Internal,
      message: 'access failed: hook down',
    });
  });
});

describe('native handshake: annotators', () => {
  it('may annotate: WELCOME honours Annotate; an annotation of an unknown frame is refused to it alone as STATUS', async () => {
    const access = new ScriptedAccess({});
    const target = targetOf('cam');
    const h = await harness({ access, resolve: () => target });
    const s = await talk(h.port, encodeHello('', 1, undefined, HelloFlag.Annotate | HelloFlag.Ack, 'cam'), {
      after: annotation(999, '{"boxes":[]}'),
      until: (m) => m.some((x) => x.type === 'status'),
    });
    expect(welcomeOf(s)?.flags).toBe(HelloFlag.Annotate | HelloFlag.Ack);
    expect(access.asked.map((r) => r.action)).toEqual(['read', 'annotate']);
    expect(s.messages.find((m) => m.type === 'status')).toMatchObject({
      type: 'status',
      code: StatusCode.AnnotationRefused,
      value: 409,
      message: "annotation refused: seq 999 is not one of the stream's recent frames",
    });
  });

  it('may read but not annotate: TokenInvalid naming the stream; rate-limited: TooManyFailures', async () => {
    const h1 = await harness({
      access: new ScriptedAccess({ annotate: refused('forbidden') }),
      resolve: () => targetOf('cam'),
    });
    expect(errorOf(await talk(h1.port, encodeHello('', 1, undefined, HelloFlag.Annotate, 'cam')))).toEqual({
      code: ErrorCode.TokenInvalid,
      message: 'this token cannot annotate stream cam',
    });
    const h2 = await harness({
      access: new ScriptedAccess({ annotate: refused('rate-limited') }),
      resolve: () => targetOf('cam'),
    });
    expect(errorOf(await talk(h2.port, encodeHello('', 1, undefined, HelloFlag.Annotate, 'cam')))?.code).toBe(
      ErrorCode.TooManyFailures,
    );
  });

  it('a viewer who did not ask to annotate is not asked about it, and its annotations are a bad message', async () => {
    const access = new ScriptedAccess({ annotate: refused('forbidden') });
    const h = await harness({ access, resolve: () => targetOf('cam') });
    const s = await talk(h.port, encodeHello('', 1, undefined, 0, 'cam'), {
      after: annotation(1, '{}'),
      until: (m) => m.some((x) => x.type === 'error'),
    });
    expect(welcomeOf(s)?.flags).toBe(0);
    expect(errorOf(s)?.code).toBe(ErrorCode.BadMessage);
    expect(access.asked.map((r) => r.action)).toEqual(['read']);
  });
});

describe('native handshake: publishers', () => {
  it('a stream that takes no publisher: NotPublishable', async () => {
    const h = await harness({ resolve: () => targetOf('cam') });
    expect(errorOf(await talk(h.port, encodeHello('', 1, undefined, HelloFlag.Publish, 'cam')))).toEqual({
      code: ErrorCode.NotPublishable,
      message: 'stream cam takes no publisher (its source is not publisher)',
    });
  });

  it('the first publisher is welcomed (Publish, and Meta when asked; nothing else) and the hook hands over no hub; a second is refused', async () => {
    const slot = new PublisherSlot(false);
    const access = new ScriptedAccess({});
    const h = await harness({ access, resolve: () => targetOf('cam', { ingest: slot }) });
    const flags = HelloFlag.Publish | HelloFlag.Meta | HelloFlag.Ack | HelloFlag.Annotate;
    const first = await talk(h.port, encodeHello('', 1, undefined, flags, 'cam'), { until: welcomed });
    expect(welcomeOf(first)?.flags).toBe(HelloFlag.Publish | HelloFlag.Meta);
    expect(access.asked.map((r) => r.action)).toEqual(['publish']);
    expect(await h.outcome(0)).toEqual({ hub: null });
    expect(slot.current).not.toBeNull();
    const second = await talk(h.port, encodeHello('', 1, undefined, HelloFlag.Publish, 'cam'));
    expect(errorOf(second)).toEqual({
      code: ErrorCode.PublisherActive,
      message: 'stream cam already has a publisher',
    });
    const plain = await talk(h.port, encodeHello('', 1, undefined, HelloFlag.Publish, 'cam'), {
      until: welcomed,
    });
    expect(errorOf(plain)?.code).toBe(ErrorCode.PublisherActive);
    first.socket.destroy();
    await h.close();
  });
});

describe('native handshake: playback', () => {
  const at = { start: 1_700_000_000_000, speed: 1 };
  it('a server that plays nothing back: NoRecording', async () => {
    const h = await harness({ resolve: () => targetOf('cam') });
    expect(errorOf(await talk(h.port, encodeHello('', 1, 2, HelloFlag.Playback, 'cam', at)))).toEqual({
      code: ErrorCode.NoRecording,
      message: 'this server plays nothing back',
    });
  });

  it('no recording at that time: NoRecording with the store’s words; a failed lookup: Internal', async () => {
    const asked: unknown[] = [];
    const h1 = await harness({
      resolve: () => targetOf('cam'),
      playback: (t, req) => {
        asked.push([t.name, req]);
        return Promise.resolve('nothing recorded at that time');
      },
    });
    expect(errorOf(await talk(h1.port, encodeHello('', 1, 2, HelloFlag.Playback, 'cam', at)))).toEqual({
      code: ErrorCode.NoRecording,
      message: 'nothing recorded at that time',
    });
    expect(asked).toEqual([['cam', at]]);
    const h2 = await harness({
      resolve: () => targetOf('cam'),
      playback: () => Promise.reject(new Error('disk gone')),
    });
    expect(errorOf(await talk(h2.port, encodeHello('', 1, 2, HelloFlag.Playback, 'cam', at)))).toEqual({
      code: ErrorCode.Internal,
      message: 'playback failed: disk gone',
    });
  });

  it('found: the client joins the recording’s own hub (not the live one), asked as playback; Annotate is not honoured', async () => {
    const access = new ScriptedAccess({});
    const live = targetOf('cam');
    const rec = hubOf();
    const h = await harness({ access, resolve: () => live, playback: () => Promise.resolve(rec.hub) });
    const flags = HelloFlag.Playback | HelloFlag.Ack | HelloFlag.Meta | HelloFlag.Annotate;
    const s = talk(h.port, encodeHello('', 1, 2, flags, 'cam', at), {
      until: (m) => m.some((x) => x.type === 'frame'),
    });
    expect(await h.outcome(0)).toEqual({ hub: rec.hub });
    rec.producer().frame();
    const got = await s;
    expect(welcomeOf(got)?.flags).toBe(HelloFlag.Playback | HelloFlag.Ack | HelloFlag.Meta);
    expect(got.messages.some((m) => m.type === 'frame')).toBe(true);
    expect(live.hub.clientCount).toBe(0);
    expect(access.asked.map((r) => r.action)).toEqual(['playback']);
  });
});

describe('native handshake: renditions and rates', () => {
  it('a view of another size joins the rendition’s hub (View honoured), asked with the hello’s width and quality, no rate', async () => {
    const rendition = hubOf();
    const asked: unknown[] = [];
    const cam = targetOf('cam', {
      renditions: {
        hubFor: (req) => {
          asked.push(req);
          return rendition.hub;
        },
      },
    });
    const h = await harness({ resolve: () => cam });
    const view = { width: 320, quality: 60, fps: 5 };
    const s = talk(h.port, encodeHello('', 1, 2, HelloFlag.View | HelloFlag.Ack, 'cam', null, view), {
      until: (m) => m.some((x) => x.type === 'frame'),
    });
    expect(await h.outcome(0)).toEqual({ hub: rendition.hub });
    rendition.producer().frame();
    const got = await s;
    expect(welcomeOf(got)?.flags).toBe(HelloFlag.View | HelloFlag.Ack);
    expect(asked).toEqual([{ width: 320, quality: 60, fps: null }]);
    expect([rendition.hub.clientCount, cam.hub.clientCount]).toEqual([1, 0]);
  });

  it('a view the stream serves itself (its own hub back) stays on the stream, View still honoured; no view, no rendition asked', async () => {
    let asked = 0;
    const cam = targetOf('cam');
    const own = { ...cam, renditions: { hubFor: () => (asked++, cam.hub) } };
    const h = await harness({ resolve: () => own });
    const s = await talk(
      h.port,
      encodeHello('', 1, 2, HelloFlag.View, 'cam', null, { width: null, quality: null, fps: 2 }),
      {
        until: welcomed,
      },
    );
    expect(welcomeOf(s)?.flags).toBe(HelloFlag.View);
    expect(await h.outcome(0)).toEqual({ hub: cam.hub });
    await talk(h.port, encodeHello('', 1, 2, 0, 'cam'), { until: welcomed });
    expect(asked).toBe(1);
  });

  it('a view asked with a playback plays the recording as it is (no rendition)', async () => {
    let asked = 0;
    const rec = hubOf();
    const cam = targetOf('cam', { renditions: { hubFor: () => (asked++, hubOf().hub) } });
    const h = await harness({ resolve: () => cam, playback: () => Promise.resolve(rec.hub) });
    const flags = HelloFlag.Playback | HelloFlag.View;
    await talk(
      h.port,
      encodeHello('', 1, 2, flags, 'cam', { start: 0, speed: 1 }, { width: 320, quality: null, fps: null }),
      {
        until: welcomed,
      },
    );
    expect(await h.outcome(0)).toEqual({ hub: rec.hub });
    expect(asked).toBe(0);
  });
});

describe('native handshake: versions, room, and what comes before the WELCOME', () => {
  it('speaks the lower of the two versions: a version-1 hello gets a version-1 WELCOME, a newer one ours', async () => {
    const h = await harness({ resolve: () => targetOf('cam') });
    expect((await talk(h.port, encodeHello('', 1, 1), { until: welcomed })).version).toBe(1);
    const newer = encodeHello('', 1, 2);
    newer.writeUInt8(NATIVE_VERSION + 5, 4);
    const s = await talk(h.port, newer, { until: welcomed });
    expect(welcomeOf(s)).toBeDefined();
    expect(s.version).toBe(NATIVE_VERSION);
  });

  it('version 0: UnsupportedVersion', async () => {
    const h = await harness({ resolve: () => targetOf('cam') });
    const zero = encodeHello('', 1, 1);
    zero.writeUInt8(0, 4);
    const s = await talk(h.port, zero);
    expect(errorOf(s)).toEqual({
      code: ErrorCode.UnsupportedVersion,
      message: 'unsupported native protocol version 0',
    });
    expect(await h.outcome(0)).toEqual({
      error: 'unsupported native protocol version 0',
      code: 'ERR_PROTOCOL',
    });
  });

  it('a stream with no room: ServerFull, unless the connection is being upgraded (it already holds its place)', async () => {
    const full = (): StreamTarget => targetOf('cam', { hasRoom: () => false });
    const h = await harness({ resolve: full });
    expect(errorOf(await talk(h.port, encodeHello('', 1)))).toEqual({
      code: ErrorCode.ServerFull,
      message: 'server full: no place and the waiting line is full',
    });
    const up = await harness({ resolve: full }, true);
    expect(welcomeOf(await talk(up.port, encodeHello('', 1), { until: welcomed }))).toBeDefined();
  });

  it('more than 64 KiB sent while access decides: BadMessage; bytes under it wait and are read after the WELCOME', async () => {
    const slow = new SlowAccess();
    const target = targetOf('cam');
    const h = await harness({ access: slow, resolve: () => target });
    const flood = talk(h.port, Buffer.concat([encodeHello('', 1), Buffer.alloc(70 * 1024)]));
    expect(errorOf(await flood)).toEqual({
      code: ErrorCode.BadMessage,
      message: 'too much sent before WELCOME',
    });
    // An ACK sent with the hello is kept for the subscriber: the connection is served, not refused.
    const early = talk(h.port, Buffer.concat([encodeHello('', 1, undefined, HelloFlag.Ack), encodeAck(0)]), {
      until: welcomed,
    });
    await vi.waitFor(() => expect(slow.asked).toHaveLength(2));
    slow.release();
    const s = await early;
    expect(welcomeOf(s)?.flags).toBe(HelloFlag.Ack);
    expect(errorOf(s)).toBeUndefined();
  });

  it('a client that closes during the hello: the hook rejects with that, once', async () => {
    const h = await harness({ resolve: () => targetOf('cam') });
    const socket = net.connect({ host: '127.0.0.1', port: h.port });
    socket.on('error', () => {});
    socket.write('FCST');
    await vi.waitFor(() => expect(h.outcomes).toHaveLength(1));
    socket.destroy();
    expect(await h.outcomes[0]).toEqual({ error: 'closed during the hello', code: 'ERR_PROTOCOL' });
  });
});

describe('native handshake: what the hook rejects with', () => {
  /** A refusal's rejection as the TCP server logs it: the message, ERR_AUTH for credentials, else ERR_PROTOCOL. */
  const cases: [string, () => Promise<Harness>, Buffer, string, string][] = [
    [
      'a bad hello',
      () => harness({ resolve: () => targetOf('cam') }),
      (() => {
        const bad = encodeHello('', 0);
        bad.writeUInt16BE(5000, 6);
        return bad;
      })(),
      'ERR_PROTOCOL',
      'bad hello: ',
    ],
    [
      'no annotating',
      () =>
        harness({
          access: new ScriptedAccess({ annotate: refused('forbidden') }),
          resolve: () => targetOf('cam'),
        }),
      encodeHello('', 1, undefined, HelloFlag.Annotate, 'cam'),
      'ERR_AUTH',
      'this token cannot annotate stream cam',
    ],
    [
      'no room',
      () => harness({ resolve: () => targetOf('cam', { hasRoom: () => false }) }),
      encodeHello('', 1),
      'ERR_PROTOCOL',
      'server full: no place and the waiting line is full',
    ],
    [
      'no playback',
      () => harness({ resolve: () => targetOf('cam') }),
      encodeHello('', 1, 2, HelloFlag.Playback, 'cam', { start: 0, speed: 1 }),
      'ERR_PROTOCOL',
      'this server plays nothing back',
    ],
    [
      'no recording',
      () => harness({ resolve: () => targetOf('cam'), playback: () => Promise.resolve('none then') }),
      encodeHello('', 1, 2, HelloFlag.Playback, 'cam', { start: 0, speed: 1 }),
      'ERR_PROTOCOL',
      'none then',
    ],
    [
      'a failed lookup',
      () => harness({ resolve: () => targetOf('cam'), playback: () => Promise.reject(new Error('gone')) }),
      encodeHello('', 1, 2, HelloFlag.Playback, 'cam', { start: 0, speed: 1 }),
      'ERR_PROTOCOL',
      'playback failed: gone',
    ],
    [
      'a failed access',
      () =>
        harness({ access: new ScriptedAccess({ read: new Error('down') }), resolve: () => targetOf('cam') }),
      encodeHello('', 1, undefined, 0, 'cam'),
      'ERR_PROTOCOL',
      'access failed: down',
    ],
    [
      'a token required',
      () =>
        harness({
          access: new ScriptedAccess({ read: refused('token-required') }),
          resolve: () => targetOf('cam'),
        }),
      encodeHello('', 1, undefined, 0, 'cam'),
      'ERR_AUTH',
      'this stream requires a token',
    ],
    [
      'no publisher taken',
      () => harness({ resolve: () => targetOf('cam') }),
      encodeHello('', 1, undefined, HelloFlag.Publish, 'cam'),
      'ERR_PROTOCOL',
      'stream cam takes no publisher (its source is not publisher)',
    ],
    [
      'a publisher already there',
      () => {
        const slot = new PublisherSlot(false);
        slot.claim({ address: 'x', close: () => {} } as unknown as Parameters<PublisherSlot['claim']>[0]);
        return harness({ resolve: () => targetOf('cam', { ingest: slot }) });
      },
      encodeHello('', 1, undefined, HelloFlag.Publish, 'cam'),
      'ERR_PROTOCOL',
      'stream cam already has a publisher',
    ],
  ];
  it.each(cases)('%s', async (_name, make, hello, code, message) => {
    const h = await make();
    const s = await talk(h.port, hello);
    expect(errorOf(s)?.message.startsWith(message)).toBe(true);
    const out = await h.outcome(0);
    expect(out).toMatchObject({ code });
    expect('error' in out && out.error.startsWith(message)).toBe(true);
  });

  it('a hello that never completes: HandshakeTimeout naming the time', async () => {
    const h = await harness({ resolve: () => targetOf('cam'), helloTimeoutMs: 100 });
    const s = await talk(h.port, Buffer.from('FCST'));
    expect(errorOf(s)).toEqual({
      code: ErrorCode.HandshakeTimeout,
      message: 'no complete hello within 100 ms',
    });
    expect(await h.outcome(0)).toEqual({ error: 'no complete hello within 100 ms', code: 'ERR_PROTOCOL' });
  });

  it('a crowd of hellos: refused as such; a hello finished (welcomed) frees its place', async () => {
    const h = await harness({ resolve: () => targetOf('cam'), maxPending: 1 });
    for (let i = 0; i < 3; i++)
      expect(welcomeOf(await talk(h.port, encodeHello('', 1), { until: welcomed }))).toBeDefined();
    const slow = net.connect({ host: '127.0.0.1', port: h.port });
    slow.on('error', () => {});
    slow.write('FCST');
    await vi.waitFor(() => expect(h.outcomes).toHaveLength(4));
    const s = await talk(h.port, encodeHello('', 1));
    expect(errorOf(s)).toEqual({ code: ErrorCode.ServerFull, message: 'too many connections in handshake' });
    expect(await h.outcome(4)).toEqual({ error: 'too many connections in handshake', code: 'ERR_PROTOCOL' });
    slow.destroy();
  });
});

describe('native handshake: after the WELCOME, what the hello’s flags make of the connection', () => {
  /** A stream whose frames the test makes: `emit(seq, capturedAt, meta)` once a viewer joined. */
  function fed(): {
    target: StreamTarget & { hub: Hub };
    emit: (seq: number, capturedAt?: number, meta?: string) => Frame;
  } {
    const { hub, producer } = hubOf();
    return {
      target: { name: 'cam', hub, lossless: false, readToken: null, hasRoom: () => true },
      emit: (seq, capturedAt = seq, meta) => {
        const f = new Frame({
          seq,
          width: 8,
          height: 8,
          capturedAt,
          encodedAt: capturedAt,
          jpeg: Buffer.alloc(10, seq),
          ...(meta ? { meta: Buffer.from(meta) } : {}),
        });
        producer().emit('frame', f);
        return f;
      },
    };
  }
  const seqs = (s: Session): number[] => s.messages.flatMap((m) => (m.type === 'frame' ? [m.seq] : []));
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 80));

  /** A live connection: its messages as they come, bytes to send, its end. */
  function open(port: number, hello: Buffer): { s: Session; send: (b: Buffer) => void; end: () => void } {
    const parser = new NativeParser(1 << 20);
    const socket = net.connect({ host: '127.0.0.1', port });
    const s: Session = { messages: [], version: 0, closed: false, socket };
    socket.on('error', () => {});
    socket.once('connect', () => socket.write(hello));
    socket.on('data', (chunk: Buffer) => parser.push(chunk, (m) => s.messages.push(m)));
    socket.once('close', () => (s.closed = true));
    return { s, send: (b) => socket.write(b), end: () => socket.destroy() };
  }

  it('Ack: at most the window in flight until the client acknowledges, then the newest; without it, every frame', async () => {
    const { target, emit } = fed();
    const h = await harness({ resolve: () => target });
    const acking = open(h.port, encodeHello('', 1, undefined, HelloFlag.Ack));
    const plain = open(h.port, encodeHello('', 1));
    await h.outcome(0);
    await h.outcome(1);
    for (let i = 0; i < 6; i++) {
      emit(i);
      await vi.waitFor(() => expect(seqs(plain.s)).toContain(i));
    }
    expect(seqs(plain.s)).toEqual([0, 1, 2, 3, 4, 5]);
    await settle();
    expect(seqs(acking.s)).toEqual([0, 1]);
    acking.send(encodeAck(1));
    await vi.waitFor(() => expect(seqs(acking.s)).toEqual([0, 1, 5]));
    acking.end();
    plain.end();
  });

  it('an ACK sent with the hello is read: its window (8) lets 6 frames through unacknowledged', async () => {
    const { target, emit } = fed();
    const h = await harness({ resolve: () => target });
    const c = open(h.port, Buffer.concat([encodeHello('', 1, undefined, HelloFlag.Ack), encodeAck(0, 8)]));
    await h.outcome(0);
    for (let i = 0; i < 6; i++) {
      emit(i);
      await vi.waitFor(() => expect(seqs(c.s)).toContain(i));
    }
    expect(seqs(c.s)).toEqual([0, 1, 2, 3, 4, 5]);
    c.end();
  });

  it('Meta and Annotations: each only to the client that asked; an accepted annotation is no STATUS to its sender', async () => {
    const { target, emit } = fed();
    const h = await harness({ resolve: () => target });
    const asked = open(h.port, encodeHello('', 1, undefined, HelloFlag.Meta | HelloFlag.Annotations));
    const bare = open(h.port, encodeHello('', 1));
    const analyzer = open(h.port, encodeHello('', 1, undefined, HelloFlag.Annotate));
    for (let i = 0; i < 3; i++) await h.outcome(i);
    emit(0, 0, '{"n":1}');
    await vi.waitFor(() => expect(seqs(bare.s)).toEqual([0]));
    analyzer.send(annotation(0, '{"box":1}'));
    await vi.waitFor(() =>
      expect(
        asked.s.messages
          .filter((m) => m.type !== 'welcome')
          .map((m) => (m.type === 'meta' ? `meta${m.kind}` : m.type)),
      ).toEqual(['meta1', 'frame', 'meta2']),
    );
    await settle();
    expect(bare.s.messages.map((m) => m.type)).toEqual(['welcome', 'frame']);
    expect(analyzer.s.messages.filter((m) => m.type === 'status')).toEqual([]);
    for (const c of [asked, bare, analyzer]) c.end();
  });

  it('a view’s rate: frames at most that often by capture time (fps 5 of 30); the stream has no renditions', async () => {
    const { target, emit } = fed();
    const h = await harness({ resolve: () => target });
    const slow = open(
      h.port,
      encodeHello('', 1, 2, HelloFlag.View, 'cam', null, { width: null, quality: null, fps: 5 }),
    );
    const all = open(h.port, encodeHello('', 1));
    await h.outcome(0);
    await h.outcome(1);
    for (let i = 0; i < 30; i++) {
      emit(i, 1000 + (i * 1000) / 30);
      await vi.waitFor(() => expect(seqs(all.s)).toContain(i));
    }
    await settle();
    expect(seqs(slow.s)).toEqual([0, 6, 12, 18, 24]);
    slow.end();
    all.end();
  });

  it('a playback is lossless: an acknowledging client gets every frame in order; a rendition is not: the newest', async () => {
    const rec = fed();
    const live = fed();
    const rendition = fed();
    const cam = { ...live.target, renditions: { hubFor: () => rendition.target.hub } };
    const h = await harness({ resolve: () => cam, playback: () => Promise.resolve(rec.target.hub) });
    const player = open(
      h.port,
      encodeHello('', 1, 2, HelloFlag.Playback | HelloFlag.Ack, 'cam', { start: 0, speed: 1 }),
    );
    const viewer = open(
      h.port,
      encodeHello('', 1, 2, HelloFlag.View | HelloFlag.Ack, 'cam', null, {
        width: 320,
        quality: null,
        fps: null,
      }),
    );
    await h.outcome(0);
    await h.outcome(1);
    for (let i = 0; i < 6; i++) {
      rec.emit(i);
      rendition.emit(i);
      await settle();
    }
    await vi.waitFor(() => expect(seqs(player.s)).toEqual([0, 1]));
    for (let i = 1; i < 6; i++) {
      player.send(encodeAck(i));
      await vi.waitFor(() => expect(seqs(player.s).length).toBeGreaterThan(Math.min(i + 1, 5)));
    }
    await vi.waitFor(() => expect(seqs(player.s)).toEqual([0, 1, 2, 3, 4, 5]));
    await vi.waitFor(() => expect(seqs(viewer.s)).toEqual([0, 1]));
    viewer.send(encodeAck(1));
    await vi.waitFor(() => expect(seqs(viewer.s)).toEqual([0, 1, 5]));
    player.end();
    viewer.end();
  });

  it('after the WELCOME, a bad message: one ERROR BadMessage naming it, and nothing read after it', async () => {
    const { target } = fed();
    const h = await harness({ resolve: () => target });
    const c = open(h.port, encodeHello('', 1));
    await h.outcome(0);
    c.send(Buffer.from('FCST garbage that is no message at all'));
    await vi.waitFor(() => expect(c.s.closed).toBe(true));
    const errors = c.s.messages.filter((m) => m.type === 'error');
    expect(errors).toHaveLength(1);
    expect(errorOf(c.s)).toMatchObject({
      code: ErrorCode.BadMessage,
      message: expect.stringMatching(/^bad message: /) as unknown,
    });
  });
});

describe('native handshake: bytes that come while the hello is being decided', () => {
  it('a hello in two pieces is read once whole', async () => {
    const h = await harness({ resolve: () => targetOf('cam') });
    const hello = encodeHello('a token', 1, undefined, 0, 'cam');
    const socket = net.connect({ host: '127.0.0.1', port: h.port });
    const parser = new NativeParser(1 << 20);
    const got: NativeMessage[] = [];
    socket.on('data', (b: Buffer) => parser.push(b, (m) => got.push(m)));
    socket.write(hello.subarray(0, 9));
    await vi.waitFor(() => expect(h.outcomes).toHaveLength(1));
    await new Promise((r) => setTimeout(r, 30));
    socket.write(hello.subarray(9));
    await vi.waitFor(() => expect(got.map((m) => m.type)).toEqual(['welcome']));
    socket.destroy();
  });

  it('up to 64 KiB in all while access decides waits (then is read as messages); one byte more is refused before any WELCOME', async () => {
    for (const [extra, welcomedFirst] of [
      [0, true],
      [1, false],
    ] as const) {
      const slow = new SlowAccess();
      const h = await harness({ access: slow, resolve: () => targetOf('cam') });
      const hello = encodeHello('', 1, undefined, HelloFlag.Ack);
      const socket = net.connect({ host: '127.0.0.1', port: h.port });
      socket.on('error', () => {});
      const parser = new NativeParser(1 << 20);
      const got: NativeMessage[] = [];
      socket.on('data', (b: Buffer) => parser.push(b, (m) => got.push(m)));
      socket.write(hello);
      await vi.waitFor(() => expect(slow.asked).toHaveLength(1));
      // ACKs, in two writes, up to 64 KiB with the hello (plus `extra` bytes).
      const acks = Buffer.concat(Array.from({ length: 8192 }, () => encodeAck(0)));
      const room = 64 * 1024 - hello.length;
      socket.write(acks.subarray(0, 100));
      await new Promise((r) => setTimeout(r, 30));
      socket.write(Buffer.concat([acks.subarray(100, room), Buffer.alloc(extra)]));
      await new Promise((r) => setTimeout(r, 60));
      slow.release();
      await vi.waitFor(() => expect(got.length).toBeGreaterThan(0));
      expect(got[0]?.type).toBe(welcomedFirst ? 'welcome' : 'error');
      if (!welcomedFirst)
        expect(errorOf({ messages: got } as Session)?.message).toBe('too much sent before WELCOME');
      socket.destroy();
    }
  });

  it('bytes sent while a playback is looked up are not a second hello: access is asked once', async () => {
    const access = new ScriptedAccess({});
    let found = (): void => {};
    const rec = hubOf();
    const h = await harness({
      access,
      resolve: () => targetOf('cam'),
      playback: () => new Promise((r) => (found = () => r(rec.hub))),
    });
    const hello = encodeHello('', 1, 2, HelloFlag.Playback | HelloFlag.Ack, 'cam', { start: 0, speed: 1 });
    const socket = net.connect({ host: '127.0.0.1', port: h.port });
    socket.on('error', () => {});
    socket.write(hello);
    await vi.waitFor(() => expect(access.asked).toHaveLength(1));
    await new Promise((r) => setTimeout(r, 20));
    socket.write(Buffer.concat([hello, encodeAck(0)]));
    await new Promise((r) => setTimeout(r, 30));
    found();
    expect(await h.outcome(0)).toEqual({ hub: rec.hub });
    expect(access.asked).toHaveLength(1);
    socket.destroy();
  });

  it('a client gone while access decides: nothing is looked up or joined for it', async () => {
    const slow = new SlowAccess();
    let lookups = 0;
    const h = await harness({
      access: slow,
      resolve: () => targetOf('cam'),
      playback: () => (lookups++, Promise.resolve('none')),
    });
    const socket = net.connect({ host: '127.0.0.1', port: h.port });
    socket.on('error', () => {});
    socket.write(encodeHello('', 1, 2, HelloFlag.Playback, 'cam', { start: 0, speed: 1 }));
    await vi.waitFor(() => expect(slow.asked).toHaveLength(1));
    socket.destroy();
    expect(await h.outcome(0)).toEqual({ error: 'closed during the hello', code: 'ERR_PROTOCOL' });
    slow.release();
    await new Promise((r) => setTimeout(r, 30));
    expect(lookups).toBe(0);
  });
});
