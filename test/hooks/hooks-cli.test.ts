import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, runCli, runPlay, startServe } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { killTracked } from '../helpers/processes.js';

const tmp = makeTempDir('framecast-hooks-cli-');
afterAll(async () => {
  await killTracked();
  tmp.cleanup();
});

describe('serve --config with hooks: and an exec: stream', () => {
  it("runs the hooks and the command, logging a failed hook and the command's stop in one line each", async () => {
    const config = join(tmp.dir, 'f.yaml');
    writeFileSync(
      config,
      [
        'httpPort: 0',
        'hooks:',
        '  - name: pager',
        '    on: demandStart',
        '    run: exit 5',
        'streams:',
        '  cam:',
        `    source: 'exec:exec "${process.execPath}" "${BIN}" publish test "$FRAMECAST_PUBLISH_ADDRESS/$FRAMECAST_STREAM" --width 160 --fps 10'`,
        '',
      ].join('\n'),
    );
    const serve = await startServe(['--config', config]);
    try {
      const play = await runPlay(`127.0.0.1:${serve.port}/cam`, ['--frames', '15'], { timeoutMs: 30_000 });
      expect(play.code).toBe(0);
      expect(play.summary?.width).toBe(160);
      const hook = await serve.waitForEvent('hook');
      expect(hook.message).toBe('hook pager (demandStart, stream cam) failed: exit code 5');
      const exec = await serve.waitForEvent('exec', 20_000);
      expect(exec.stream).toBe('cam');
      expect(String(exec.message)).toMatch(/^command stopped \((exit code 0|ended by SIGTERM)/);
    } finally {
      await serve.stop();
    }
  }, 60_000);

  it('a mistake in hooks: is one line naming the file, the line and the field (exit 2)', async () => {
    const config = join(tmp.dir, 'bad.yaml');
    writeFileSync(
      config,
      'hooks:\n  - on: ready\n    run: x\n    timeout: -1\nstreams:\n  cam: { source: test }\n',
    );
    const r = await runCli(['serve', '--config', config, '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `framecast: ${config}:4: hooks[0].timeout: must be from 0.1 to 3600 (seconds), got -1`,
    );
  });
});
