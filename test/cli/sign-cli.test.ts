import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyLink } from '../../src/access/signed-link.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';

const SECRET = 'secret-of-at-least-32-bytes-0123456789';
const env = { FRAMECAST_LINK_SECRET: SECRET };
const tmp = makeTempDir('fc-sign-');
afterAll(() => tmp.cleanup());

/** The usage errors: exit 2, one line on stderr matching `re`, nothing on stdout. */
async function usage(args: string[], re: RegExp, e: NodeJS.ProcessEnv = env): Promise<void> {
  const r = await runCli(['sign', ...args], { env: e });
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(re);
}

describe('framecast sign', () => {
  it('prints a token that verifies for that stream, those actions and that duration', async () => {
    const t0 = Date.now();
    const r = await runCli(['sign', '--stream', 'cam', '--actions', 'read,playback', '--expires', '15m'], {
      env,
    });
    expect(r.code, r.stderr).toBe(0);
    const token = r.stdout.trim();
    const v = verifyLink(token, SECRET);
    expect(v?.ok).toBe(true);
    if (!v?.ok) return;
    expect(v.identity.permissions).toEqual([
      { action: 'read', streams: ['cam'] },
      { action: 'playback', streams: ['cam'] },
    ]);
    expect(v.expiresAt).toBeGreaterThanOrEqual(t0 + 15 * 60_000);
    expect(v.expiresAt).toBeLessThanOrEqual(Date.now() + 15 * 60_000);
    expect(verifyLink(token, 'x'.repeat(32))).toEqual({ ok: false, reason: 'bad signature' });
  });

  it('prints ready URLs with --url, each carrying the token', async () => {
    const r = await runCli(
      [
        'sign',
        '--stream',
        'lobby',
        '--actions',
        'read,playback',
        '--expires',
        '2h',
        '--url',
        'http://h:8080/',
      ],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    const token = lines.at(-1)!.split(/\s+/)[1]!;
    expect(verifyLink(token, SECRET)?.ok).toBe(true);
    const q = `?token=${encodeURIComponent(token)}`;
    expect(lines).toEqual([
      `viewer    http://h:8080/streams/lobby/${q}`,
      `mjpeg     http://h:8080/streams/lobby/stream.mjpg${q}`,
      `snapshot  http://h:8080/streams/lobby/snapshot.jpg${q}`,
      `playback  http://h:8080/streams/lobby/playback.mjpg${q}`,
      `token     ${token}`,
    ]);
    const only = await runCli(
      ['sign', '--stream', 'lobby', '--actions', 'playback', '--expires', '2h', '--url', 'http://h:8080'],
      { env },
    );
    expect(only.stdout).toMatch(/^playback {2}http:\/\/h:8080\/streams\/lobby\/playback\.mjpg\?token=fcl1\./);
    expect(only.stdout).not.toContain('stream.mjpg');
    const read = await runCli(['sign', '--stream', 'lobby', '--expires', '2h', '--url', 'https://h/fc'], {
      env,
    });
    expect(read.stdout).toMatch(/^viewer {4}https:\/\/h\/fc\/streams\/lobby\/\?token=fcl1\./);
    expect(read.stdout).not.toContain('playback');
  });

  it('reads auth.linkSecret from --config', async () => {
    const file = join(tmp.dir, 'fc.yaml');
    writeFileSync(file, `streams:\n  cam: test\nauth:\n  linkSecret: "${SECRET}-file"\n`);
    const r = await runCli(['sign', '--stream', 'cam', '--expires', '90s', '--config', file], { env: {} });
    expect(r.code, r.stderr).toBe(0);
    const v = verifyLink(r.stdout.trim(), `${SECRET}-file`);
    expect(v?.ok && v.identity.permissions).toEqual([{ action: 'read', streams: ['cam'] }]);
    writeFileSync(join(tmp.dir, 'none.yaml'), 'streams:\n  cam: test\n');
    await usage(
      ['--stream', 'cam', '--expires', '1h', '--config', join(tmp.dir, 'none.yaml')],
      /auth\.linkSecret is not set$/,
    );
  });

  it('refuses usage errors with exit 2 and one line', async () => {
    await usage(['--stream', 'cam', '--expires', '15x'], /^framecast: --expires: .*got '15x'$/);
    await usage(['--stream', 'cam', '--expires', '400d'], /from 1s to 365d/);
    await usage(['--stream', 'cam', '--expires', '1h'], /no secret: set \$FRAMECAST_LINK_SECRET/, {
      FRAMECAST_LINK_SECRET: '',
    });
    await usage(['--stream', 'cam', '--expires', '1h'], /at least 32 bytes/, {
      FRAMECAST_LINK_SECRET: 'short',
    });
    await usage(['--stream', 'cam*', '--expires', '1h'], /^framecast: --stream: .*no wildcards/);
    await usage(['--stream', 'cam', '--expires', '1h', '--actions', 'read,fly'], /--actions: .*'fly'/);
    await usage(['--expires', '1h'], /--stream NAME is required/);
    await usage(['--stream', 'cam', '--expires', '1h', '--url', 'ftp://x'], /^framecast: --url: /);
  }, 90_000);
});
