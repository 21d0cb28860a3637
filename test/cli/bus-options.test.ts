import { describe, expect, it } from 'vitest';
import type { BusOptions } from '../../src/bus/bus.js';
import { FramecastError } from '../../src/errors.js';
import { busOption, type BusArgValues } from '../../src/cli/bus-options.js';

const FILE: BusOptions = {
  url: 'nats://file:4222',
  prefix: 'site1',
  name: 'origin-1',
  user: 'from-file',
  password: 'file-pw',
  tls: { caFile: '/etc/hosts' },
};

function usage(v: BusArgValues, file: BusOptions | null = null, env: NodeJS.ProcessEnv = {}): string {
  try {
    busOption(v, file, env);
  } catch (err) {
    expect(err).toBeInstanceOf(FramecastError);
    expect((err as FramecastError).exitCode).toBe(2);
    return (err as Error).message;
  }
  throw new Error('expected a usage error');
}

describe('busOption: the bus flags over the config file', () => {
  it('no --bus and no bus: in the file is no bus; a bus flag alone is a usage error', () => {
    expect(busOption({}, null, {})).toBeNull();
    expect(usage({ 'bus-user': 'u' })).toBe('--bus-user applies with --bus (or bus: in the config file)');
  });

  it('flags win key by key; any login flag replaces the file login', () => {
    expect(busOption({ 'bus-prefix': 'cli' }, FILE, {})).toEqual({ ...FILE, prefix: 'cli' });
    expect(busOption({ bus: 'nats://cli:4222', 'bus-token': 'tok' }, FILE, {})).toEqual({
      url: 'nats://cli:4222',
      prefix: 'site1',
      name: 'origin-1',
      token: 'tok',
      tls: { caFile: '/etc/hosts' },
    });
    expect(busOption({ 'bus-tls-cert': '/etc/hosts', 'bus-tls-key': '/etc/hosts' }, FILE, {})?.tls).toEqual({
      caFile: '/etc/hosts',
      certFile: '/etc/hosts',
      keyFile: '/etc/hosts',
    });
  });

  it('the environment fills only a gap: a password for a user, a token when no login is given', () => {
    const env = { FRAMECAST_BUS_PASSWORD: 'env-pw', FRAMECAST_BUS_TOKEN: 'env-tok' };
    expect(busOption({ bus: 'nats://a:1', 'bus-user': 'u' }, null, env)).toMatchObject({
      user: 'u',
      password: 'env-pw',
    });
    expect(busOption({ bus: 'nats://a:1' }, null, env)).toEqual({ url: 'nats://a:1', token: 'env-tok' });
    // A user in the file, its password in the environment.
    expect(busOption({}, { url: 'nats://a:1', user: 'u' }, env)).toEqual({
      url: 'nats://a:1',
      user: 'u',
      password: 'env-pw',
    });
    // The file's own login stays.
    expect(busOption({}, FILE, env)).toMatchObject({ user: 'from-file', password: 'file-pw' });
    expect(busOption({}, FILE, env)?.token).toBeUndefined();
  });

  it('bad values are one line naming the flag', () => {
    expect(usage({ bus: 'nats://a:1', 'bus-prefix': 'a.>' })).toMatch(
      /^--bus-prefix must be NATS subject tokens/,
    );
    expect(usage({ bus: 'nats://a:1', 'bus-name': 'two words' })).toBe(
      "--bus-name must be 1 to 128 characters without spaces, got 'two words'",
    );
    expect(usage({ bus: 'nats://a:1', 'bus-password': 'p' })).toBe(
      'bus: a password needs a user (--bus-user)',
    );
    expect(usage({ bus: 'nats://a:1', 'bus-tls-key': '/etc/hosts' })).toMatch(
      /--bus-tls-cert with --bus-tls-key/,
    );
    expect(usage({ bus: 'nats://a:1', 'bus-creds': '/no/such.creds' })).toBe(
      'bus creds file /no/such.creds: no such file',
    );
    expect(usage({ bus: 'nats://a:1,localhost:4222' })).toBe(
      "--bus must be nats://HOST:PORT (several separated by commas), got 'localhost:4222'",
    );
  });
});
