/** streamMatches and STREAM_PATTERN_RE: `*` and `?` globs over stream names, every other character literal. */
import { describe, expect, it } from 'vitest';
import { STREAM_PATTERN_RE, streamMatches } from '../../src/util/stream-glob.js';

describe('streamMatches', () => {
  it('no patterns match every name', () => {
    expect(streamMatches([], 'anything')).toBe(true);
  });

  it('a plain pattern matches only the whole name', () => {
    expect(streamMatches(['cam'], 'cam')).toBe(true);
    expect(streamMatches(['cam'], 'xcam')).toBe(false);
    expect(streamMatches(['cam'], 'camx')).toBe(false);
    expect(streamMatches(['cam'], 'CAM')).toBe(false);
  });

  it('`*` matches any run of characters, the empty one too', () => {
    expect(streamMatches(['cam*'], 'cam')).toBe(true);
    expect(streamMatches(['cam*'], 'cam-door.1')).toBe(true);
    expect(streamMatches(['*door'], 'front-door')).toBe(true);
    expect(streamMatches(['*door'], 'door-front')).toBe(false);
    expect(streamMatches(['*'], '')).toBe(true);
  });

  it('`?` matches exactly one character', () => {
    expect(streamMatches(['cam?'], 'cam1')).toBe(true);
    expect(streamMatches(['cam?'], 'cam')).toBe(false);
    expect(streamMatches(['cam?'], 'cam12')).toBe(false);
  });

  it('every other character is literal, regular-expression syntax included', () => {
    expect(streamMatches(['a.b'], 'a.b')).toBe(true);
    expect(streamMatches(['a.b'], 'axb')).toBe(false);
    expect(streamMatches(['a+'], 'aa')).toBe(false);
    expect(streamMatches(['a+'], 'a+')).toBe(true);
    expect(streamMatches(['a-c'], 'a-c')).toBe(true);
    const special = '.+^${}()|[]\\-';
    expect(streamMatches([special], special)).toBe(true);
    for (const ch of special) {
      expect(streamMatches([`x${ch}y`], `x${ch}y`)).toBe(true);
      expect(streamMatches([`x${ch}y`], 'xqy')).toBe(false);
    }
    expect(streamMatches(['[ab]'], 'a')).toBe(false);
    expect(streamMatches(['(a|b)'], 'a')).toBe(false);
    expect(streamMatches(['a{2}'], 'aa')).toBe(false);
    expect(streamMatches(['^a$'], 'a')).toBe(false);
    expect(streamMatches(['\\d'], '1')).toBe(false);
  });

  it('matches when any one of the patterns does', () => {
    expect(streamMatches(['door', 'cam*'], 'cam2')).toBe(true);
    expect(streamMatches(['door', 'cam*'], 'door')).toBe(true);
    expect(streamMatches(['door', 'cam*'], 'yard')).toBe(false);
  });

  it('gives the same answer for a pattern seen before (and after many others)', () => {
    expect(streamMatches(['re?'], 'rex')).toBe(true);
    for (let i = 0; i < 5000; i++) streamMatches([`p${i}*`], 'q');
    expect(streamMatches(['re?'], 'rex')).toBe(true);
    expect(streamMatches(['re?'], 'rexx')).toBe(false);
  });
});

describe('STREAM_PATTERN_RE', () => {
  it("accepts stream names' characters, `*` and `?`, 1 to 128 of them", () => {
    for (const ok of ['cam', 'A-Z_09.x', '*', '?', 'cam-*', 'a'.repeat(128)])
      expect(STREAM_PATTERN_RE.test(ok)).toBe(true);
  });

  it('refuses the empty pattern, longer ones, and any other character', () => {
    for (const bad of ['', 'a'.repeat(129), 'a/b', 'a b', 'cam+', '[a]', 'é', 'a\n'])
      expect(STREAM_PATTERN_RE.test(bad)).toBe(false);
  });
});
