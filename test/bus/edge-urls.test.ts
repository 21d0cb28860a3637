import { afterAll, describe, expect, it } from 'vitest';
import { busOptionsProblem, busUrlFault, busUrlForLog, connectBus } from '../../src/bus/bus-connect.js';
import { FramecastError } from '../../src/errors.js';
import { runCli } from '../helpers/cli.js';
import { killTracked } from '../helpers/processes.js';

// Credentials in a bus URL: nats.js does not use them (u:1234@h:4222 even dials port 1234), so they
// are refused with a usage error pointing to --bus-user/--bus-password; and wherever a bus URL is
// shown, everything up to its last '@' is masked, since a password may hold '@', '/' or ','.

afterAll(killTracked);

/** Passwords whose parts once leaked: the tail after an '@', the whole URL ('/'), the head (','). */
const PASSWORDS = ['Kq7@Zr2@Wv9', 'Kq7/Zr2/Wv9', 'Kq7,Zr2,Wv9', 'Kq7@Zr2/Wv9,Tx4'];
const parts = (pw: string): string[] => pw.split(/[@/,]/);
const url = (pw: string): string => `nats://user:${pw}@127.0.0.1:4222`;

describe('bus URLs with credentials', () => {
  it('are masked up to the last @ and pass the rest through', () => {
    expect(busUrlForLog('nats://a:4222,nats://b:4222')).toBe('nats://a:4222,nats://b:4222');
    expect(busUrlForLog('nats://u:p@ss@h:4222')).toBe('nats://***@h:4222');
    expect(busUrlForLog('nats://u:p@h1:4222,nats://v:q@h2:4222')).toBe('nats://***@h2:4222');
    expect(busUrlForLog('u:p/x@h:4222')).toBe('***@h:4222');
    for (const pw of PASSWORDS) for (const p of parts(pw)) expect(busUrlForLog(url(pw))).not.toContain(p);
  });

  it.each(PASSWORDS)(
    'the password %s: a usage error naming --bus-user, the password never in it',
    async (pw) => {
      expect(busUrlFault(url(pw))).toBe('credentials');
      const problem = busOptionsProblem({ url: url(pw) }) ?? '';
      expect(problem).toContain('--bus-user and --bus-password');
      expect(problem).toContain('nats://***@127.0.0.1:4222');
      for (const p of parts(pw)) expect(problem).not.toContain(p);
      // Also in a list, where a ',' in the password would split the list inside it.
      const listed = busOptionsProblem({ url: `nats://127.0.0.1:4223,${url(pw)}` }) ?? '';
      expect(listed).toContain('credentials in the URL are not used');
      for (const p of parts(pw)) expect(listed).not.toContain(p);
      const err = await connectBus({ url: url(pw) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FramecastError);
      expect((err as FramecastError).exitCode).toBe(2);
    },
  );

  it('a URL without credentials that is not nats:// is still named as it is', () => {
    expect(busUrlFault('nats://127.0.0.1:4222')).toBeNull();
    expect(busUrlFault('tls://nats.example:4222')).toBeNull();
    expect(busOptionsProblem({ url: 'http://h:80' })).toBe(
      "--bus must be nats://HOST:PORT (several separated by commas), got 'http://h:80'",
    );
  });

  it('CLI: serve and edge exit 2 with one line; stdout and stderr never hold the password', async () => {
    for (const pw of PASSWORDS.slice(2)) {
      for (const cmd of [
        ['serve', 'cam=test', '--port', '0', '--http-port', 'off', '--bus', url(pw)],
        ['edge', '--port', '0', '--http-port', 'off', '--bus', url(pw)],
      ]) {
        const r = await runCli(cmd, { timeoutMs: 10_000 });
        expect(r.code).toBe(2);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toContain('give them with --bus-user and --bus-password');
        for (const p of parts(pw)) expect(r.stdout + r.stderr).not.toContain(p);
      }
    }
  }, 60_000);

  it('CLI: edge --streams with more than 1000 names is a usage error', async () => {
    const names = Array.from({ length: 1001 }, (_, i) => `s${i}`).join(',');
    const r = await runCli(['edge', '--bus', 'nats://127.0.0.1:4222', '--streams', names], {
      timeoutMs: 10_000,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('framecast: --streams: an edge serves at most 1000 streams, got 1001\n');
  });
});
