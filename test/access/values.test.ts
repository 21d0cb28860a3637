/**
 * The values the `auth:` section takes from a file, a JWT claim or a hook, at their bounds: password
 * hashes (parsePasswordHash) and permission lists (parsePermissions, streamMatches, permits).
 */
import { describe, expect, it } from 'vitest';
import { hashPassword, parsePasswordHash, verifyPassword } from '../../src/access/password.js';
import {
  MAX_PATTERNS,
  MAX_PERMISSIONS,
  parsePermissions,
  PermissionError,
  permits,
  streamMatches,
} from '../../src/access/permissions.js';

const SALT = Buffer.alloc(8, 1).toString('base64').replace(/=+$/, '');
const HASH16 = Buffer.alloc(16, 2).toString('base64').replace(/=+$/, '');
const hashOf = (params: string, salt = SALT, hash = HASH16): string => `$scrypt$${params}$${salt}$${hash}`;
const problem = (text: string): string | null => {
  const r = parsePasswordHash(text);
  return typeof r === 'string' ? r : null;
};

describe('parsePasswordHash at its bounds', () => {
  it('ln 10-20, r 1-32, p 1-16, at most 1 GiB, each bound itself allowed', () => {
    expect(problem(hashOf('ln=10,r=1,p=1'))).toBeNull();
    expect(problem(hashOf('ln=20,r=8,p=16'))).toBeNull();
    expect(problem(hashOf('ln=9,r=8,p=1'))).toMatch(/^scrypt ln must be from 10 to 20$/);
    expect(problem(hashOf('ln=21,r=8,p=1'))).toMatch(/^scrypt ln must be from 10 to 20$/);
    expect(problem(hashOf('ln=10,r=0,p=1'))).toMatch(/^scrypt r must be from 1 to 32$/);
    expect(problem(hashOf('ln=10,r=32,p=1'))).toBeNull();
    expect(problem(hashOf('ln=10,r=33,p=1'))).toMatch(/^scrypt r must be from 1 to 32$/);
    expect(problem(hashOf('ln=10,r=8,p=0'))).toMatch(/^scrypt p must be from 1 to 16$/);
    expect(problem(hashOf('ln=10,r=8,p=17'))).toMatch(/^scrypt p must be from 1 to 16$/);
    // 128 * r * 2^ln: r=32, ln=18 is exactly 1 GiB; ln=19 over it.
    expect(problem(hashOf('ln=18,r=32,p=1'))).toBeNull();
    expect(problem(hashOf('ln=19,r=32,p=1'))).toMatch(/more than 1 GiB/);
    expect(problem(hashOf('ln=20,r=16,p=1'))).toMatch(/more than 1 GiB/);
  });

  it('the shape: two-digit numbers, base64 salt and hash, their lengths', () => {
    expect(problem(hashOf('ln=100,r=8,p=1'))).toMatch(/^must be a hash printed by/);
    expect(problem(hashOf('ln=10,r=100,p=1'))).toMatch(/^must be a hash printed by/);
    expect(problem(hashOf('ln=10,r=8,p=100'))).toMatch(/^must be a hash printed by/);
    expect(problem(`x${hashOf('ln=10,r=8,p=1')}`)).toMatch(/^must be a hash printed by/);
    expect(problem(`${hashOf('ln=10,r=8,p=1')}$`)).toMatch(/^must be a hash printed by/);
    expect(problem(hashOf('ln=10,r=8,p=1', `${SALT}!`))).toBe('the salt and hash must be base64');
    expect(problem(hashOf('ln=10,r=8,p=1', `!${SALT}`))).toBe('the salt and hash must be base64');
    expect(problem(hashOf('ln=10,r=8,p=1', SALT, `${HASH16}-`))).toBe('the salt and hash must be base64');
    const b64 = (n: number): string => Buffer.alloc(n, 3).toString('base64').replace(/=+$/, '');
    expect(problem(hashOf('ln=10,r=8,p=1', b64(7)))).toBe('the salt or hash is too short');
    expect(problem(hashOf('ln=10,r=8,p=1', SALT, b64(15)))).toBe('the salt or hash is too short');
    expect(problem(hashOf('ln=10,r=8,p=1', SALT, b64(64)))).toBeNull();
    expect(problem(hashOf('ln=10,r=8,p=1', SALT, b64(65)))).toBe('the salt or hash is too short');
  });

  it('a hash made here is parsed back whole and verifies (r and p from the string)', async () => {
    const text = await hashPassword('pässwörd', 10);
    expect(text).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    const p = parsePasswordHash(text);
    if (typeof p === 'string') throw new Error(p);
    expect([p.ln, p.r, p.p, p.salt.length, p.hash.length]).toEqual([10, 8, 1, 16, 32]);
    expect(await verifyPassword(p, 'pässwörd')).toBe(true);
    // NFC: the same word typed with combining marks.
    expect(await verifyPassword(p, 'pa\u0308sswo\u0308rd')).toBe(true);
    expect(await verifyPassword(p, 'password')).toBe(false);
    const other = parsePasswordHash(text.replace('r=8,p=1', 'r=4,p=2'));
    if (typeof other === 'string') throw new Error(other);
    expect(await verifyPassword(other, 'pässwörd')).toBe(false);
  });
});

