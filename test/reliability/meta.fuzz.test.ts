import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_META_DEPTH, checkMetaBytes } from '../../src/meta/meta-json.js';
import {
  ClientMessageParser,
  ClientProtocolError,
  type ClientMessage,
} from '../../src/protocol/client-parser.js';
import { MetaKind, decodeMeta, encodeAck, encodeMeta } from '../../src/protocol/native.js';
import { largestAllocation } from './support/alloc-spy.js';
import { splitAt } from './support/split.js';

// Property tests of the readers of metadata and annotations: what an analyzer sends the server
// (ClientMessageParser with annotations allowed), a META from the bus (decodeMeta), and the JSON
// check every path uses. Whatever arrives: a result or a coded refusal, never a throw of another kind,
// within the caps.

const MAX_BODY = 2048;

function feed(chunks: Buffer[]): { messages: ClientMessage[]; error: unknown } {
  const parser = new ClientMessageParser(MAX_BODY);
  const messages: ClientMessage[] = [];
  try {
    for (const c of chunks)
      parser.push(c, (m) => messages.push(m.type === 'annotation' ? { ...m, json: Buffer.from(m.json) } : m));
    return { messages, error: null };
  } catch (error) {
    return { messages, error };
  }
}

const nameArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/);
const annotationArb = fc
  .record({ seq: fc.nat(0xffffffff), name: nameArb, body: fc.uint8Array({ minLength: 1, maxLength: 300 }) })
  .map((a) =>
    encodeMeta({
      seq: a.seq,
      kind: MetaKind.Annotation,
      name: a.name,
      capturedAt: 1,
      json: Buffer.from(a.body),
    }),
  );
const clientMessageArb = fc.oneof(
  annotationArb,
  fc
    .tuple(fc.nat(0xffffffff), fc.option(fc.nat(0xffff), { nil: undefined }))
    .map(([s, w]) => encodeAck(s, w)),
);

describe('ClientMessageParser with annotations, under hostile input', () => {
  it('random bytes: messages or a ClientProtocolError, nothing kept over the body cap', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (bytes, cuts) => {
          const { result, largest } = largestAllocation(() => feed(splitAt(Buffer.from(bytes), cuts)));
          expect(largest).toBeLessThanOrEqual(MAX_BODY);
          if (result.error !== null) expect(result.error).toBeInstanceOf(ClientProtocolError);
          for (const m of result.messages)
            if (m.type === 'annotation') expect(m.json.length).toBeLessThanOrEqual(MAX_BODY);
        },
      ),
    );
  });

  it('valid ACKs and annotations parse the same under every split of the stream', () => {
    fc.assert(
      fc.property(
        fc.array(clientMessageArb, { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (msgs, cuts) => {
          const stream = Buffer.concat(msgs);
          const whole = feed([stream]);
          const split = feed(splitAt(stream, cuts));
          expect(whole.error).toBeNull();
          expect(split.error).toBeNull();
          expect(split.messages).toEqual(whole.messages);
          expect(whole.messages).toHaveLength(msgs.length);
        },
      ),
    );
  });

  it('without annotations allowed, a META is refused at its envelope, as any non-ACK always was', () => {
    fc.assert(
      fc.property(annotationArb, (m) => {
        const p = new ClientMessageParser();
        expect(() => p.push(m, () => {})).toThrow(ClientProtocolError);
      }),
    );
  });
});

describe('decodeMeta and checkMetaBytes under hostile input', () => {
  it('decodeMeta: random bytes give null or a META whose parts lie inside the buffer; encode/decode round trips', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const m = decodeMeta(Buffer.from(bytes));
        if (m) expect(m.json.length + m.name.length).toBeLessThanOrEqual(bytes.length);
      }),
    );
    fc.assert(
      fc.property(
        fc.nat(0xffffffff),
        nameArb,
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.uint8Array({ maxLength: 200 }),
        (seq, name, t, body) => {
          const m = decodeMeta(
            encodeMeta({ seq, kind: MetaKind.Annotation, name, capturedAt: t, json: Buffer.from(body) }),
          );
          expect(m && { ...m, json: Buffer.from(m.json) }).toEqual({
            seq,
            kind: MetaKind.Annotation,
            name,
            capturedAt: t,
            json: Buffer.from(body),
          });
        },
      ),
    );
  });

  it('checkMetaBytes: any bytes give compact JSON of an object within the caps, or a problem', () => {
    const depth = (v: unknown): number =>
      v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v as object).map(depth)) : 0;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 500 }).map((b) => Buffer.from(b)),
          fc.json({ maxDepth: 40 }).map((j) => Buffer.from(j)),
        ),
        (bytes) => {
          const r = checkMetaBytes(bytes, 400);
          if ('problem' in r) return;
          expect(r.json.length).toBeLessThanOrEqual(400);
          const v: unknown = JSON.parse(r.json.toString());
          expect(typeof v === 'object' && v !== null && !Array.isArray(v)).toBe(true);
          expect(depth(v)).toBeLessThanOrEqual(MAX_META_DEPTH);
        },
      ),
    );
  });
});
