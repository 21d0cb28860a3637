import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  busUrlFault,
  busUrlForLog,
  MIN_SECRET_LENGTH,
  prefixProblem,
  secretProblem,
  unreadableFile,
} from '../../src/config/bus-settings.js';
import { makeTempDir } from '../helpers/fixtures.js';

let tmp: ReturnType<typeof makeTempDir>;
beforeAll(() => {
  tmp = makeTempDir('framecast-bus-settings-');
});
afterAll(() => tmp.cleanup());

describe('busUrlForLog masks everything up to the last @', () => {
  it('leaves a URL without credentials as it is', () => {
    expect(busUrlForLog('nats://h:4222,nats://g:4222')).toBe('nats://h:4222,nats://g:4222');
  });
  it('masks the user and password, keeping the scheme', () => {
    expect(busUrlForLog('nats://u:p@ss@h:4222')).toBe('nats://***@h:4222');
  });
  it('masks an @ at the very start', () => {
    expect(busUrlForLog('@h:4222')).toBe('***@h:4222');
  });
  it('shows no scheme when the URL has none', () => {
    expect(busUrlForLog('u:p@h:4222')).toBe('***@h:4222');
  });
  it('takes a scheme only from the start (a password may look like one)', () => {
    expect(busUrlForLog('u:pw://z@h:4222')).toBe('***@h:4222');
  });
});

describe('busUrlFault', () => {
  it('takes nats:// and tls:// with a host', () => {
    expect(busUrlFault('nats://h:4222')).toBeNull();
    expect(busUrlFault('tls://h:4222')).toBeNull();
  });
  it('trims Unicode spaces around the URL', () => {
    expect(busUrlFault('\u00a0nats://h:4222\u00a0')).toBeNull();
  });
  it('refuses any @ as credentials', () => {
    expect(busUrlFault('nats://u:p@h:4222')).toBe('credentials');
  });
  it('refuses a URL without a host, another scheme, or no URL at all', () => {
    expect(busUrlFault('nats:h')).toBe('malformed');
    expect(busUrlFault('nats:///x')).toBe('malformed');
    expect(busUrlFault('http://h:4222')).toBe('malformed');
    expect(busUrlFault('not a url')).toBe('malformed');
  });
});

describe('unreadableFile', () => {
  it('is null for a readable file', () => {
    const p = join(tmp.dir, 'creds');
    writeFileSync(p, 'x');
    expect(unreadableFile(p)).toBeNull();
  });
  it('names a directory, a missing file and a path through a file', () => {
    const d = join(tmp.dir, 'dir');
    mkdirSync(d);
    const f = join(tmp.dir, 'plain');
    writeFileSync(f, 'x');
    expect(unreadableFile(d)).toBe('is a directory');
    expect(unreadableFile(join(tmp.dir, 'missing'))).toBe('no such file');
    expect(unreadableFile(join(f, 'below'))).toBe('no such file');
  });
  it('gives the error message for any other failure', () => {
    expect(unreadableFile('a\0b')).toMatch(/without null bytes/);
  });
});

describe('prefixProblem', () => {
  const problem = (p: string): string =>
    `must be NATS subject tokens (letters, digits, _ -, dots between; at most 128 characters), got '${p}'`;
  it('takes tokens separated by dots', () => {
    expect(prefixProblem('framecast')).toBeNull();
    expect(prefixProblem('a.b_c.d-9')).toBeNull();
  });
  it('refuses a leading dot, wildcards and empty tokens', () => {
    expect(prefixProblem('.a')).toBe(problem('.a'));
    expect(prefixProblem('a.*')).toBe(problem('a.*'));
    expect(prefixProblem('a..b')).toBe(problem('a..b'));
  });
  it('takes 128 characters and refuses 129', () => {
    expect(prefixProblem('a'.repeat(128))).toBeNull();
    expect(prefixProblem('a'.repeat(129))).toBe(problem('a'.repeat(129)));
  });
});

describe('secretProblem', () => {
  it('refuses 15 characters and takes 16', () => {
    expect(MIN_SECRET_LENGTH).toBe(16);
    expect(secretProblem('s'.repeat(15))).toBe(
      'must be at least 16 characters (openssl rand -hex 32 makes one)',
    );
    expect(secretProblem('s'.repeat(16))).toBeNull();
  });
  it('takes 1024 bytes and refuses 1025, counted in UTF-8', () => {
    expect(secretProblem('s'.repeat(1024))).toBeNull();
    expect(secretProblem('s'.repeat(1025))).toBe('must be at most 1024 bytes');
    expect(secretProblem('é'.repeat(513))).toBe('must be at most 1024 bytes');
  });
  it('refuses control characters', () => {
    expect(secretProblem(`${'s'.repeat(16)}\n`)).toBe('must not hold control characters');
    expect(secretProblem(`${'s'.repeat(16)}\u007f`)).toBe('must not hold control characters');
  });
});
