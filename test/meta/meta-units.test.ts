import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_BURST,
  AnnotationBook,
  MAX_ANALYZERS,
  RECENT_FRAMES,
  annotationJson,
  type Annotation,
  type AnnotationRefusal,
} from '../../src/meta/annotations.js';
import { MAX_META_DEPTH, checkMetaBytes, checkMetaValue } from '../../src/meta/meta-json.js';

const problem = (r: ReturnType<typeof checkMetaBytes>): string | null => ('problem' in r ? r.problem : null);

describe('checkMetaBytes: one JSON object, capped in size and depth', () => {
  it('keeps a valid object as compact JSON', () => {
    const r = checkMetaBytes(Buffer.from('{ "objects" : [ {"box":[1, 2,3,4], "label":"bottle"} ] }'), 1000);
    expect('json' in r && r.json.toString()).toBe('{"objects":[{"box":[1,2,3,4],"label":"bottle"}]}');
  });

  it('refuses what is not an object, not JSON, not UTF-8, too long or too deep', () => {
    expect(problem(checkMetaBytes(Buffer.from('[1,2]'), 100))).toBe('metadata must be a JSON object');
    expect(problem(checkMetaBytes(Buffer.from('"text"'), 100))).toBe('metadata must be a JSON object');
    expect(problem(checkMetaBytes(Buffer.from('null'), 100))).toBe('metadata must be a JSON object');
    expect(problem(checkMetaBytes(Buffer.from('{nope'), 100))).toMatch(/^metadata is not JSON: /);
    expect(problem(checkMetaBytes(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), 100))).toBe(
      'metadata is not valid UTF-8',
    );
    expect(problem(checkMetaBytes(Buffer.from(`{"a":"${'x'.repeat(20)}"}`), 20))).toBe(
      'metadata of 28 bytes is over 20',
    );
    const deep = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
    expect(problem(checkMetaBytes(Buffer.from(deep(MAX_META_DEPTH)), 10_000))).toBeNull();
    expect(problem(checkMetaBytes(Buffer.from(deep(MAX_META_DEPTH + 1)), 10_000))).toBe(
      `metadata nested deeper than ${MAX_META_DEPTH} levels`,
    );
    // Brackets inside strings do not count; a run of brackets is refused before the parser sees it.
    expect(problem(checkMetaBytes(Buffer.from(`{"a":"${'['.repeat(100)}\\""}`), 10_000))).toBeNull();
    expect(problem(checkMetaBytes(Buffer.from('['.repeat(50_000)), 100_000))).toMatch(/nested deeper/);
  });

  it('checkMetaValue applies the same rules to a parsed value', () => {
    expect(problem(checkMetaValue([1], 100))).toBe('metadata must be a JSON object');
    const deep: Record<string, unknown> = {};
    let at = deep;
    for (let i = 0; i < MAX_META_DEPTH + 1; i++) at = at['a'] = {} as Record<string, unknown>;
    expect(problem(checkMetaValue(deep, 10_000))).toMatch(/nested deeper/);
    const r = checkMetaValue({ a: 'é' }, 100);
    expect('json' in r && r.json.toString()).toBe('{"a":"é"}');
    expect(problem(checkMetaValue({ a: 'x'.repeat(10) }, 10))).toBe('metadata of 18 bytes is over 10');
  });
});

const isRefusal = (r: Annotation | AnnotationRefusal): r is AnnotationRefusal => 'refused' in r;

