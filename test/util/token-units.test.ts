/** Tokens: salted digests, constant-time matching, what a token opens, its problems and where it comes from. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TOKEN_BYTES } from '../../src/protocol/native.js';
import {
  resolveToken,
  TOKEN_ENV,
  tokenDigest,
  tokenMatches,
  tokenOpens,
  tokenProblem,
} from '../../src/util/token.js';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('tokenDigest', () => {
  it('is hex(SHA-256(salt + token)) with the salt', () => {
    expect(tokenDigest('secret', 'salt')).toEqual({
      salt: 'salt',
      sha256: 'bede90386d450cea8b77b822f8887065e4e5abf132c2f9dccfcc7fbd4cba5e35',
    });
    expect(tokenDigest('', '').sha256).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });
});

describe('tokenMatches', () => {
  it('compares plain tokens exactly', () => {
    expect(tokenMatches('secret', 'secret')).toBe(true);
    expect(tokenMatches('secret', 'Secret')).toBe(false);
    expect(tokenMatches('secret', 'secret-and-longer')).toBe(false);
    expect(tokenMatches('secret', '')).toBe(false);
  });

  it('checks a token against a salted digest', () => {
    const d = tokenDigest('secret', 'salt');
    expect(tokenMatches(d, 'secret')).toBe(true);
    expect(tokenMatches(d, 'salt')).toBe(false);
    expect(tokenMatches(d, 'saltsecret')).toBe(false);
    expect(tokenMatches({ salt: 'other', sha256: d.sha256 }, 'secret')).toBe(false);
  });

  it('a malformed digest matches nothing, and does not throw', () => {
    expect(tokenMatches({ salt: 'salt', sha256: 'abcd' }, 'secret')).toBe(false);
    expect(tokenMatches({ salt: 'salt', sha256: '' }, '')).toBe(false);
  });
});

describe('tokenOpens', () => {
  it('opens anything when no token is set', () => {
    expect(tokenOpens(null)).toBe(true);
    expect(tokenOpens(null, null, null)).toBe(true);
    expect(tokenOpens('whatever', null)).toBe(true);
  });

  it('needs a given token matching one of those set', () => {
    expect(tokenOpens('b', 'a', null, 'b')).toBe(true);
    expect(tokenOpens('a', 'a', 'b')).toBe(true);
    expect(tokenOpens('c', 'a', 'b')).toBe(false);
    expect(tokenOpens('s', tokenDigest('s', 'x'))).toBe(true);
  });

  it('a missing or empty given token opens nothing guarded, not even an empty token', () => {
    expect(tokenOpens(null, 'a')).toBe(false);
    expect(tokenOpens('', 'a')).toBe(false);
    expect(tokenOpens('', '')).toBe(false);
    expect(tokenOpens('', tokenDigest('', 's'))).toBe(false);
  });
});

describe('tokenProblem', () => {
  it('refuses an empty token', () => {
    expect(tokenProblem('')).toBe('the token is empty');
  });

  it(`refuses a token over ${MAX_TOKEN_BYTES} UTF-8 bytes`, () => {
    expect(MAX_TOKEN_BYTES).toBe(1024);
    expect(tokenProblem('a'.repeat(1024))).toBeNull();
    expect(tokenProblem('a'.repeat(1025))).toBe('the token is over 1024 bytes');
    // 513 characters, 1026 bytes.
    expect(tokenProblem('é'.repeat(513))).toBe('the token is over 1024 bytes');
  });

  it('refuses control characters (C0 and DEL), nothing else', () => {
    for (const bad of ['a\u0000b', 'a\tb', 'a\nb', '\u001f', 'x\u007f'])
      expect(tokenProblem(bad)).toBe('the token contains control characters');
    for (const ok of ['a b', '~', '!', 'é\u0080', 'tok-123_ABC']) expect(tokenProblem(ok)).toBeNull();
  });
});

describe('resolveToken', () => {
  it('takes an explicit value first, even an empty one', () => {
    expect(resolveToken('given', { [TOKEN_ENV]: 'env' })).toBe('given');
    expect(resolveToken('', { [TOKEN_ENV]: 'env' })).toBe('');
  });

  it('else FRAMECAST_TOKEN, an empty variable counting as unset', () => {
    expect(TOKEN_ENV).toBe('FRAMECAST_TOKEN');
    expect(resolveToken(undefined, { FRAMECAST_TOKEN: 'env' })).toBe('env');
    expect(resolveToken(undefined, { FRAMECAST_TOKEN: '' })).toBeNull();
    expect(resolveToken(undefined, {})).toBeNull();
  });

  it("reads the process's environment by default", () => {
    vi.stubEnv('FRAMECAST_TOKEN', 'from-process');
    expect(resolveToken(undefined)).toBe('from-process');
  });
});
