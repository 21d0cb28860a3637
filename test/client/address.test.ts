import { describe, expect, it } from 'vitest';
import { formatAddress, parseServerAddress } from '../../src/client/address.js';
import { UsageError } from '../../src/errors.js';

describe('parseServerAddress', () => {
  it.each([
    [undefined, { host: '127.0.0.1', port: 9999, tls: false, stream: null }],
    ['', { host: '127.0.0.1', port: 9999, tls: false, stream: null }],
    ['example.org', { host: 'example.org', port: 9999, tls: false, stream: null }],
    ['192.168.1.20:1234', { host: '192.168.1.20', port: 1234, tls: false, stream: null }],
    [':4000', { host: '127.0.0.1', port: 4000, tls: false, stream: null }],
    ['[::1]:8080', { host: '::1', port: 8080, tls: false, stream: null }],
    ['[::1]', { host: '::1', port: 9999, tls: false, stream: null }],
    ['::1', { host: '::1', port: 9999, tls: false, stream: null }],
    ['fe80::1:2', { host: 'fe80::1:2', port: 9999, tls: false, stream: null }],
    ['tcp://host:1', { host: 'host', port: 1, tls: false, stream: null }],
    ['TLS://host:65535/', { host: 'host', port: 65535, tls: true, stream: null }],
    ['tls://[::1]:443', { host: '::1', port: 443, tls: true, stream: null }],
    ['  localhost:9000  ', { host: 'localhost', port: 9000, tls: false, stream: null }],
  ])('%s', (text, expected) => {
    expect(parseServerAddress(text)).toEqual(expected);
  });

  it.each([
    ['h:1/cam', { host: 'h', port: 1, tls: false, stream: 'cam' }],
    ['tls://[::1]:443/lobby.1/', { host: '::1', port: 443, tls: true, stream: 'lobby.1' }],
    ['127.0.0.1/default', { host: '127.0.0.1', port: 9999, tls: false, stream: 'default' }],
  ])('names a stream: %s', (text, expected) => {
    expect(parseServerAddress(text)).toEqual(expected);
  });

  it('rejects a stream name names cannot have', () => {
    expect(() => parseServerAddress('h:1/no spaces')).toThrow(/invalid stream name 'no spaces'/);
    expect(() => parseServerAddress('h:1/' + 'x'.repeat(65))).toThrow(UsageError);
  });

  it('uses the given default port', () => {
    expect(parseServerAddress('h', 1234).port).toBe(1234);
  });

  it.each(['h:0', 'h:65536', 'h:abc', 'h:', 'h:12x', '[::1]:-1', 'h:1.5'])(
    'rejects %s with a usage error',
    (t) => {
      const run = (): unknown => parseServerAddress(t);
      expect(run).toThrow(UsageError);
      expect(run).toThrow(/invalid port .* \(expected 1\.\.65535\)/);
    },
  );

  it('rejects other schemes, naming them', () => {
    expect(() => parseServerAddress('http://h:1')).toThrow(/unsupported address scheme 'http:\/\/'/);
  });
});

describe('formatAddress', () => {
  it('brackets IPv6 hosts only', () => {
    expect(formatAddress('127.0.0.1', 9999)).toBe('127.0.0.1:9999');
    expect(formatAddress('::1', 80)).toBe('[::1]:80');
  });
});
