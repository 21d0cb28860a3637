import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { StreamClient, parseServerAddress } from '../../src/index.js';
import { runCli, startServe, type ServeHandle } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { killTracked, sleep } from '../helpers/processes.js';

afterAll(killTracked);
const dirs: (() => void)[] = [];
let srv: ServeHandle | null = null;
afterEach(async () => {
  await srv?.stop();
  srv = null;
  for (const d of dirs.splice(0)) d();
});

function tempConfig(text: string): string {
  const { dir, cleanup } = makeTempDir('framecast-config-');
  dirs.push(cleanup);
  const path = join(dir, 'cams.yaml');
  writeFileSync(path, text);
  return path;
}

/** A native viewer that records sequence numbers and how it ended. */
function watch(port: number, stream: string): { seqs: number[]; end: string | null; close: () => void } {
  const v = { seqs: [] as number[], end: null as string | null, close: () => client.close() };
  const client = new StreamClient(parseServerAddress(`127.0.0.1:${port}/${stream}`), { protocol: 'native' });
  client.on('frame', (f) => v.seqs.push(f.seq));
  client.on('end', (e) => (v.end = `end:${e.reason}`));
  client.on('error', (e) => (v.end = `error:${e.code}`));
  client.connect();
  return v;
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(50);
  expect(cond()).toBe(true);
}

const BASE = `# cameras of the test rig
port: 0
httpPort: off
streamDefaults:
  width: 160 # small frames: cheap
streams:
  a: # never touched below
    source: test
  b:
    source: test
`;

