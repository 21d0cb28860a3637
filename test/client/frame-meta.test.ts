/**
 * MetaChannel alone (no sockets): how a client pairs a frame's metadata with its FRAME, files
 * annotations, and builds the annotation it sends.
 */
import { describe, expect, it } from 'vitest';
import { MetaChannel, type AnnotationRefusal, type FrameAnnotation } from '../../src/client/frame-meta.js';
import { HelloFlag, MetaKind, StatusCode } from '../../src/protocol/native.js';
import { NativeParser, type NativeMessage } from '../../src/protocol/native-parser.js';
import { encodePreamble } from '../../src/protocol/native.js';

type Meta = Extract<NativeMessage, { type: 'meta' }>;
const meta = (seq: number, value: string, kind: number = MetaKind.Metadata, name = ''): Meta => ({
  type: 'meta',
  seq,
  kind,
  name,
  capturedAt: 1000 + seq,
  json: Buffer.from(value),
});

function channel(wants = {}): { ch: MetaChannel; got: FrameAnnotation[]; refused: AnnotationRefusal[] } {
  const got: FrameAnnotation[] = [];
  const refused: AnnotationRefusal[] = [];
  const ch = new MetaChannel(wants, 'here:1', {
    annotation: (a) => got.push(a),
    refused: (r) => refused.push(r),
  });
  return { ch, got, refused };
}

describe('MetaChannel', () => {
  it("pairs a META with the FRAME right after it only when the seq is the frame's, once", () => {
    const { ch } = channel({ meta: true });
    ch.message(meta(5, '{"a":5}'));
    expect(ch.frameMeta(6)).toBeNull();
    ch.message(meta(7, '{"a":7}'));
    expect(ch.frameMeta(7)).toEqual({ a: 7 });
    expect(ch.frameMeta(8)).toBeNull();
    ch.message(meta(9, '[1]'));
    expect(ch.frameMeta(9)).toBeNull(); // not an object: ignored
  });

  it('files annotations (newest per analyzer) and reports refusals', () => {
    const { ch, got, refused } = channel({ annotations: true });
    ch.message(meta(3, '{"n":1}', MetaKind.Annotation, 'motion'));
    ch.message(meta(4, '{"n":2}', MetaKind.Annotation, 'motion'));
    ch.message(meta(4, 'nope', MetaKind.Annotation, 'faces'));
    expect(got.map((a) => [a.analyzer, a.seq, a.capturedAt, a.data])).toEqual([
      ['motion', 3, 1003, { n: 1 }],
      ['motion', 4, 1004, { n: 2 }],
    ]);
    expect([...ch.latest.keys()]).toEqual(['motion']);
    expect(ch.latest.get('motion')?.seq).toBe(4);
    expect(ch.status(StatusCode.Waiting, 1, 'in line')).toBe(false);
    expect(ch.status(StatusCode.AnnotationRefused, 429, 'annotation refused: over the rate')).toBe(true);
    expect(refused).toEqual([{ status: 429, message: 'annotation refused: over the rate' }]);
  });

  it('builds the META an analyzer sends, after the WELCOME agreed', () => {
    const { ch } = channel({ annotate: true, maxMetaBytes: 50 });
    expect(ch.helloFlags).toBe(HelloFlag.Annotate);
    expect(() => ch.annotation(1, 'motion', {})).toThrow(/not connected/);
    ch.welcome(HelloFlag.Ack);
    expect(() => ch.annotation(1, 'motion', {})).toThrow(/does not take annotations/);
    ch.welcome(HelloFlag.Ack | HelloFlag.Annotate);
    const bytes = ch.annotation({ seq: 42 }, 'motion', { objects: [] });
    const parsed: NativeMessage[] = [];
    new NativeParser(1 << 20).push(Buffer.concat([encodePreamble(), bytes]), (m) => parsed.push(m));
    expect(parsed).toEqual([
      {
        type: 'meta',
        seq: 42,
        kind: MetaKind.Annotation,
        name: 'motion',
        capturedAt: 0,
        json: Buffer.from('{"objects":[]}'),
      },
    ]);
    expect(() => ch.annotation(-1, 'motion', {})).toThrow(RangeError);
    expect(() => ch.annotation(1, '_x', {})).toThrow(/analyzer name/);
    expect(() => ch.annotation(1, 'motion', { x: 'y'.repeat(60) })).toThrow(/over 50/);
  });
});
