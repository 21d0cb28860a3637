import { describe, expect, it } from 'vitest';
import { parseDocument, isMap } from 'yaml';
import { editStreamDocument, editStreamText, formatValue, keyName } from '../../src/config/config-edit.js';
import type { StreamConfig } from '../../src/streams/stream-options.js';

const cfg = (o: Partial<StreamConfig>): StreamConfig => o as StreamConfig;

describe('editStreamText splices one stream and keeps every other byte', () => {
  it('adds a streams block after the last line when there is none', () => {
    expect(editStreamText('port: 8080\n', 'cam', cfg({ source: 'a.mp4', width: 640 }))).toBe(
      'port: 8080\nstreams:\n  cam:\n    source: a.mp4\n    width: 640\n',
    );
  });

  it('starts a new line before the streams block when the file has no final newline', () => {
    expect(editStreamText('port: 8080', 'cam', cfg({ source: 'a.mp4' }))).toBe(
      'port: 8080\nstreams:\n  cam:\n    source: a.mp4\n',
    );
  });

  it('leaves a file without streams as it is when removing one', () => {
    expect(editStreamText('port: 8080 # x\n', 'cam', null)).toBe('port: 8080 # x\n');
  });

  it('writes a stream without fields (undefined ones left out) as {}', () => {
    expect(editStreamText('port: 1\n', 'cam', cfg({ width: undefined }))).toBe(
      'port: 1\nstreams:\n  cam: {}\n',
    );
    expect(editStreamText('streams:\n  a:\n    source: x\n', 'cam', cfg({ source: undefined }))).toBe(
      'streams:\n  a:\n    source: x\n  cam: {}\n',
    );
  });

  it('leaves text that does not parse unchanged', () => {
    expect(editStreamText('a: [\n', 'cam', cfg({ source: 'x' }))).toBe('a: [\n');
  });

  it('falls back to the document for a flow root and leaves a scalar root unchanged', () => {
    expect(editStreamText('{port: 1}\n', 'cam', cfg({ source: 'x' }))).toBe(
      '{ port: 1, streams: { cam: { source: x } } }\n',
    );
    expect(editStreamText('hello\n', 'cam', cfg({ source: 'x' }))).toBe('hello\n');
  });

  it("indents a new stream like the first one and its fields like the first stream's", () => {
    expect(editStreamText('streams:\n    a:\n        source: x\n', 'b', cfg({ source: 'y' }))).toBe(
      'streams:\n    a:\n        source: x\n    b:\n        source: y\n',
    );
  });

  it('indents fields by two when the first stream is a flow mapping or empty', () => {
    expect(editStreamText('streams:\n    a: {source: x}\n', 'b', cfg({ source: 'y' }))).toBe(
      'streams:\n    a: {source: x}\n    b:\n      source: y\n',
    );
    expect(editStreamText('streams:\n    a:\n    z:\n      source: q\n', 'b', cfg({ source: 'y' }))).toBe(
      'streams:\n    a:\n    z:\n      source: q\n    b:\n      source: y\n',
    );
  });

  it('replaces an empty stream value on its own line, one space after the colon', () => {
    expect(editStreamText('streams:\n  a:\n  b:\n    source: y\n', 'a', cfg({ source: 'z' }))).toBe(
      'streams:\n  a: { source: z }\n  b:\n    source: y\n',
    );
  });

  it('replaces an empty flow mapping in place', () => {
    expect(editStreamText('streams:\n  a:\n  b: {}\n', 'b', cfg({ source: 'z' }))).toBe(
      'streams:\n  a:\n  b: { source: z }\n',
    );
  });

  it('replaces a flow mapping in place, keeping its inline comment', () => {
    expect(
      editStreamText(
        'streams:\n  a: {source: x} # c\n  b:\n    source: y\n',
        'a',
        cfg({ source: 'z', width: 2 }),
      ),
    ).toBe('streams:\n  a: { source: z, width: 2 } # c\n  b:\n    source: y\n');
  });

  it('keeps an unchanged field exactly as written (quotes, spacing, comment)', () => {
    expect(
      editStreamText(
        "streams:\n  a:\n    source: 'x.mp4'  # keep\n    width: 1\n",
        'a',
        cfg({ source: 'x.mp4', width: 2 }),
      ),
    ).toBe("streams:\n  a:\n    source: 'x.mp4'  # keep\n    width: 2\n");
  });

  it('fills an empty field with one space after its colon', () => {
    expect(
      editStreamText('streams:\n  a:\n    source:\n    width: 1\n', 'a', cfg({ source: 'x', width: 1 })),
    ).toBe('streams:\n  a:\n    source: x\n    width: 1\n');
    expect(
      editStreamText('streams:\n  a:\n    width: 1\n    source:', 'a', cfg({ source: 'x', width: 1 })),
    ).toBe('streams:\n  a:\n    width: 1\n    source: x');
  });

  it('adds new fields each on its own line after the last one', () => {
    expect(
      editStreamText('streams:\n  a:\n    width: 1\n', 'a', cfg({ width: 1, source: 'x', quality: 5 })),
    ).toBe('streams:\n  a:\n    width: 1\n    source: x\n    quality: 5\n');
  });

  it('removes the lines of fields no longer set', () => {
    expect(
      editStreamText(
        'streams:\n  a:\n    source: x # s\n    width: 1\n    quality: 2\n',
        'a',
        cfg({ width: 1 }),
      ),
    ).toBe('streams:\n  a:\n    width: 1\n');
  });

  it('adds no newline to a file without a final one when no line is added', () => {
    expect(editStreamText('streams:\n  a:\n    width: 1', 'a', cfg({ width: 2 }))).toBe(
      'streams:\n  a:\n    width: 2',
    );
  });

  it('starts a new line before a stream added to a file without a final newline', () => {
    expect(editStreamText('streams:\n  a:\n    width: 1', 'b', cfg({ width: 2 }))).toBe(
      'streams:\n  a:\n    width: 1\n  b:\n    width: 2\n',
    );
  });

  it('removes a stream: its key line through its last value line', () => {
    expect(editStreamText('streams:\n  a:\n    width: 1\n  b:\n    width: 2\n', 'a', null)).toBe(
      'streams:\n  b:\n    width: 2\n',
    );
    expect(editStreamText('streams:\n  a:\n    width: 1\n  b:\n    width: 2', 'b', null)).toBe(
      'streams:\n  a:\n    width: 1\n',
    );
  });

  it('leaves the file as it is when removing a stream it does not have', () => {
    const text = 'streams:\n  a:\n    width: 1 # w\n';
    expect(editStreamText(text, 'zz', null)).toBe(text);
  });

  it('adds a stream after a last stream ending in a block sequence, before trailing comments', () => {
    expect(
      editStreamText(
        'streams:\n  a:\n    tags:\n      - x\n      - y\n  # trailing\nport: 1\n',
        'b',
        cfg({ width: 2 }),
      ),
    ).toBe('streams:\n  a:\n    tags:\n      - x\n      - y\n  b:\n    width: 2\n  # trailing\nport: 1\n');
  });

  it('finds a stream by its key as typed (1.50 is not 1.5)', () => {
    expect(editStreamText('streams:\n  1.50:\n    width: 1\n', '1.50', cfg({ width: 3 }))).toBe(
      'streams:\n  1.50:\n    width: 3\n',
    );
    expect(editStreamText('streams:\n  1.50:\n    width: 1\n', '1.5', cfg({ width: 3 }))).toBe(
      'streams:\n  1.50:\n    width: 1\n  "1.5":\n    width: 3\n',
    );
  });

  it('removes a flow-style stream through the document', () => {
    expect(editStreamText('streams: {a: {width: 1}}\n', 'a', null)).toBe('streams: {}\n');
  });
});

