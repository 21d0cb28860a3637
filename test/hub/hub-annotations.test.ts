/**
 * Hub.annotate: an analyzer's annotation of a recent frame goes to every admitted viewer that carries
 * annotations (and as an 'annotation' event); a refused one goes nowhere; a joiner gets each
 * analyzer's newest; a new transmission starts with none.
 */
import { describe, expect, it } from 'vitest';
import type { Annotation } from '../../src/meta/annotations.js';
import { DEFAULT_MAX_META_BYTES } from '../../src/meta/meta-json.js';
import { FakeSub, setup } from './fakes.js';

/** A viewer whose transport carries annotations. */
class AnnotatedSub extends FakeSub {
  readonly annotations: Annotation[] = [];
  annotation(a: Annotation): void {
    this.annotations.push(a);
  }
}

const summary = (a: Annotation[]): string[] => a.map((x) => `${x.analyzer}@${x.seq}:${x.json.toString()}`);

describe('Hub: annotations', () => {
  it('sends an accepted annotation to every admitted viewer that carries them, and emits it', () => {
    const { hub, current } = setup({ maxClients: 2 });
    const emitted: Annotation[] = [];
    hub.on('annotation', (a) => emitted.push(a));
    const a = new AnnotatedSub('a');
    const plain = new FakeSub('plain');
    const waiting = new AnnotatedSub('waiting');
    hub.join(a);
    hub.join(plain);
    hub.join(waiting);
    const f = current().frame();
    const got = hub.annotate('yolo', { seq: f.seq }, { objects: 1 });
    expect('refused' in got).toBe(false);
    expect(summary([got as Annotation])).toEqual(['yolo@0:{"objects":1}']);
    expect(summary(a.annotations)).toEqual(['yolo@0:{"objects":1}']);
    expect(a.annotations[0]).toBe(got);
    expect(emitted).toEqual([got]);
    // Only admitted viewers are told; one that is still waiting is not.
    expect(waiting.annotations).toEqual([]);
  });

  it('finds the frame by its capture time too', () => {
    const { hub, current } = setup();
    const a = new AnnotatedSub('a');
    hub.join(a);
    current().frame();
    const got = hub.annotate('det', { capturedAt: 0 }, { n: 2 });
    expect(got).toMatchObject({ analyzer: 'det', seq: 0, capturedAt: 0 });
    expect(a.annotations).toHaveLength(1);
  });

  it('a refused annotation is only returned: no viewer is told, no event', () => {
    const { hub, current } = setup();
    const emitted: Annotation[] = [];
    hub.on('annotation', (a) => emitted.push(a));
    const a = new AnnotatedSub('a');
    hub.join(a);
    current().frame();
    expect(hub.annotate('yolo', { seq: 5 }, { x: 1 })).toEqual({
      refused: 'unknown-frame',
      status: 409,
      problem: "seq 5 is not one of the stream's recent frames",
    });
    expect(hub.annotate('bad name!', { seq: 0 }, { x: 1 })).toMatchObject({ refused: 'bad-analyzer' });
    expect(a.annotations).toEqual([]);
    expect(emitted).toEqual([]);
    expect(hub.annotations.counts).toEqual({ accepted: 0, refused: 2 });
  });

  it("a viewer that joins gets each analyzer's newest annotation; one without annotations gets nothing", () => {
    const { hub, current } = setup();
    hub.join(new FakeSub('first'));
    current().frame();
    current().frame();
    hub.annotate('yolo', { seq: 0 }, { v: 1 });
    hub.annotate('yolo', { seq: 1 }, { v: 2 });
    hub.annotate('ocr', { seq: 0 }, { v: 3 });
    const late = new AnnotatedSub('late');
    hub.join(late);
    expect(summary(late.annotations)).toEqual(['yolo@1:{"v":2}', 'ocr@0:{"v":3}']);
    const plain = new FakeSub('plain');
    expect(hub.join(plain)).toBe(true);
    expect(hub.clients).toContain(plain);
  });

  it('a new transmission starts without the annotations of the last one', () => {
    const { hub, current } = setup();
    hub.join(new FakeSub('a'));
    current().frame();
    hub.annotate('yolo', { seq: 0 }, { v: 1 });
    current().emit('end');
    const b = new AnnotatedSub('b');
    hub.join(b);
    expect(b.annotations).toEqual([]);
    expect(hub.annotate('yolo', { seq: 0 }, { v: 2 })).toMatchObject({ refused: 'unknown-frame' });
  });

  it("caps an annotation's JSON at maxMetaBytes, 64 KiB by default", () => {
    const small = setup({ maxMetaBytes: 20 });
    expect(small.hub.annotations.maxBytes).toBe(20);
    small.hub.join(new FakeSub('a'));
    small.current().frame();
    expect(small.hub.annotate('yolo', { seq: 0 }, { t: 'x'.repeat(20) })).toMatchObject({
      refused: 'bad-json',
      status: 413,
    });
    expect(small.hub.annotate('yolo', { seq: 0 }, { t: 'x' })).toMatchObject({ seq: 0 });
    expect(setup().hub.annotations.maxBytes).toBe(DEFAULT_MAX_META_BYTES);
    expect(DEFAULT_MAX_META_BYTES).toBe(64 * 1024);
  });
});
