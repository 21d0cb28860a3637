/**
 * The native handshake driven by hand (createNativeHandshake on a plain TCP server): the paths a hello
 * can take after its bytes are read — access refused in each of its words, publishers, playback,
 * renditions, annotators, the version spoken, a full server and an upgrading connection — with the
 * exact ERROR or WELCOME a client receives, and what the hook hands the TCP server.
 */
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Access, type AccessRequest, type Action, type Decision } from '../../src/access/access.js';
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

type Outcome = { hub: Hub | null } | { error: string };

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
        hook(socket, first, upgrading).then(
          (r) => {
            // As the TCP server does (through admission): the subscriber joins the hub it was given.
            r?.hub.join(r.sub);
            return { hub: r?.hub ?? null };
          },
          (err: Error) => ({ error: err.message }),
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
      expect(await Promise.all(h.outcomes)).toEqual([{ error: read }, { error: pub }]);
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
    expect(await h.outcome(0)).toEqual({ error: 'unsupported native protocol version 0' });
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
    let release = (): void => {};
    const slow = new (class extends ScriptedAccess {
      override authorize(req: AccessRequest): Promise<Decision> {
        this.asked.push(req);
        return new Promise((r) => (release = () => r({ allowed: true })));
      }
    })({});
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
    release();
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
    expect(await h.outcomes[0]).toEqual({ error: 'closed during the hello' });
  });
});
