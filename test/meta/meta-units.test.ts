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
import {
  DEFAULT_MAX_META_BYTES,
  MAX_META_BYTES_LIMIT,
  MAX_META_DEPTH,
  checkMetaBytes,
  checkMetaValue,
} from '../../src/meta/meta-json.js';

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

describe('meta limits at their edges', () => {
  it('the caps', () => {
    expect(DEFAULT_MAX_META_BYTES).toBe(65_536);
    expect(MAX_META_BYTES_LIMIT).toBe(1_048_576);
  });

  it('the bytes as sent count, not the compact JSON; exactly the cap passes', () => {
    // 9 bytes as sent, 7 once compact: over a cap of 8.
    expect(problem(checkMetaBytes(Buffer.from('{"a": 1 }'), 8))).toBe('metadata of 9 bytes is over 8');
    expect(problem(checkMetaBytes(Buffer.from('{"a": 1 }'), 9))).toBeNull();
    expect(problem(checkMetaValue({ a: 1 }, 7))).toBeNull();
    expect(problem(checkMetaValue({ a: 1 }, 6))).toBe('metadata of 7 bytes is over 6');
  });

  it('arrays count as nesting like objects; a wide shallow document is fine', () => {
    const deep = (n: number): string => '{"a":' + '['.repeat(n - 1) + '1' + ']'.repeat(n - 1) + '}';
    expect(problem(checkMetaBytes(Buffer.from(deep(MAX_META_DEPTH)), 10_000))).toBeNull();
    expect(problem(checkMetaBytes(Buffer.from(deep(MAX_META_DEPTH + 1)), 10_000))).toMatch(/nested deeper/);
    const wide = JSON.stringify({ a: Array.from({ length: 100 }, (_, i) => ({ i, b: [i] })) });
    expect(problem(checkMetaBytes(Buffer.from(wide), 100_000))).toBeNull();
    // Closed brackets close: many siblings at depth 2 are depth 2.
    expect(
      problem(
        checkMetaBytes(
          Buffer.from('{"a":' + '[1],'.repeat(40).slice(0, -1).replace(/^/, '[') + ']}'),
          10_000,
        ),
      ),
    ).toBeNull();
  });
});

describe('AnnotationBook: messages and edges', () => {
  const msg = (x: Annotation | AnnotationRefusal): string | null => (isRefusal(x) ? x.problem : null);

  it('says which frame it does not know, and why a name or a crowd is refused', () => {
    const book = new AnnotationBook(100);
    book.frame(1, 10);
    expect(msg(book.add('m', { seq: 2 }, {}, 0))).toBe("seq 2 is not one of the stream's recent frames");
    expect(msg(book.add('m', { capturedAt: 11 }, {}, 0))).toBe(
      "capturedAt 11 is not one of the stream's recent frames",
    );
    expect(msg(book.add('-x', { seq: 1 }, {}, 0))).toBe(
      'an analyzer name is 1 to 64 of A-Z a-z 0-9 _ . - (not first)',
    );
    for (let i = 0; i < MAX_ANALYZERS; i++) book.add(`a${i}`, { seq: 1 }, {}, 0);
    expect(msg(book.add('late', { seq: 1 }, {}, 60_000))).toBe(
      `the stream already has ${MAX_ANALYZERS} analyzers; try again later`,
    );
    // Idle for exactly ANALYZER_IDLE_MS is not yet idle; a moment more is.
    expect(msg(book.add('late', { seq: 1 }, {}, 60_001))).toBeNull();
    const rate = new AnnotationBook(100);
    rate.frame(1, 10);
    for (let i = 0; i < ANNOTATION_BURST; i++) rate.add('m', { seq: 1 }, {}, 0);
    expect(msg(rate.add('m', { seq: 1 }, {}, 0))).toBe('analyzer m sends more than 2 annotations per frame');
  });

  it('an analyzer idle since a later time is not forgotten', () => {
    const book = new AnnotationBook(100);
    book.frame(1, 10);
    for (let i = 0; i < MAX_ANALYZERS; i++) book.add(`a${i}`, { seq: 1 }, {}, 50_000);
    expect(msg(book.add('late', { seq: 1 }, {}, 100_000))).toBe(
      `the stream already has ${MAX_ANALYZERS} analyzers; try again later`,
    );
  });

  it('a new annotation of the same frame replaces the newest', () => {
    const book = new AnnotationBook(100);
    book.frame(1, 10);
    book.add('m', { seq: 1 }, { n: 1 }, 0);
    book.add('m', { seq: 1 }, { n: 2 }, 0);
    expect(book.newest().map((a) => a.json.toString())).toEqual(['{"n":2}']);
  });

  it('a capture time reused by a newer frame still finds that frame after the older one is dropped', () => {
    const book = new AnnotationBook(100);
    book.frame(0, 5);
    book.frame(1, 5); // the same capture time as frame 0
    for (let s = 2; s <= RECENT_FRAMES; s++) book.frame(s, 1000 + s);
    // Frame 0 is dropped; capture time 5 belongs to frame 1, which is still recent.
    const a = book.add('m', { capturedAt: 5 }, {}, 0);
    expect(!isRefusal(a) && a.seq).toBe(1);
  });
});
