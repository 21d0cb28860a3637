import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PART_HEADER, PartAssembler, SEQ_HEADER, Subjects } from '../../src/bus/bus.js';
import { BusSigner, BusVerifier, SIG_HEADER } from '../../src/bus/bus-sign.js';
import { BusSubscriber, type BusLink } from '../../src/bus/bus-subscriber.js';
import { Frame } from '../../src/hub/frame.js';
import type { EndReason } from '../../src/hub/subscriber.js';
import { ORIGIN_HEADER } from '../../src/bus/bus-headers.js';
import { nativeFrameWire } from '../../src/protocol/native.js';

// The origin's side of one stream on the bus, without a NATS server: what a BusSubscriber publishes
// for each frame and each change of the source, and what it does while the bus is down or closed.

const T0 = 1_700_000_000_000;
const SECRET = 'bus-secret-5f2a9c0e7d41b836';

interface Sent {
  subject: string;
  data: Uint8Array;
  headers: Msg['headers'];
}

/** A link whose connection records what is published; `closed`, `up` and `fail` are switched by hand. */
function link(opts: { maxPayload?: number; signer?: BusSigner | null } = {}): {
  link: BusLink;
  sent: Sent[];
  state: { closed: boolean; up: boolean; fail: boolean };
} {
  const sent: Sent[] = [];
  const state = { closed: false, up: true, fail: false };
  const nc = {
    info: { max_payload: opts.maxPayload ?? 1024 * 1024 },
    isClosed: () => state.closed,
    publish: (subject: string, data: Uint8Array, o?: { headers?: Msg['headers'] }) => {
      if (state.fail) throw new Error('connection draining');
      sent.push({ subject, data, headers: o?.headers });
    },
  } as unknown as NatsConnection;
  return {
    link: {
      nc,
      subjects: new Subjects(),
      instance: 'inst-1',
      up: () => state.up,
      signer: opts.signer ?? null,
    },
    sent,
    state,
  };
}

const frame = (seq: number, bytes = 100): Frame =>
  new Frame({
    seq,
    width: 64,
    height: 48,
    capturedAt: T0 - 25,
    encodedAt: T0 - 5,
    jpeg: Buffer.alloc(bytes, seq),
  });
const text = (d: Uint8Array): string => new TextDecoder().decode(d);