describe('editStreamDocument', () => {
  it('leaves a document whose root is not a mapping unchanged', () => {
    expect(editStreamDocument('hello\n', 'a', cfg({ width: 1 }))).toBe('hello\n');
  });

  it('removes a stream, found by its key as typed', () => {
    expect(editStreamDocument('streams: {a: {width: 1}, b: {width: 2}}\n', 'a', null)).toBe(
      'streams: { b: { width: 2 } }\n',
    );
    expect(editStreamDocument('streams: {1.50: {width: 1}, b: {width: 2}}\n', '1.50', null)).toBe(
      'streams: { b: { width: 2 } }\n',
    );
  });

  it('leaves the streams as they are when removing one that is not there', () => {
    expect(editStreamDocument('streams: {a: {width: 1}}\n', 'zz', null)).toBe(
      'streams: { a: { width: 1 } }\n',
    );
    expect(editStreamDocument('port: 1\n', 'zz', null)).toBe('port: 1\n');
  });

  it('replaces a stream in place, found by its key as typed', () => {
    expect(editStreamDocument('streams: {1.50: {width: 1}}\n', '1.50', cfg({ width: 3 }))).toBe(
      'streams: { 1.50: { width: 3 } }\n',
    );
  });

  it('adds a stream, and a streams mapping when there is none', () => {
    expect(editStreamDocument('streams: {a: {width: 1}}\n', 'b', cfg({ width: 3 }))).toBe(
      'streams: { a: { width: 1 }, b: { width: 3 } }\n',
    );
    expect(editStreamDocument('port: 1\n', 'b', cfg({ width: 3, source: undefined }))).toBe(
      'port: 1\nstreams:\n  b:\n    width: 3\n',
    );
  });
});

describe('formatValue and keyName', () => {
  it('writes a string with a line break on one line, quoted', () => {
    expect(formatValue('a\nb')).toBe('"a\\nb"');
    expect(formatValue({ t: 'a\nb' })).toBe('{"t":"a\\nb"}');
    expect(editStreamText('streams:\n  a:\n    source: x # c\n', 'a', cfg({ source: 'a\nb' }))).toBe(
      'streams:\n  a:\n    source: "a\\nb" # c\n',
    );
  });

  it('never writes a block scalar', () => {
    expect(formatValue('a\nb')).not.toMatch(/^[|>]/);
    expect(formatValue({ a: [1, 2] })).toBe('{ a: [ 1, 2 ] }');
  });

  it('reads a plain key as typed, a quoted key as its string, and no name for a non-scalar key', () => {
    const text = 'streams:\n  1.50: 1\n  "2.0": 2\n  ? [x]\n  : 3\n';
    const doc = parseDocument(text);
    const streams = (doc.contents as unknown as { get(k: string, keep: true): unknown }).get('streams', true);
    if (!isMap(streams)) throw new Error('no streams mapping');
    expect(streams.items.map((p) => keyName(p.key, text))).toEqual(['1.50', '2.0', null]);
  });
});