describe('serve --config', () => {
  it('a bad file exits 2 with one line naming the file, the line and the field', async () => {
    const path = tempConfig(BASE.replace('  b:\n    source: test\n', '  b:\n    source: test\n    fps: 0\n'));
    const r = await runCli(['serve', '--config', path]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/cams\.yaml:11: streams\.b\.fps: /);
  });

  it('reload adds, removes and restarts streams; a viewer of an untouched stream misses no frame the server did not drop', async () => {
    const path = tempConfig(BASE);
    srv = await startServe(['--config', path]);
    const a = watch(srv.port, 'a');
    const b = watch(srv.port, 'b');
    await until(() => a.seqs.length >= 10 && b.seqs.length >= 3);
    // Remove b, add c (file change, seen by the watcher).
    writeFileSync(path, BASE.replace('  b:\n    source: test\n', '  c:\n    source: test\n    width: 192\n'));
    await srv.waitForEvent('reload', 10_000);
    await until(() => b.end !== null);
    expect(b.end).toBe('end:removed');
    const c = watch(srv.port, 'c');
    await until(() => c.seqs.length >= 3);
    // Change c (SIGHUP this time): its viewer is ended, a new one gets the new size.
    writeFileSync(path, BASE.replace('  b:\n    source: test\n', '  c:\n    source: test\n    width: 224\n'));
    srv.child.kill('SIGHUP');
    await until(() => c.end !== null);
    // A bad file is refused and changes nothing.
    writeFileSync(path, 'streams: [oops');
    await srv.waitForEvent('reload-refused', 10_000);
    const before = a.seqs.length;
    await until(() => a.seqs.length >= before + 10);
    expect(a.end).toBeNull();
    a.close();
    // a never noticed: one connection, one transmission (seq only goes up), and no frame missing but
    // those the server says it dropped for this client (latest frame wins on a busy machine).
    const left = await srv.waitForEvent('left', 10_000, (e) => e['stream'] === 'a');
    const gaps = a.seqs.slice(1).map((s, i) => s - (a.seqs[i] as number));
    expect(Math.min(...gaps)).toBe(1);
    const missing = gaps.reduce((sum, g) => sum + g - 1, 0);
    expect(missing).toBeLessThanOrEqual(left['drops'] as number);
    const reloads = srv.events.filter((e) => e.event === 'reload');
    expect(reloads[0]).toMatchObject({ added: ['c'], removed: ['b'], restarted: [] });
    expect(reloads.at(-1)).toMatchObject({ restarted: ['c'] });
  }, 60_000);

  it('SIGHUP reloads a change the file watcher cannot see', async () => {
    // The server is given a symlink; the file it points to lives in another directory, which the
    // watcher (on the symlink's directory) does not see: only SIGHUP can pick the change up.
    const real = tempConfig(BASE);
    const { dir, cleanup } = makeTempDir('framecast-link-');
    dirs.push(cleanup);
    const link = join(dir, 'cams.yaml');
    symlinkSync(real, link);
    srv = await startServe(['--config', link]);
    writeFileSync(real, BASE.replace('  b:\n    source: test\n', '  c:\n    source: test\n'));
    // Longer than the watcher's 250 ms settling delay: had it seen the write, it would have reloaded.
    await sleep(1500);
    expect(srv.events.filter((e) => e.event === 'reload')).toEqual([]);
    srv.child.kill('SIGHUP');
    const reload = await srv.waitForEvent('reload', 10_000);
    expect(reload).toMatchObject({ reason: 'SIGHUP', added: ['c'], removed: ['b'], restarted: [] });
    const c = watch(srv.port, 'c');
    await until(() => c.seqs.length >= 3);
    c.close();
  }, 60_000);

  it('the API creates, replaces and deletes streams with the admin token, and writes them to the file', async () => {
    const path = tempConfig(BASE.replace('httpPort: off', 'httpPort: 0\nadminToken: admin-secret-1'));
    srv = await startServe(['--config', path]);
    const listening = await srv.waitForEvent('listening');
    const api = `http://127.0.0.1:${listening['httpPort'] as number}/api/streams`;
    const put = (name: string, body: unknown, token?: string): Promise<Response> =>
      fetch(`${api}/${name}`, {
        method: 'PUT',
        headers: {
          'Content-Type': 'application/json',
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
    expect((await put('lobby', { source: 'test' })).status).toBe(401);
    expect((await put('lobby', { source: 'test' }, 'wrong-token')).status).toBe(401);
    const bad = await put('lobby', { source: 'test', quality: 101 }, 'admin-secret-1');
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/quality/);
    const created = await put('lobby', { source: 'test', width: 320 }, 'admin-secret-1');
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ name: 'lobby', width: 320, state: 'idle' });
    const file = readFileSync(path, 'utf8');
    expect(file).toContain('# cameras of the test rig');
    expect(file).toContain('a: # never touched below');
    expect(file).toMatch(/lobby:\n\s+source: test\n\s+width: 320/);
    expect((await put('lobby', { source: 'test', width: 256 }, 'admin-secret-1')).status).toBe(200);
    expect(await (await fetch(`${api}/lobby`)).json()).toMatchObject({ width: 256 });
    const del = await fetch(`${api}/b`, {
      method: 'DELETE',
      headers: { Authorization: 'Bearer admin-secret-1' },
    });
    expect(del.status).toBe(200);
    expect((await fetch(`${api}/b`)).status).toBe(404);
    await srv.stop();
    // A restart serves what the API left in the file.
    srv = await startServe(['--config', path]);
    const again = await srv.waitForEvent('listening');
    expect((again['streams'] as { name: string }[]).map((s) => s.name)).toEqual(['a', 'lobby']);
  }, 60_000);

  it('without an admin token, API writes are refused with 403 and the reason', async () => {
    const path = tempConfig(BASE.replace('httpPort: off', 'httpPort: 0'));
    srv = await startServe(['--config', path]);
    const listening = await srv.waitForEvent('listening');
    const r = await fetch(`http://127.0.0.1:${listening['httpPort'] as number}/api/streams/x`, {
      method: 'DELETE',
    });
    expect(r.status).toBe(403);
    expect(await r.text()).toMatch(/--admin-token/);
    expect(readFileSync(path, 'utf8')).toBe(BASE.replace('httpPort: off', 'httpPort: 0'));
  });
});