beforeEach(() => {
  vi.useFakeTimers({ now: T0, toFake: ['Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('BusSubscriber: a stream viewed by the bus', () => {
  it('is an uncapped, never backlogged viewer named after its frame subject', () => {
    const { link: l } = link();
    const a = new BusSubscriber(l, 'cam.1', () => {});
    const b = new BusSubscriber(l, 'cam.1', () => {});
    expect(a.protocol).toBe('bus');
    expect(a.address).toBe('nats:framecast.s.cam.1.frame');
    expect(a.backlogged).toBe(false);
    expect(a.uncapped).toBe(true);
    expect(b.id).not.toBe(a.id);
    expect(a.stats()).toEqual({
      id: a.id,
      protocol: 'bus',
      address: 'nats:framecast.s.cam.1.frame',
      connectedAt: T0,
      framesSent: 0,
      bytesSent: 0,
      drops: 0,
      lastLatencyMs: null,
    });
  });

  it("publishes each frame's native FRAME message once on the frame subject, and counts it", () => {
    const { link: l, sent } = link();
    const s = new BusSubscriber(l, 'cam', () => {});
    const f1 = frame(1);
    vi.setSystemTime(T0 + 10);
    s.offer(f1);
    s.offer(frame(2, 50));
    expect(sent.map((m) => m.subject)).toEqual(['framecast.s.cam.frame', 'framecast.s.cam.frame']);
    expect(sent[0]?.data).toBe(nativeFrameWire(f1));
    expect(sent[0]?.headers).toBeUndefined();
    expect(s.stats()).toMatchObject({ framesSent: 2, bytesSent: 140 + 90, drops: 0, lastLatencyMs: 35 });
  });

  it('a frame over max_payload goes in parts carrying the frame seq and this origin process', () => {
    const { link: l, sent } = link({ maxPayload: 2048 });
    const s = new BusSubscriber(l, 'cam', () => {});
    const f = frame(42, 3000);
    s.offer(f);
    expect(sent.map((m) => m.headers?.get(PART_HEADER))).toEqual(['1/3', '2/3', '3/3']);
    expect(sent.every((m) => m.headers?.get(SEQ_HEADER) === '42')).toBe(true);
    expect(sent.every((m) => m.headers?.get(ORIGIN_HEADER) === 'inst-1')).toBe(true);
    const a = new PartAssembler();
    const whole = sent.map((m) => a.push(m)).at(-1);
    expect(whole?.equals(nativeFrameWire(f))).toBe(true);
    expect(s.stats().framesSent).toBe(1);
    expect(s.stats().bytesSent).toBe(3040);
  });

  it('while the bus is down frames are skipped (counted as drops), not queued; closed, nothing at all', () => {
    const { link: l, sent, state } = link();
    const s = new BusSubscriber(l, 'cam', () => {});
    state.up = false;
    s.offer(frame(1));
    s.offer(frame(2));
    expect(sent).toHaveLength(0);
    expect(s.skipped).toBe(2);
    expect(s.stats()).toMatchObject({ framesSent: 0, drops: 2, lastLatencyMs: null });
    state.up = true;
    s.offer(frame(3));
    expect(sent).toHaveLength(1);
    state.closed = true;
    s.offer(frame(4));
    expect(sent).toHaveLength(1);
    expect(s.skipped).toBe(2);
  });

  it('a publish that throws (closing meanwhile) is neither counted nor thrown', () => {
    const { link: l, state } = link();
    const s = new BusSubscriber(l, 'cam', () => {});
    state.fail = true;
    expect(() => s.offer(frame(1))).not.toThrow();
    expect(s.stats()).toMatchObject({ framesSent: 0, bytesSent: 0, drops: 0, lastLatencyMs: null });
  });

  it("tells the bus when the source's signal is lost or back, not while it starts", () => {
    const { link: l, sent } = link();
    const s = new BusSubscriber(l, 'cam', () => {});
    const at = { since: T0, retries: 0, nextRetryAt: null, lastError: null };
    s.sourceStatus({ state: 'starting', ...at });
    s.sourceStatus({ state: 'no-signal', ...at, retries: 1 });
    s.sourceStatus({ state: 'live', ...at });
    expect(sent.map((m) => [m.subject, text(m.data)])).toEqual([
      ['framecast.s.cam.status', '{"state":"no-signal"}'],
      ['framecast.s.cam.status', '{"state":"live"}'],
    ]);
  });

  it('the end of the transmission: says ended with its reason, tells its owner, once', () => {
    const { link: l, sent } = link();
    const ends: EndReason[] = [];
    const s = new BusSubscriber(l, 'cam', (r) => ends.push(r));
    s.end('eof');
    s.end('stopped');
    expect(sent.map((m) => [m.subject, text(m.data)])).toEqual([
      ['framecast.s.cam.status', '{"state":"ended","reason":"eof"}'],
    ]);
    expect(ends).toEqual(['eof']);
  });

  it('status while the bus is down or closed, or a publish that throws: nothing is sent, the end still reaches its owner', () => {
    for (const spoil of ['down', 'closed', 'fail'] as const) {
      const { link: l, sent, state } = link();
      const ends: EndReason[] = [];
      const s = new BusSubscriber(l, 'cam', (r) => ends.push(r));
      if (spoil === 'down') state.up = false;
      if (spoil === 'closed') state.closed = true;
      if (spoil === 'fail') state.fail = true;
      expect(() =>
        s.sourceStatus({ state: 'no-signal', since: T0, retries: 0, nextRetryAt: null, lastError: null }),
      ).not.toThrow();
      expect(() => s.end('source-error')).not.toThrow();
      expect(sent).toEqual([]);
      expect(ends).toEqual(['source-error']);
    }
  });

  it('with a bus secret, frames and status messages are signed and verify on an edge', () => {
    const { link: l, sent } = link({ signer: new BusSigner(SECRET, 'inst-1') });
    const s = new BusSubscriber(l, 'cam', () => {});
    s.offer(frame(1));
    s.sourceStatus({ state: 'no-signal', since: T0, retries: 0, nextRetryAt: null, lastError: null });
    s.end('eof');
    const v = new BusVerifier(SECRET);
    expect(sent).toHaveLength(3);
    for (const m of sent) {
      expect(m.headers?.get(SIG_HEADER)).toMatch(/^[0-9a-f]{64}$/);
      expect(v.verify(m.subject, m)).toBe('inst-1');
    }
  });
});