describe('AnnotationBook', () => {
  it('files an annotation of a recent frame by seq or capture time, with that frame’s seq and time', () => {
    const book = new AnnotationBook(1000);
    book.frame(7, 1000.5);
    const a = book.add('motion', { seq: 7 }, Buffer.from('{"n":1}'), 2000);
    expect(a).toEqual({
      analyzer: 'motion',
      seq: 7,
      capturedAt: 1000.5,
      receivedAt: 2000,
      json: Buffer.from('{"n":1}'),
    });
    const b = book.add('other', { capturedAt: 1000.5 }, { n: 2 }, 2001);
    expect(!isRefusal(b) && b.seq).toBe(7);
    expect(annotationJson(a as Annotation)).toBe(
      '{"type":"annotation","analyzer":"motion","seq":7,"capturedAt":1000.5,"data":{"n":1}}',
    );
    expect(book.newest().map((x) => x.analyzer)).toEqual(['motion', 'other']);
    expect(book.counts).toEqual({ accepted: 2, refused: 0 });
  });

  it('refuses unknown frames (409), bad names and JSON (400), too large (413), floods and crowds (429)', () => {
    const book = new AnnotationBook(50);
    book.frame(1, 10);
    const r = (x: Annotation | AnnotationRefusal): [string, number] | null =>
      isRefusal(x) ? [x.refused, x.status] : null;
    expect(r(book.add('m', { seq: 2 }, { a: 1 }, 0))).toEqual(['unknown-frame', 409]);
    expect(r(book.add('m', { capturedAt: 11 }, { a: 1 }, 0))).toEqual(['unknown-frame', 409]);
    expect(r(book.add('-bad', { seq: 1 }, { a: 1 }, 0))).toEqual(['bad-analyzer', 400]);
    expect(r(book.add('x'.repeat(65), { seq: 1 }, { a: 1 }, 0))).toEqual(['bad-analyzer', 400]);
    expect(r(book.add('m', { seq: 1 }, Buffer.from('{'), 0))).toEqual(['bad-json', 400]);
    expect(r(book.add('m', { seq: 1 }, { a: 'x'.repeat(60) }, 0))).toEqual(['bad-json', 413]);
    // The burst, then nothing until frames come: 2 more per frame.
    for (let i = 0; i < ANNOTATION_BURST; i++) expect(r(book.add('m', { seq: 1 }, { i }, 0))).toBeNull();
    expect(r(book.add('m', { seq: 1 }, { i: 'over' }, 0))).toEqual(['rate', 429]);
    book.frame(2, 20);
    expect(r(book.add('m', { seq: 2 }, { i: 1 }, 0))).toBeNull();
    expect(r(book.add('m', { seq: 2 }, { i: 2 }, 0))).toBeNull();
    expect(r(book.add('m', { seq: 2 }, { i: 3 }, 0))).toEqual(['rate', 429]);
    // Another analyzer has its own bucket; at most MAX_ANALYZERS, an idle one's place is freed.
    for (let i = 1; i < MAX_ANALYZERS; i++) expect(r(book.add(`a${i}`, { seq: 2 }, {}, 0))).toBeNull();
    expect(r(book.add('one-too-many', { seq: 2 }, {}, 1000))).toEqual(['analyzers', 429]);
    expect(r(book.add('one-too-many', { seq: 2 }, {}, 61_001))).toBeNull();
    expect(book.counts.refused).toBe(9);
  });

  it('keeps the newest RECENT_FRAMES frames; a transmission’s end forgets them and the newest annotations', () => {
    const book = new AnnotationBook(100);
    for (let s = 0; s <= RECENT_FRAMES; s++) book.frame(s, 1000 + s);
    expect(isRefusal(book.add('m', { seq: 0 }, {}, 0))).toBe(true);
    expect(isRefusal(book.add('m', { capturedAt: 1000 }, {}, 0))).toBe(true);
    expect(isRefusal(book.add('m', { seq: 1 }, {}, 0))).toBe(false);
    // An annotation of an older frame does not replace a newer one as the analyzer's newest.
    book.add('m', { seq: 5 }, { n: 5 }, 0);
    book.add('m', { seq: 3 }, { n: 3 }, 0);
    expect(book.newest().map((a) => a.seq)).toEqual([5]);
    book.reset();
    expect(book.newest()).toEqual([]);
    expect(isRefusal(book.add('m', { seq: 5 }, {}, 0))).toBe(true);
  });
});
