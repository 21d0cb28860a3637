import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { StreamClient, parseServerAddress, serve, type FramecastServer } from '../../src/index.js';
import { BIN } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { isAlive, killTracked, sleep } from '../helpers/processes.js';
import { parseSource } from '../../src/source/source-spec.js';
import { ExecRunner } from '../../src/ingest/exec/exec-runner.js';
import { resolveStreamConfig } from '../../src/streams/stream-options.js';
import { checkPublishTokens } from '../../src/streams/stream-plan.js';

let server: FramecastServer | null = null;
const closers: (() => void)[] = [];
const tmp = makeTempDir('framecast-exec-');
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  await server?.close();
  server = null;
});
afterAll(async () => {
  await killTracked();
  tmp.cleanup();
});

async function until(cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(25);
  expect(cond()).toBe(true);
}

function viewer(port: number, stream: string): { widths: number[]; close: () => void } {
  const v = { widths: [] as number[], close: () => c.close() };
  const c = new StreamClient(parseServerAddress(`127.0.0.1:${port}/${stream}`), { protocol: 'native' });
  c.on('frame', (f) => v.widths.length < 10_000 && v.widths.push(f.width));
  c.on('error', () => {});
  c.connect();
  closers.push(() => c.close());
  return v;
}

const pids = (file: string): number[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map(Number)
    : [];

describe('source exec:COMMAND', () => {
  it('is a publisher stream: it takes a publishToken, needs a command, and follows the publish-token rule', () => {
    const c = resolveStreamConfig('a', { source: 'exec:./cam.sh', publishToken: 'exec-publish-secret-1' });
    expect(c.publishToken).toBe('exec-publish-secret-1');
    expect(() => resolveStreamConfig('a', { source: 'exec:  ' })).toThrow('exec: needs a command');
    expect(() => resolveStreamConfig('a', { source: 'test', publishToken: 'exec-publish-secret-1' })).toThrow(
      'takes publishers',
    );
    const open = resolveStreamConfig('a', { source: 'exec:./cam.sh' });
    expect(() => checkPublishTokens([open], '0.0.0.0', null, false)).toThrow(
      'stream a takes publishers but has no publishToken',
    );
    expect(() => checkPublishTokens([open], '127.0.0.1', null, false)).not.toThrow();
    expect(() => parseSource('exec:./cam.sh')).toThrow('not something ffmpeg reads');
  });

  it('starts its command with the first viewer, its frames reach the viewer, and stops it after the last', async () => {
    const pidFile = join(tmp.dir, 'publish.pid');
    const envFile = join(tmp.dir, 'publish.env');
    // The command is the CLI's own publisher, as an operator would write it: only the environment
    // tells it where to publish and with which token.
    const command =
      `echo $$ >> "${pidFile}"; env | grep ^FRAMECAST_ > "${envFile}"; ` +
      `exec "${process.execPath}" "${BIN}" publish test "$FRAMECAST_PUBLISH_ADDRESS/$FRAMECAST_STREAM" --width 160 --fps 10`;
    const lines: string[] = [];
    server = await serve({
      port: 0,
      httpPort: 0,
      streams: [{ name: 'cam', source: `exec:${command}`, publishToken: 'exec-publish-secret-1' }],
    });
    server.on('exec', (stream, line) => lines.push(`${stream}: ${line}`));
    // Nobody watches: nothing runs.
    await sleep(300);
    expect(pids(pidFile)).toEqual([]);
    const v = viewer(server.address().port, 'cam');
    await until(() => v.widths.includes(160), 20_000);
    const [pid] = pids(pidFile);
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid as number)).toBe(true);
    const env = readFileSync(envFile, 'utf8');
    expect(env).toContain(`FRAMECAST_STREAM=cam\n`);
    expect(env).toContain(`FRAMECAST_PUBLISH_ADDRESS=127.0.0.1:${server.address().port}\n`);
    expect(env).toContain(
      `FRAMECAST_PUBLISH_URL=http://127.0.0.1:${server.httpAddress()?.port}/streams/cam/publish\n`,
    );
    expect(env).toContain('FRAMECAST_PUBLISH_TOKEN=exec-publish-secret-1\n');
    expect(server.streams.get('cam')?.hub.source?.kind).toBe('exec');
    // The API and /stats say it is a command, never what it is (it may hold a secret).
    const base = `http://127.0.0.1:${server.httpAddress()?.port}`;
    const api = (await (await fetch(`${base}/api/streams/cam`)).json()) as { source: string };
    expect(api.source).toBe('exec:(a command)');
    const stats = await (await fetch(`${base}/streams/cam/stats`)).text();
    expect(stats).toContain('exec command (pid');
    expect(stats).not.toContain('publish test');
    // The last viewer leaves: the command (and its ffmpeg, in its group) is stopped.
    v.close();
    await until(() => !isAlive(pid as number), 15_000);
    await until(() => lines.some((l) => l.startsWith('cam: command stopped')));
    // Asked to stop (SIGTERM), it ended on its own: no SIGKILL was needed.
    expect(lines.find((l) => l.startsWith('cam: command stopped'))).toMatch(
      /^cam: command stopped \((exit code 0|ended by SIGTERM)/,
    );
    expect(pids(pidFile)).toHaveLength(1);
    // A new viewer starts it again.
    const again = viewer(server.address().port, 'cam');
    await until(() => again.widths.includes(160), 20_000);
    expect(pids(pidFile)).toHaveLength(2);
  }, 60_000);

  it('a command that exits while the stream is watched is restarted with a growing delay', async () => {
    const starts = join(tmp.dir, 'starts');
    const lines: string[] = [];
    server = await serve({
      port: 0,
      httpPort: 0,
      streams: [
        { name: 'flaky', source: `exec:echo $$ >> "${starts}"; echo "cannot open the camera" >&2; exit 4` },
      ],
    });
    server.on('exec', (_s, line) => lines.push(line));
    const v = viewer(server.address().port, 'flaky');
    await until(() => pids(starts).length >= 3, 20_000);
    expect(lines[0]).toBe(
      'command exited (exit code 4: cannot open the camera) while the stream is watched: restarting in 1.0 s',
    );
    expect(lines[1]).toContain('restarting in 2.0 s');
    v.close();
    await until(() => server?.streams.get('flaky')?.hub.clientCount === 0);
    const after = pids(starts).length;
    await sleep(5000);
    // Nobody watches: no more restarts.
    expect(pids(starts).length).toBeLessThanOrEqual(after + 1);
  }, 60_000);

  it('a preloaded exec: stream starts its command once the server listens (it knows where to publish), and closing the server stops it', async () => {
    const out = join(tmp.dir, 'preload');
    server = await serve({
      port: 0,
      httpPort: 0,
      streams: [
        {
          name: 'pre',
          source: `exec:echo $$ >> "${out}.pid"; env > "${out}.env"; exec sleep 600`,
          preload: true,
        },
      ],
    });
    await until(
      () => existsSync(`${out}.env`) && readFileSync(`${out}.env`, 'utf8').includes('FRAMECAST_STREAM'),
    );
    expect(pids(`${out}.pid`)).toHaveLength(1);
    expect(readFileSync(`${out}.env`, 'utf8')).toContain(
      `FRAMECAST_PUBLISH_ADDRESS=127.0.0.1:${server.address().port}\n`,
    );
    const [pid] = pids(`${out}.pid`);
    expect(isAlive(pid as number)).toBe(true);
    await server.close();
    server = null;
    await until(() => !isAlive(pid as number));
  }, 30_000);

  it('the command waits for its environment (the server listening) before it starts', async () => {
    const out = join(tmp.dir, 'wait.env');
    let listening = false;
    const runner = new ExecRunner(`env > "${out}"`, () => (listening ? { FRAMECAST_STREAM: 'w' } : null));
    closers.push(() => runner.close());
    runner.start();
    await sleep(300);
    expect(runner.starts).toBe(0);
    expect(existsSync(out)).toBe(false);
    listening = true;
    await until(() => existsSync(out) && readFileSync(out, 'utf8').includes('FRAMECAST_STREAM=w\n'));
    expect(runner.starts).toBe(1);
  });

  it('the API refuses an exec: source (a user of the API never runs a command)', async () => {
    const marker = join(tmp.dir, 'pwned');
    const config = join(tmp.dir, 'api.yaml');
    writeFileSync(config, 'streams:\n  a:\n    source: publisher\n');
    server = await serve({
      port: 0,
      httpPort: 0,
      adminToken: 'admin-secret-token-1',
      configPath: config,
      streams: [{ name: 'a', source: 'publisher' }],
    });
    const base = `http://127.0.0.1:${server.httpAddress()?.port}`;
    for (const [name, source] of [
      ['b', `exec:touch ${marker}`],
      ['a', `  exec:touch ${marker}`],
    ] as const) {
      const res = await fetch(`${base}/api/streams/${name}`, {
        method: 'PUT',
        headers: { authorization: 'Bearer admin-secret-token-1', 'content-type': 'application/json' },
        body: JSON.stringify({ source }),
      });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('exec: sources run a command on the server');
    }
    expect(server.streams.get('b')).toBeNull();
    expect(server.streams.get('a')?.config.source).toBe('publisher');
    expect(readFileSync(config, 'utf8')).not.toContain('exec:');
    expect(existsSync(marker)).toBe(false);
    // An ordinary change still goes through.
    const ok = await fetch(`${base}/api/streams/b`, {
      method: 'PUT',
      headers: { authorization: 'Bearer admin-secret-token-1' },
      body: JSON.stringify({ source: 'publisher' }),
    });
    expect(ok.status).toBe(201);
  }, 30_000);
});
