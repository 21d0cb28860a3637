import { describe, expect, it } from 'vitest';
import { parseAuthSettings } from '../../src/access/auth-settings.js';
import { parsePasswordHash, verifyPassword } from '../../src/access/password.js';
import { spawnCli } from '../helpers/cli.js';

/** Runs `framecast hash-password` with `input` on standard input. */
async function hash(
  input: string,
  args: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnCli(['hash-password', ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin?.end(input);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  return { code, stdout, stderr };
}

describe('framecast hash-password', () => {
  it('prints a hash of standard input (a final newline not part of it) that the config file takes', async () => {
    const r = await hash('s3cret: with spaces\n');
    expect(r.code, r.stderr).toBe(0);
    const line = r.stdout.trim();
    expect(line).not.toContain('s3cret');
    const p = parsePasswordHash(line);
    if (typeof p === 'string') throw new Error(p);
    expect(await verifyPassword(p, 's3cret: with spaces')).toBe(true);
    expect(await verifyPassword(p, 's3cret: with spaces\n')).toBe(false);
    const auth = parseAuthSettings(
      { users: { a: { password: line, permissions: [{ action: 'read' }] } } },
      '/',
    );
    expect(auth.users.get('a')?.password.ln).toBe(15);
  }, 30_000);

  it('an empty password or an argument is a usage error: exit 2, one line, nothing printed', async () => {
    for (const [input, args, re] of [
      ['', [], /the password is empty/],
      ['pw', ['pw'], /takes no arguments/],
    ] as const) {
      const r = await hash(input, [...args]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
  }, 30_000);
});
