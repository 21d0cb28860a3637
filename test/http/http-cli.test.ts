import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startServe } from '../helpers/cli.js';
import { killTracked } from '../helpers/processes.js';

afterEach(async () => {
  await killTracked();
});

describe('serve: HTTP options', () => {
  it.each([
    [['--http-port', 'nope'], /--http-port must be an integer from 0 to 65535 or 'off', got 'nope'/],
    [['--http-port', '70000'], /--http-port must be/],
    [['--allow-origin', 'https://app.example/path'], /--allow-origin must be '\*' or an origin/],
    [['--allow-origin', 'ftp://app.example'], /--allow-origin must be/],
  ])('%j is a usage error (exit 2, one line)', async (args, message) => {
    const r = await runCli(['serve', 'test', '--port', '0', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('--http-port 0 serves the viewer on a free port and says where', async () => {
    const s = await startServe(['test', '--http-port', '0']);
    const ev = await s.waitForEvent('listening');
    expect(typeof ev.httpPort).toBe('number');
    const res = await fetch(`http://127.0.0.1:${ev.httpPort as number}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('data-page="viewer"');
    await s.stop();
  });

  it('prints the browser, dashboard and MJPEG URLs in human mode', async () => {
    const s = await startServe(['test', '--http-port', '0'], { json: false });
    const line = () => s.lines.find((l) => l.includes('watch in a browser')) ?? '';
    for (let i = 0; i < 50 && !line(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(line()).toMatch(
      /watch in a browser: http:\/\/127\.0\.0\.1:\d+\/ {3}dashboard: http:\/\/127\.0\.0\.1:\d+\/dashboard {3}MJPEG: http:\/\/127\.0\.0\.1:\d+\/stream\.mjpg/,
    );
    await s.stop();
  });

  it('--http-port off serves no HTTP', async () => {
    const s = await startServe(['test', '--http-port', 'off']);
    const ev = await s.waitForEvent('listening');
    expect(ev.httpPort).toBeNull();
    await s.stop();
  });
});

describe('play: view options', () => {
  it.each([
    [['--view', 'window'], /--view must be one of browser, none, got 'window'/],
    [['--viewer-port', '65536'], /--viewer-port must be an integer from 0 to 65535/],
  ])('%j is a usage error (exit 2)', async (args, message) => {
    const r = await runCli(['play', '127.0.0.1:9', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
