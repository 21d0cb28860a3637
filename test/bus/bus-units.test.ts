import { headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import {
  MAX_BUS_FRAME_BYTES,
  ORIGIN_HEADER,
  PART_HEADER,
  PART_TIMEOUT_MS,
  PartAssembler,
  publishFrame,
  SEQ_HEADER,
  Subjects,
} from '../../src/bus/bus.js';
import { BusSigner, BusVerifier, COUNT_HEADER, SIG_HEADER } from '../../src/bus/bus-sign.js';

// The bus's subjects and how a frame travels on it (whole, or in parts no larger than the server's
// max_payload, and put back together), without a NATS server: a recording connection stands in.

const SECRET = 'bus-secret-5f2a9c0e7d41b836';

interface Published {
  subject: string;
  data: Uint8Array;
  headers: Msg['headers'];
}

/** A connection that records what is published, with the server's max_payload (none: no INFO yet). */
function recorder(maxPayload?: number): { nc: NatsConnection; sent: Published[] } {
  const sent: Published[] = [];
  const nc = {
    info: maxPayload === undefined ? undefined : { max_payload: maxPayload },
    publish: (subject: string, data: Uint8Array, opts?: { headers?: Msg['headers'] }) =>
      void sent.push({ subject, data, headers: opts?.headers }),
  } as unknown as NatsConnection;
  return { nc, sent };
}

const message = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31) & 0xff));

/** A part as nats.js hands it over. */
function part(data: Uint8Array, index: string, seq = '7', origin?: string): Pick<Msg, 'data' | 'headers'> {
  const h = headers();
  h.set(PART_HEADER, index);
  h.set(SEQ_HEADER, seq);
  if (origin !== undefined) h.set(ORIGIN_HEADER, origin);
  return { data, headers: h };
}

describe('Subjects: the names on the bus (docs/PROTOCOL.md, "Bus")', () => {
  it('default prefix framecast: streams, frame, status, demand', () => {
    const s = new Subjects();
    expect(s.prefix).toBe('framecast');
    expect(s.streams).toBe('framecast.streams');
    expect(s.frame('cam.1')).toBe('framecast.s.cam.1.frame');
    expect(s.status('cam.1')).toBe('framecast.s.cam.1.status');
    expect(s.demand('cam.1')).toBe('framecast.demand.cam.1');
    expect(s.anyDemand).toBe('framecast.demand.>');
  });

  it('another prefix is used everywhere; a prefix that is not subject tokens is refused', () => {
    const s = new Subjects('site1.video');
    expect(s.streams).toBe('site1.video.streams');
    expect(s.frame('cam')).toBe('site1.video.s.cam.frame');
    expect(s.status('cam')).toBe('site1.video.s.cam.status');
    expect(s.demand('cam')).toBe('site1.video.demand.cam');
    expect(s.anyDemand).toBe('site1.video.demand.>');
    expect(() => new Subjects('a.>')).toThrow(RangeError);
    expect(() => new Subjects('a b')).toThrow(/^bus prefix must be NATS subject tokens/);
  });

  it("demandStream: the stream of one of this prefix's demand subjects, all of its tail; null otherwise", () => {
    const s = new Subjects('p');
    expect(s.demandStream('p.demand.cam')).toBe('cam');
    expect(s.demandStream('p.demand.cam.1.x')).toBe('cam.1.x');
    expect(s.demandStream('p.demand.')).toBeNull();
    expect(s.demandStream('p.demand')).toBeNull();
    expect(s.demandStream('q.demand.cam')).toBeNull();
    expect(s.demandStream('x.p.demand.cam')).toBeNull();
    expect(s.demandStream('p.streams')).toBeNull();
  });
});

