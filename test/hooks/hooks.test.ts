import http from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  RemotePublisher,
  StreamClient,
  parseServerAddress,
  serve,
  type FramecastServer,
} from '../../src/index.js';
import { envFiles, envHook, outDirs, until, untilAsync } from './support.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { makeJpeg } from '../helpers/native.js';
import { isAlive, killTracked, sleep } from '../helpers/processes.js';

let server: FramecastServer | null = null;
const closers: (() => void | Promise<void>)[] = [];
const tmp = makeTempDir('framecast-hooks-');
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await server?.close();
  server = null;
});
afterAll(async () => {
  await killTracked();
  tmp.cleanup();
});

const outDir = outDirs(tmp.dir);

function viewer(port: number, stream: string): { frames: number; widths: number[]; close: () => void } {
  const v = { frames: 0, widths: [] as number[], close: () => c.close() };
  const c = new StreamClient(parseServerAddress(`127.0.0.1:${port}/${stream}`), { protocol: 'native' });
  c.on('frame', (f) => {
    v.frames++;
    if (v.widths.length < 1000) v.widths.push(f.width);
  });
  c.on('error', () => {});
  c.connect();
  closers.push(() => c.close());
  return v;
}

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server?.httpAddress()?.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : NaN;
}

describe('event hooks', () => {
  it("a run hook gets each event with its values in the environment, never the server's secrets", async () => {
    const dir = outDir();
    process.env.FRAMECAST_PROBE_TOKEN = 'must-not-leak';
    closers.push(() => void delete process.env.FRAMECAST_PROBE_TOKEN);
    const logs: string[] = [];
    server = await serve({
      port: 0,
      httpPort: 0,
      streams: [
        { name: 'cam', source: 'publisher' },
        { name: 'other', source: 'publisher' },
      ],
      hooks: [
        envHook(
          dir,
          ['ready', 'notReady', 'demandStart', 'demandStop', 'publisherConnected', 'publisherGone'],
          {
            streams: 'c*',
          },
        ),
        { name: 'broken', on: 'publisherConnected', run: 'exit 3' },
      ],
    });
    server.on('hook', (l) => logs.push(l));
    const port = server.address().port;
    const events = (): Map<string, Record<string, string>[]> => envFiles(dir);
    // A viewer first: demand, but the NO SIGNAL picture it gets is no ready stream.
    const v = viewer(port, 'cam');
    await until(() => events().has('demandStart') && v.frames >= 1);
    expect(events().get('demandStart')?.[0]?.FRAMECAST_STREAM).toBe('cam');
    await sleep(300);
    expect(events().has('ready')).toBe(false);
    const pub = new RemotePublisher(`127.0.0.1:${port}/cam`);
    closers.push(() => pub.close());
    await until(() => events().has('publisherConnected'));
    const connected = events().get('publisherConnected')?.[0] ?? {};
    expect(connected.FRAMECAST_EVENT).toBe('publisherConnected');
    expect(connected.FRAMECAST_STREAM).toBe('cam');
    expect(connected.FRAMECAST_PROTOCOL).toBe('tcp');
    expect(connected.FRAMECAST_PUBLISHER_ADDRESS).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(Date.parse(connected.FRAMECAST_TIME ?? '')).toBeGreaterThan(Date.now() - 60_000);
    expect(connected.FRAMECAST_PROBE_TOKEN).toBeUndefined();
    // The other hook failed: one log line naming it and its exit code, and a count.
    await until(() => logs.some((l) => l.includes('hook broken') && l.includes('exit code 3')));
    await untilAsync(
      async () => (await metric('framecast_hook_runs_total', 'hook="broken",result="failed"')) === 1,
    );

    const jpeg = await makeJpeg(64, 48, 1);
    const feed = setInterval(() => pub.publish(jpeg), 40);
    closers.push(() => clearInterval(feed));
    await until(() => events().has('ready'));
    expect(events().get('ready')?.[0]?.FRAMECAST_SOURCE).toBe('publisher');
    v.close();
    await until(() => events().has('demandStop') && events().has('notReady'));
    expect(events().get('notReady')?.[0]?.FRAMECAST_REASON).toBe('no viewers');
    clearInterval(feed);
    pub.close();
    await until(() => events().has('publisherGone'));
    expect(events().get('publisherGone')?.[0]?.FRAMECAST_REASON).toBeTruthy();
    // Each event once, and none for the stream the patterns leave out.
    const other = new RemotePublisher(`127.0.0.1:${port}/other`);
    closers.push(() => other.close());
    await until(() => server?.streams.get('other')?.ingest?.current !== null);
    await sleep(300);
    for (const [ev, list] of events()) {
      expect(list.length, ev).toBe(1);
      expect(list[0]?.FRAMECAST_STREAM).toBe('cam');
    }
  }, 30_000);

  it('viewer events are rate-limited per stream, runs at once are capped: the rest are dropped and counted', async () => {
    const dir = outDir();
    server = await serve({
      port: 0,
      httpPort: 0,
      streams: [{ name: 'cam', source: 'publisher', maxClients: 100 }],
      hooks: [
        envHook(dir, 'viewerJoined', { name: 'joins', maxPerSecond: 5, maxRunning: 64 }),
        // Two runs at once, each long: the other events find them going on and are dropped.
        { name: 'busy', on: 'viewerJoined', run: 'sleep 20', timeout: 30, maxRunning: 2, maxPerSecond: 1000 },
      ],
    });
    const port = server.address().port;
    const hub = server.streams.get('cam')?.hub;
    const t0 = Date.now();
    for (let i = 0; i < 50; i++) viewer(port, 'cam');
    await until(() => hub?.clientCount === 50);
    const span = Date.now() - t0;
    const ok = (): Promise<number> => metric('framecast_hook_runs_total', 'hook="joins",result="ok"');
    const rate = await metric('framecast_hook_runs_total', 'hook="joins",result="rate"');
    // The runs that were let through end (each writes its file).
    await until(() => (envFiles(dir).get('viewerJoined')?.length ?? 0) === 50 - rate);
    await sleep(200);
    const ran = await ok();
    expect(ran + rate).toBe(50);
    expect(ran).toBeGreaterThanOrEqual(5);
    // 5 a second: at most one window per second the joins took, plus the one they started in.
    expect(ran).toBeLessThanOrEqual(5 * (Math.floor(span / 1000) + 2));
    const joined = envFiles(dir).get('viewerJoined') ?? [];
    expect(joined.length).toBe(ran);
    expect(joined[0]?.FRAMECAST_PROTOCOL).toBe('native');
    expect(joined[0]?.FRAMECAST_VIEWER_ADDRESS).toMatch(/^127\.0\.0\.1/);
    expect(Number(joined[0]?.FRAMECAST_VIEWER_ID)).toBeGreaterThan(0);
    expect(await metric('framecast_hook_running', 'hook="busy"')).toBe(2);
    expect(await metric('framecast_hook_runs_total', 'hook="busy",result="busy"')).toBe(48);
  }, 30_000);

  it('a url hook is POSTed the event as JSON', async () => {
    const bodies: Record<string, unknown>[] = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push({
          ...JSON.parse(Buffer.concat(chunks).toString('utf8')),
          contentType: req.headers['content-type'],
        });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => receiver.close(() => r())));
    const url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
    server = await serve({
      port: 0,
      httpPort: 0,
      streams: [{ name: 'cam', source: 'publisher' }],
      hooks: [{ name: 'web', on: ['publisherConnected', 'demandStart'], url }],
    });
    const port = server.address().port;
    const pub = new RemotePublisher(`127.0.0.1:${port}/cam`);
    closers.push(() => pub.close());
    await until(() => bodies.length === 1);
    expect(bodies[0]).toMatchObject({
      event: 'publisherConnected',
      stream: 'cam',
      protocol: 'tcp',
      contentType: 'application/json',
    });
    expect(bodies[0]?.publisherAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(Date.parse(String(bodies[0]?.time))).toBeGreaterThan(Date.now() - 60_000);
    viewer(port, 'cam');
    await until(() => bodies.length === 2);
    expect(bodies[1]).toMatchObject({ event: 'demandStart', stream: 'cam' });
    await untilAsync(async () => (await metric('framecast_hook_runs_total', 'hook="web",result="ok"')) === 2);
  }, 30_000);

  it('a hook that hangs does not hold the stream, and is killed with its children at its timeout', async () => {
    const dir = outDir();
    const logs: string[] = [];
    server = await serve({
      port: 0,
      httpPort: 0,
      streams: [{ name: 'cam', source: 'test', width: 160, fps: 20 }],
      hooks: [
        {
          name: 'stuck',
          // On ready: the frames flow from then on, while it hangs.
          on: 'ready',
          run: `echo $$ > "${dir}/shell.pid"; sleep 600 & echo $! > "${dir}/child.pid"; wait`,
          timeout: 3,
        },
      ],
    });
    server.on('hook', (l) => logs.push(l));
    const v = viewer(server.address().port, 'cam');
    const pidOf = (f: string): number => Number(readFileSync(join(dir, f), 'utf8').trim());
    await until(
      () => existsSync(join(dir, 'child.pid')) && readFileSync(join(dir, 'child.pid'), 'utf8').trim() !== '',
    );
    const shell = pidOf('shell.pid');
    const child = pidOf('child.pid');
    expect(isAlive(shell) && isAlive(child)).toBe(true);
    // Frames flow at rate while the hook hangs.
    const before = v.frames;
    await sleep(1000);
    expect(isAlive(child)).toBe(true);
    expect(v.frames - before).toBeGreaterThanOrEqual(8);
    await until(() => !isAlive(shell) && !isAlive(child), 10_000);
    await until(() => logs.some((l) => l.includes('hook stuck') && l.includes('killed')));
    await untilAsync(
      async () => (await metric('framecast_hook_runs_total', 'hook="stuck",result="timeout"')) === 1,
    );
    const after = v.frames;
    await until(() => v.frames > after + 5);
  }, 30_000);
});
