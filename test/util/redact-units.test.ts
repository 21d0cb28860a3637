/** redactCredentials and isSecretParam: URL passwords and secret query parameters are masked in any text. */
import { describe, expect, it } from 'vitest';
import { isSecretParam, redactCredentials, SECRET_PARAM_WORDS } from '../../src/util/redact.js';

const WORDS = [
  'pwd',
  'pass',
  'passwd',
  'password',
  'passphrase',
  'key',
  'apikey',
  'token',
  'accesstoken',
  'secret',
  'auth',
  'authorization',
  'sig',
  'signature',
  'credential',
  'credentials',
];

describe('isSecretParam', () => {
  it('takes every secret word, whatever its case', () => {
    expect([...SECRET_PARAM_WORDS].sort()).toEqual([...WORDS].sort());
    for (const w of WORDS) {
      expect(isSecretParam(w)).toBe(true);
      expect(isSecretParam(w.toUpperCase())).toBe(true);
    }
  });

  it('takes a name with a secret word among its parts (split at -, _ and .)', () => {
    for (const name of ['X-Amz-Signature', 'api_key', 'my.token', 'user-pass_x'])
      expect(isSecretParam(name)).toBe(true);
  });

  it('takes a name that is a secret word once its separators are removed', () => {
    for (const name of ['p-w-d', 'p_w_d', 'p.w.d', 'TO-KEN']) expect(isSecretParam(name)).toBe(true);
  });

  it('leaves names that only contain a secret word inside another', () => {
    for (const name of ['user', 'fps', 'monkey', 'keyframes', 'passage', 'tokens-x', 'p-w', ''])
      expect(isSecretParam(name)).toBe(false);
  });
});

describe('redactCredentials: userinfo', () => {
  it("masks the password, keeping the user and everything after the authority's last '@'", () => {
    expect(redactCredentials('rtsp://admin:pw@cam:554/x')).toBe('rtsp://admin:***@cam:554/x');
    expect(redactCredentials('rtsp://admin:a@b@cam/')).toBe('rtsp://admin:***@cam/');
    expect(redactCredentials('rtsp://me@mail.com:pw@cam/')).toBe('rtsp://me@mail.com:***@cam/');
  });

  it('marks a masked password even where there was none, or no user', () => {
    expect(redactCredentials('rtsp://admin@cam/')).toBe('rtsp://admin:***@cam/');
    expect(redactCredentials('rtsp://:pw@cam/')).toBe('rtsp://:***@cam/');
    expect(redactCredentials('rtsp://@cam/')).toBe('rtsp://:***@cam/');
  });

  it('takes any scheme: upper case, digits, +, . and -', () => {
    expect(redactCredentials('RTSP://u:p@h')).toBe('RTSP://u:***@h');
    expect(redactCredentials('svn+ssh://u:p@h')).toBe('svn+ssh://u:***@h');
    expect(redactCredentials('x1.y-z://u:p@h')).toBe('x1.y-z://u:***@h');
    expect(redactCredentials('see (rtsp://u:p@h)')).toBe('see (rtsp://u:***@h)');
  });

  it("an '@' after the authority's end ('/', '?', '#', a space) is not userinfo", () => {
    for (const text of [
      'http://h/a@b',
      'http://h?q=a@b',
      'http://h#a@b',
      'http://h a@b',
      'a@b',
      'mailto:a@b',
    ])
      expect(redactCredentials(text)).toBe(text);
  });

  it('masks every URL in the text', () => {
    expect(redactCredentials('rtsp://a:b@h and http://u:p@x:8080/s')).toBe(
      'rtsp://a:***@h and http://u:***@x:8080/s',
    );
  });
});

describe('redactCredentials: query parameters', () => {
  it('masks secret parameters, after ? or &, leaving the others', () => {
    expect(redactCredentials('http://h/c?user=admin&pwd=X&fps=30')).toBe(
      'http://h/c?user=admin&pwd=***&fps=30',
    );
    expect(redactCredentials('http://h/c?token=abc')).toBe('http://h/c?token=***');
    expect(redactCredentials('http://h/c?a=1&key=2&sig=3')).toBe('http://h/c?a=1&key=***&sig=***');
  });

  it("the value runs to '&', '#', a space, a quote, or ffmpeg's ': '", () => {
    expect(redactCredentials('h?pwd=X#frag')).toBe('h?pwd=***#frag');
    expect(redactCredentials('h?pwd=X more')).toBe('h?pwd=*** more');
    expect(redactCredentials('h?pwd=X\tmore')).toBe('h?pwd=***\tmore');
    expect(redactCredentials('"h?pwd=X"')).toBe('"h?pwd=***"');
    expect(redactCredentials("'h?pwd=X'")).toBe("'h?pwd=***'");
    expect(redactCredentials('h?pwd=X: Connection refused')).toBe('h?pwd=***: Connection refused');
    expect(redactCredentials('h?pwd=X:')).toBe('h?pwd=***:');
  });

  it("takes '=' and ':' inside a value as part of it", () => {
    expect(redactCredentials('h?token=YWJj==&a=1')).toBe('h?token=***&a=1');
    expect(redactCredentials('h?pwd=a:b&a=1')).toBe('h?pwd=***&a=1');
    expect(redactCredentials('h?pwd=a:b')).toBe('h?pwd=***');
  });

  it('finds a parameter after one without a value, or after a stray ?', () => {
    expect(redactCredentials('h?flag&pwd=X')).toBe('h?flag&pwd=***');
    expect(redactCredentials('h?x?pwd=X')).toBe('h?x?pwd=***');
    expect(redactCredentials('h??pwd=X')).toBe('h??pwd=***');
  });

  it('leaves an empty value, a name without a separator, and other separators alone', () => {
    for (const text of ['h?token=&a=1', 'h?token=', 'pwd=X', 'h;pwd=X', 'h?#pwd=X'])
      expect(redactCredentials(text)).toBe(text);
  });

  it('masks both at once, and masking twice changes nothing', () => {
    const once = redactCredentials('rtsp://admin:p@ss@h/cgi?user=admin&pwd=X');
    expect(once).toBe('rtsp://admin:***@h/cgi?user=admin&pwd=***');
    expect(redactCredentials(once)).toBe(once);
  });
});