describe('publishFrame: whole, or in parts no larger than max_payload less 1 kB of headers', () => {
  it('a message of max_payload - 1024 bytes goes whole, without headers; one byte more goes in two parts', () => {
    const whole = recorder(8192);
    const m = message(7168);
    publishFrame(whole.nc, 'p.s.cam.frame', 5, m, 'inst');
    expect(whole.sent).toHaveLength(1);
    expect(whole.sent[0]?.subject).toBe('p.s.cam.frame');
    expect(Buffer.from(whole.sent[0]!.data).equals(m)).toBe(true);
    expect(whole.sent[0]?.headers).toBeUndefined();

    const split = recorder(8192);
    const big = message(7169);
    publishFrame(split.nc, 'p.s.cam.frame', 5, big, 'inst');
    expect(split.sent.map((p) => p.data.length)).toEqual([7168, 1]);
    expect(split.sent.map((p) => p.subject)).toEqual(['p.s.cam.frame', 'p.s.cam.frame']);
    expect(split.sent.map((p) => p.headers?.get(PART_HEADER))).toEqual(['1/2', '2/2']);
    expect(split.sent.map((p) => p.headers?.get(SEQ_HEADER))).toEqual(['5', '5']);
    expect(split.sent.map((p) => p.headers?.get(ORIGIN_HEADER))).toEqual(['inst', 'inst']);
    expect(Buffer.concat(split.sent.map((p) => p.data)).equals(big)).toBe(true);
  });

  it('without the server INFO, 1 MiB is assumed; parts are never under 1024 bytes', () => {
    const none = recorder();
    publishFrame(none.nc, 's', 1, message(1024 * 1024 - 1024), undefined);
    expect(none.sent).toHaveLength(1);
    const over = recorder();
    publishFrame(over.nc, 's', 1, message(1024 * 1024 - 1023), undefined);
    expect(over.sent.map((p) => p.data.length)).toEqual([1024 * 1024 - 1024, 1]);
    // A tiny max_payload still gets 1024-byte parts (the server refuses them: better than 0 bytes).
    const tiny = recorder(1500);
    publishFrame(tiny.nc, 's', 9, message(2500), undefined);
    expect(tiny.sent.map((p) => p.data.length)).toEqual([1024, 1024, 452]);
    expect(tiny.sent.map((p) => p.headers?.get(PART_HEADER))).toEqual(['1/3', '2/3', '3/3']);
    // No origin: parts carry no Framecast-Origin header.
    expect(tiny.sent.every((p) => p.headers?.has(ORIGIN_HEADER) === false)).toBe(true);
  });

  it('with a signer, a whole message and each part are signed, and verify on an edge', () => {
    const signer = new BusSigner(SECRET, 'inst-1');
    const verifier = new BusVerifier(SECRET);
    const whole = recorder(4096);
    const m = message(100);
    publishFrame(whole.nc, 'p.s.cam.frame', 3, m, 'inst-1', signer);
    expect(whole.sent[0]?.headers?.get(SIG_HEADER)).toMatch(/^[0-9a-f]{64}$/);
    expect(whole.sent[0]?.headers?.has(PART_HEADER)).toBe(false);
    expect(verifier.verify('p.s.cam.frame', whole.sent[0]!)).toBe('inst-1');

    const split = recorder(4096);
    const big = message(7000);
    publishFrame(split.nc, 'p.s.cam.frame', 4, big, 'inst-1', signer);
    expect(split.sent).toHaveLength(3);
    expect(split.sent.map((p) => p.headers?.get(COUNT_HEADER))).toEqual(['2', '3', '4']);
    const a = new PartAssembler();
    const out: (Buffer | null)[] = [];
    for (const p of split.sent) {
      expect(verifier.verify('p.s.cam.frame', p)).toBe('inst-1');
      out.push(a.push(p));
    }
    expect(out.slice(0, 2)).toEqual([null, null]);
    expect(out[2]?.equals(big)).toBe(true);
  });
});