describe('permissions at their bounds', () => {
  const bad = (value: unknown): string => {
    try {
      parsePermissions(value, 'p');
    } catch (err) {
      expect(err).toBeInstanceOf(PermissionError);
      expect((err as Error).name).toBe('PermissionError');
      return (err as Error).message;
    }
    return 'ok';
  };

  it('lists and patterns up to their caps, one more refused', () => {
    expect(bad(Array.from({ length: MAX_PERMISSIONS }, () => ({ action: 'read' })))).toBe('ok');
    expect(bad(Array.from({ length: MAX_PERMISSIONS + 1 }, () => ({ action: 'read' })))).toMatch(
      /at most 256/,
    );
    const pats = (n: number): string[] => Array.from({ length: n }, (_, i) => `s${i}`);
    expect(bad([{ action: 'read', streams: pats(MAX_PATTERNS) }])).toBe('ok');
    expect(bad([{ action: 'read', streams: pats(MAX_PATTERNS + 1) }])).toMatch(
      /^p\[0\]\.streams: at most 64/,
    );
  });

  it('each item a mapping of known keys, an action, patterns of name characters', () => {
    expect(bad([null])).toBe('p[0]: must be a mapping {action, streams}');
    expect(bad(['read'])).toBe('p[0]: must be a mapping {action, streams}');
    expect(bad([['read']])).toBe('p[0]: must be a mapping {action, streams}');
    expect(bad([{ action: 'read', x: 1 }])).toBe('p[0].x: unknown field (action, streams)');
    expect(bad([{ action: 'fly' }])).toMatch(/^p\[0\]\.action: must be one of read, playback/);
    expect(bad([{ action: 7 }])).toMatch(/^p\[0\]\.action: must be one of/);
    expect(bad([{ action: 'read', streams: 7 }])).toBe(
      'p[0].streams: must be a pattern or a list of patterns',
    );
    expect(bad([{ action: 'read', streams: ['ok', 'a/b'] }])).toMatch(
      /^p\[0\]\.streams\[1\]: must be a stream name pattern \(/,
    );
    expect(bad([{ action: 'read', streams: [5] }])).toMatch(
      /^p\[0\]\.streams\[0\]: must be a stream name pattern/,
    );
    expect(parsePermissions([{ action: 'read', path: 'cam*' }], 'p')).toEqual([
      { action: 'read', streams: ['cam*'] },
    ]);
    expect(parsePermissions([{ action: 'read', streams: 'cam1' }], 'p')).toEqual([
      { action: 'read', streams: ['cam1'] },
    ]);
    expect(parsePermissions([{ action: 'read', streams: ['a', '*'] }], 'p')).toEqual([
      { action: 'read', streams: [] },
    ]);
  });

  it('a name matches when any pattern does; a server-wide ask needs every stream', () => {
    expect(streamMatches(['cam*', 'lobby'], 'lobby')).toBe(true);
    expect(streamMatches(['cam*', 'lobby'], 'door')).toBe(false);
    expect(streamMatches(['a.b'], 'axb')).toBe(false);
    expect(streamMatches(['a-b'], 'a-b')).toBe(true);
    const p = [{ action: 'read' as const, streams: ['cam*'] }];
    expect(permits(p, 'read', 'cam1')).toBe(true);
    expect(permits(p, 'read', null)).toBe(false);
    expect(permits(p, 'playback', 'cam1')).toBe(false);
    expect(permits([{ action: 'read', streams: [] }], 'read', null)).toBe(true);
    // Many patterns (beyond the cache of compiled ones) still match rightly.
    for (let i = 0; i < 5000; i++) expect(streamMatches([`s${i}x`], `s${i}x`)).toBe(true);
    expect(streamMatches(['s1x'], 's2x')).toBe(false);
  });
});
