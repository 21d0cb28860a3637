import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connect, createPublisher, serve, type FramecastServer, type StreamFrame } from '../../src/index.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { makeJpeg, publishingServer, type PublishingServer } from '../helpers/native.js';
import { killTracked, spawnTracked, waitExit } from '../helpers/processes.js';

let srv: PublishingServer | null = null;
let server: FramecastServer | null = null;
afterEach(async () => {
  await srv?.close();
  await server?.close();
  srv = null;
  server = null;
});
afterAll(killTracked);

async function runNode(
  args: string[],
  timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnTracked(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = await waitExit(child, timeoutMs);
  return { code: exit.code, stdout, stderr };
}

describe('README library example', () => {
  it('is examples/library.mjs, word for word, at most 10 lines, and it runs', async () => {
    const example = readFileSync(join(REPO_ROOT, 'examples', 'library.mjs'), 'utf8');
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('```js\n' + example + '```');
    expect(example.trim().split('\n').length).toBeLessThanOrEqual(10);
    const r = await runNode(['examples/library.mjs']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    for (const [i, line] of lines.entries())
      expect(line).toMatch(new RegExp(`^#${i} 800x450 \\d+ B, \\d+\\.\\d ms$`));
  });

  it('the publish example runs', async () => {
    const r = await runNode(['examples/publish.mjs']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([0, 1, 2, 3, 4].map((i) => `#${i} 320x240`));
  });

  it('the remote publish example is in the README word for word, and it runs', async () => {
    const example = readFileSync(join(REPO_ROOT, 'examples', 'remote-publish.mjs'), 'utf8');
    expect(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')).toContain('```js\n' + example + '```');
    const r = await runNode(['examples/remote-publish.mjs']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout.trim()).toBe('received 3 published frames');
  });

  it('prints nothing on its own, refusals and errors included', async () => {
    const script = `
      import { serve, connect } from 'framecast';
      const server = await serve({ source: 'test', port: 0, token: 'x' });
      const port = server.address().port;
      try { for await (const f of connect('127.0.0.1:' + port, { token: 'y' })) break; } catch (e) { if (e.code !== 'ERR_AUTH') process.exit(3); }
      for await (const f of connect('127.0.0.1:' + port, { token: 'x' })) break;
      try { for await (const f of connect('127.0.0.1:1')) break; } catch (e) { if (e.code !== 'ERR_CONNECTION_REFUSED') process.exit(4); }
      await server.close();
    `;
    const r = await runNode(['--input-type=module', '-e', script]);
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
  });
});

describe('connect()', () => {
  it('closes the connection when the loop is left', async () => {
    srv = await publishingServer();
    const left = new Promise<number>((res) => srv!.server.on('left', (st) => res(st.framesSent)));
    let n = 0;
    for await (const _ of connect(`127.0.0.1:${srv.port}`)) if (++n === 3) break;
    expect(await left).toBeGreaterThanOrEqual(3);
  });

  it('ends the loop without an error when its signal aborts', async () => {
    srv = await publishingServer();
    const ac = new AbortController();
    let n = 0;
    for await (const _ of connect(`127.0.0.1:${srv.port}`, { signal: ac.signal })) if (++n === 2) ac.abort();
    expect(n).toBe(2);
  });

  it('comes back after a server restart on the same port when asked to reconnect', async () => {
    srv = await publishingServer();
    const port = srv.port;
    const stream = connect(`127.0.0.1:${port}`, { reconnect: { initialDelayMs: 50, giveUpAfterMs: 10_000 } });
    const got: StreamFrame[] = [];
    for await (const f of stream) {
      got.push(f);
      if (got.length === 3) {
        await srv.close();
        await new Promise((r) => setTimeout(r, 300));
        srv = await publishingServer({ port });
      }
      if (got.length === 6) break;
    }
    expect(stream.reconnects.count).toBe(1);
    expect(stream.reconnects.gapMs).toBeGreaterThanOrEqual(250);
    // The new server's transmission starts again at frame 0.
    expect(got[3]!.seq).toBeLessThan(got[2]!.seq);
  });
});

describe('createPublisher()', () => {
  it('delivers published JPEGs and raw pixels, in order, and drops frames nobody watches', async () => {
    const publisher = createPublisher();
    const jpeg = await makeJpeg(40, 30);
    expect(publisher.publish(jpeg)).toBe(false); // nobody watches yet
    expect(() => publisher.publish(Buffer.from('not a jpeg'))).toThrow(TypeError);
    await expect(async () => publisher.publishRaw(Buffer.alloc(5), { width: 2, height: 2 })).rejects.toThrow(
      TypeError,
    );
    server = await serve({ publisher, port: 0 });
    publisher.on('start', () => {
      publisher.publish(jpeg, { capturedAt: 1234 });
      void publisher.publishRaw(Buffer.alloc(16 * 8 * 4, 200), { width: 16, height: 8, channels: 4 });
      void publisher.publishRaw(Buffer.alloc(10 * 6, 50), { width: 10, height: 6, channels: 1 });
    });
    const got: StreamFrame[] = [];
    for await (const f of connect(`127.0.0.1:${server.address().port}`, { highWaterMark: 8 })) {
      got.push(f);
      if (got.length === 3) break;
    }
    expect(got.map((f) => [f.seq, f.width, f.height])).toEqual([
      [0, 40, 30],
      [1, 16, 8],
      [2, 10, 6],
    ]);
    expect(got[0]!.capturedAt).toBe(1234);
    expect(got[0]!.jpeg).toEqual(jpeg);
  });

  // A slow consumer (it sleeps on its first frames) behind a publisher that publishes 40 frames as
  // fast as it can, on a server with pace: false. Awaiting ready() must deliver all 40 in order;
  // without it, latest-frame-wins drops some (the control, so the first assertion can fail).
  for (const awaitReady of [true, false]) {
    it(`with pace: false, ${awaitReady ? 'awaiting ready() delivers every frame' : 'not awaiting ready() drops frames'}`, async () => {
      const publisher = createPublisher();
      const jpeg = await makeJpeg(320, 240);
      server = await serve({ publisher, port: 0, pace: false, httpPort: null });
      let waits = 0;
      publisher.on('start', () => {
        void (async () => {
          for (let i = 0; i < 40; i++) {
            if (awaitReady) {
              const t = Date.now();
              await publisher.ready();
              if (Date.now() - t >= 5) waits++;
            } else {
              await new Promise((r) => setImmediate(r));
            }
            publisher.publish(jpeg);
          }
          publisher.end();
        })();
      });
      const seqs: number[] = [];
      for await (const f of connect(`127.0.0.1:${server.address().port}`)) {
        seqs.push(f.seq);
        if (seqs.length <= 5) await new Promise((r) => setTimeout(r, 30));
      }
      if (awaitReady) {
        expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i));
        expect(waits).toBeGreaterThan(0);
      } else {
        expect(seqs.length).toBeLessThan(40);
      }
    });
  }
});