describe('bus headers, named as docs/PROTOCOL.md says', () => {
  it('a signed part carries Framecast-Part, -Seq, -Origin, -Time, -Count and -Sig', () => {
    const parts = recorder(2048);
    publishFrame(parts.nc, 's', 12, message(1500), 'inst-1', new BusSigner(SECRET, 'inst-1'));
    const h = parts.sent[0]!.headers!;
    expect([...h.keys()].sort()).toEqual([
      'Framecast-Count',
      'Framecast-Origin',
      'Framecast-Part',
      'Framecast-Seq',
      'Framecast-Sig',
      'Framecast-Time',
    ]);
    expect([h.get('Framecast-Part'), h.get('Framecast-Seq'), h.get('Framecast-Origin')]).toEqual([
      '1/2',
      '12',
      'inst-1',
    ]);
  });
});

describe('PartAssembler: bounds', () => {
  it('a whole message is handed back as it is (the bytes of its view, not of the whole buffer)', () => {
    const backing = new Uint8Array([9, 1, 2, 3, 9]);
    const got = new PartAssembler().push({ data: backing.subarray(1, 4), headers: undefined });
    expect(got).toEqual(Buffer.from([1, 2, 3]));
    // Headers without a part header: whole too.
    const h = headers();
    h.set(SEQ_HEADER, '1');
    expect(new PartAssembler().push({ data: backing.subarray(0, 2), headers: h })).toEqual(
      Buffer.from([9, 1]),
    );
  });

  it('by default a frame of 4096 parts is taken while its declared size stays under 64 MiB', () => {
    expect(MAX_BUS_FRAME_BYTES).toBe(64 * 1024 * 1024);
    const a = new PartAssembler();
    // 4095 more parts as large as the first: 4095 x 16387 = 67,104,765 bytes, under 64 MiB.
    expect(a.push(part(new Uint8Array(16387), '1/4096', '1'))).toBeNull();
    expect(a.heldBytes).toBe(16387);
    // 4095 x 16389 = 67,112,955 is over 67,108,864.
    const b = new PartAssembler();
    expect(b.push(part(new Uint8Array(16389), '1/4096', '1'))).toBeNull();
    expect(b.heldBytes).toBe(0);
  });

  it('declared size exactly at the cap is refused; a frame that reaches the cap exactly is taken', () => {
    const a = new PartAssembler(1000);
    // (11 - 1) x 100 = 1000: the other parts alone would fill the cap.
    expect(a.push(part(new Uint8Array(100), '1/11'))).toBeNull();
    expect(a.heldBytes).toBe(0);
    // (11 - 1) x 99 = 990 fits; eleven parts of 99 = 1089 would not, but the last may be smaller.
    expect(a.push(part(new Uint8Array(99), '1/11'))).toBeNull();
    expect(a.heldBytes).toBe(99);
    const b = new PartAssembler(10);
    expect(b.push(part(new Uint8Array(5).fill(1), '1/2'))).toBeNull();
    expect(b.push(part(new Uint8Array(5).fill(2), '2/2'))).toEqual(
      Buffer.from([1, 1, 1, 1, 1, 2, 2, 2, 2, 2]),
    );
    expect(b.heldBytes).toBe(0);
  });

  it('frames in progress together: the oldest other frame gives way, the one growing is kept', () => {
    const a = new PartAssembler(100);
    expect(a.push(part(new Uint8Array(40), '1/2', '1'))).toBeNull();
    expect(a.push(part(new Uint8Array(40), '1/3', '2'))).toBeNull();
    expect(a.heldBytes).toBe(80);
    // 20 more fit exactly: nothing dropped.
    expect(a.push(part(new Uint8Array(20), '2/3', '2'))).toBeNull();
    expect(a.heldBytes).toBe(100);
    // 10 more do not: seq 1, the oldest, gives way; seq 2 grows.
    expect(a.push(part(new Uint8Array(10), '3/3', '2'))?.length).toBe(70);
    expect(a.heldBytes).toBe(0);
    expect(a.push(part(new Uint8Array(40), '2/2', '1'))).toBeNull();
  });

  it('a part out of order, or of another count, drops the frame', () => {
    const a = new PartAssembler();
    expect(a.push(part(new Uint8Array(4), '1/3'))).toBeNull();
    expect(a.push(part(new Uint8Array(4), '3/3'))).toBeNull();
    expect(a.heldBytes).toBe(0);
    expect(a.push(part(new Uint8Array(4), '2/3'))).toBeNull();
    expect(a.push(part(new Uint8Array(4), '1/3'))).toBeNull();
    expect(a.push(part(new Uint8Array(4), '2/4'))).toBeNull();
    expect(a.heldBytes).toBe(0);
    // The same part twice.
    expect(a.push(part(new Uint8Array(4), '1/2'))).toBeNull();
    expect(a.push(part(new Uint8Array(4), '1/2'))).toBeNull();
    expect(a.heldBytes).toBe(4);
    expect(a.push(part(new Uint8Array(4), '2/2'))?.length).toBe(8);
    // A restarted first part starts the frame over.
    expect(a.push(part(new Uint8Array(3), '1/2'))).toBeNull();
    expect(a.push(part(new Uint8Array(5), '1/2'))).toBeNull();
    expect(a.heldBytes).toBe(5);
  });

  it.each(['x1/2', '1/2x', '01/2x', '12345/2', '1/12345', '1-2', '1/'])(
    'the part header %j is not index/count: nothing is held',
    (index) => {
      const a = new PartAssembler();
      expect(a.push(part(new Uint8Array(4), index))).toBeNull();
      expect(a.heldBytes).toBe(0);
    },
  );

  it('a frame is kept for PART_TIMEOUT_MS (5 s) exactly, and dropped after', () => {
    expect(PART_TIMEOUT_MS).toBe(5000);
    const a = new PartAssembler();
    expect(a.push(part(new Uint8Array(4), '1/2', '1'), 0)).toBeNull();
    expect(a.push(part(new Uint8Array(4), '1/2', '2'), 5000)).toBeNull();
    expect(a.heldBytes).toBe(8);
    expect(a.push(part(new Uint8Array(4), '2/2', '1'), 5000)?.length).toBe(8);
    expect(a.push(part(new Uint8Array(4), '1/2', '3'), 10_001)).toBeNull();
    expect(a.heldBytes).toBe(4);
    expect(a.push(part(new Uint8Array(4), '2/2', '2'), 10_001)).toBeNull();
  });

  it('a frame of twelve parts (two-digit index and count) is joined in order', () => {
    const a = new PartAssembler();
    for (let i = 1; i < 12; i++) expect(a.push(part(new Uint8Array([i]), `${i}/12`))).toBeNull();
    expect(a.heldBytes).toBe(11);
    expect(a.push(part(new Uint8Array([12]), '12/12'))).toEqual(
      Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
    );
  });

  it('a frame of one part (1/1) is whole at once', () => {
    const a = new PartAssembler();
    expect(a.push(part(new Uint8Array([7, 8]), '1/1'))).toEqual(Buffer.from([7, 8]));
    expect(a.heldBytes).toBe(0);
  });

  it('over the cap, the frame growing is kept even when it is the oldest', () => {
    const a = new PartAssembler(100);
    expect(a.push(part(new Uint8Array(40), '1/3', '1'))).toBeNull();
    expect(a.push(part(new Uint8Array(40), '1/2', '2'))).toBeNull();
    expect(a.push(part(new Uint8Array(20), '2/3', '1'))).toBeNull();
    expect(a.push(part(new Uint8Array(10), '3/3', '1'))?.length).toBe(70);
    // Seq 2 gave way; nothing is held.
    expect(a.heldBytes).toBe(0);
    expect(a.push(part(new Uint8Array(40), '2/2', '2'))).toBeNull();
  });

  it('frames are told apart by origin and seq', () => {
    const a = new PartAssembler();
    expect(a.push(part(new Uint8Array([1]), '1/2', '1', 'a'))).toBeNull();
    expect(a.push(part(new Uint8Array([2]), '2/2', '1', 'b'))).toBeNull();
    expect(a.push(part(new Uint8Array([3]), '2/2', '2', 'a'))).toBeNull();
    expect(a.push(part(new Uint8Array([4]), '2/2', '1', 'a'))).toEqual(Buffer.from([1, 4]));
  });
});
