import http from 'node:http';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startServe, type ServeHandle } from '../helpers/cli.js';
import { killTracked } from '../helpers/processes.js';
import { tokenMatches } from '../../src/util/token.js';
import { sleep } from './support/clients.js';

// Safe by default: loopback only, no CORS, the token never printed, every numeric option checked.

afterEach(killTracked);

const SECRET = 'Zq7-secret-token-4f2b9c';
const WRONG = 'wrong-guess-8d1e77';

function request(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c.length < 100_000 ? c : ''));
        const done = (): void => resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        res.on('end', done);
        res.on('close', done);
        // Streams never end: take the head and go.
        if (path.startsWith('/stream')) setTimeout(() => req.destroy(), 300);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function lanAddress(): string | null {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (!a.internal && a.family === 'IPv4') return a.address;
  return null;
}

function connectCode(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(2000, () => {
      s.destroy();
      resolve('timeout');
    });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

describe('safe defaults', () => {
  it('binds loopback only unless told otherwise, and sends no CORS headers', async () => {
    const serve = await startServe(['test', '--http-port', '0']);
    const listening = await serve.waitForEvent('listening');
    expect(listening.host).toBe('127.0.0.1');
    const httpPort = listening.httpPort as number;
    const lan = lanAddress();
    if (lan) {
      expect(await connectCode(lan, serve.port)).toBe('ECONNREFUSED');
      expect(await connectCode(lan, httpPort)).toBe('ECONNREFUSED');
    }
    const stats = await request(httpPort, '/stats', { headers: { Origin: 'http://evil.example' } });
    expect(stats.status).toBe(200);
    expect(stats.headers['access-control-allow-origin']).toBeUndefined();
    // A cross-site page cannot end the transmission, even without a token set.
    const stop = await request(httpPort, '/transmission/stop', {
      method: 'POST',
      headers: { Origin: 'http://evil.example' },
    });
    expect(stop.status).toBe(403);
    await serve.stop();
  });

  for (const via of ['--token', 'FRAMECAST_TOKEN'] as const) {
    it(`the token (given by ${via}) never appears in logs, /stats or refusals, in JSON or human form`, async () => {
      const outputs: string[] = [];
      for (const json of [true, false]) {
        const env = via === 'FRAMECAST_TOKEN' ? { ...process.env, FRAMECAST_TOKEN: SECRET } : process.env;
        const args = [
          'test',
          '--width',
          '320',
          '--http-port',
          '0',
          ...(via === '--token' ? ['--token', SECRET] : []),
        ];
        const serve: ServeHandle = await startServe(json ? args : [...args, '--port', '0'], { env, json });
        const httpPort = json
          ? ((await serve.waitForEvent('listening')).httpPort as number)
          : Number(/http:\/\/127\.0\.0\.1:(\d+)/.exec(serve.lines.join('\n'))?.[1]);
        const where = `127.0.0.1:${serve.port}`;
        const play = (token: string | null): ReturnType<typeof runCli> =>
          runCli(
            [
              'play',
              where,
              '--view',
              'none',
              '--frames',
              '3',
              '--json',
              ...(token ? ['--token', token] : []),
            ],
            { timeoutMs: 15_000, env: { ...process.env, FRAMECAST_TOKEN: '' } },
          );
        const ok = await play(SECRET);
        expect(ok.code).toBe(0);
        const wrong = await play(WRONG);
        expect(wrong.code).toBe(1);
        const none = await play(null);
        expect(none.code).toBe(1);
        expect((await request(httpPort, `/stats?token=${WRONG}`)).status).toBe(401);
        expect(
          (await request(httpPort, '/stats', { headers: { Authorization: `Bearer ${WRONG}` } })).status,
        ).toBe(401);
        expect((await request(httpPort, '/transmission/stop', { method: 'POST' })).status).toBe(401);
        const stats = await request(httpPort, `/stats?token=${SECRET}`);
        expect(stats.status).toBe(200);
        expect(
          (await request(httpPort, '/stream.mjpg', { headers: { Authorization: `Bearer ${SECRET}` } }))
            .status,
        ).toBe(200);
        await sleep(200);
        expect(await serve.stop()).toMatchObject({ code: 0 });
        outputs.push(serve.lines.join('\n'), serve.stderr(), stats.body);
        outputs.push(ok.stdout, ok.stderr, wrong.stdout, wrong.stderr, none.stdout, none.stderr);
        // The refusals were logged (so the check below looks at real log lines).
        expect(serve.lines.join('\n')).toMatch(/refused/);
      }
      const all = outputs.join('\n');
      expect(all).not.toContain(SECRET);
      // An attacker's guesses are not echoed either (logs are not a place for peer-chosen secrets).
      expect(all).not.toContain(WRONG);
    });
  }

  describe('numeric options are range-checked at start-up (exit 2, one line, no stack)', () => {
    const bad: Array<[string, string[], RegExp]> = [
      ['serve', ['--port', '65536'], /--port/],
      ['serve', ['--port=-1'], /--port/],
      ['serve', ['--quality', '0'], /--quality/],
      ['serve', ['--quality', '101'], /--quality/],
      ['serve', ['--width', '8'], /--width/],
      ['serve', ['--width', '1e3'], /--width/],
      ['serve', ['--fps', '0'], /--fps/],
      ['serve', ['--fps', 'NaN'], /--fps/],
      ['serve', ['--max-clients', '0'], /--max-clients/],
      ['serve', ['--max-clients-per-ip', '1.5'], /--max-clients-per-ip/],
      ['serve', ['--retry-delay', '0.01'], /--retry-delay/],
      ['serve', ['--retry-delay', '3601'], /--retry-delay/],
      ['serve', ['--http-port', '70000'], /--http-port/],
      ['play', ['--max-frame-size', '10'], /--max-frame-size/],
      ['play', ['--max-frame-size', '2GiB'], /--max-frame-size/],
      ['play', ['--connect-timeout', '0'], /--connect-timeout/],
      ['play', ['--idle-timeout=-1'], /--idle-timeout/],
      ['play', ['--frames', '0'], /--frames/],
      ['play', ['--duration', 'forever'], /--duration/],
    ];
    it('each bad value is refused with a usage error naming the option', async () => {
      // All at once: each is a separate process that must exit by itself.
      const results = await Promise.all(
        bad.map(([cmd, args]) =>
          runCli([cmd, ...(cmd === 'serve' ? ['test'] : ['127.0.0.1:1']), ...args], { timeoutMs: 15_000 }),
        ),
      );
      results.forEach((r, i) => {
        const [cmd, args, re] = bad[i] as [string, string[], RegExp];
        const what = `${cmd} ${args.join(' ')}: ${r.stderr}`;
        expect(r.code, what).toBe(2);
        expect(r.stderr, what).toMatch(re);
        expect(r.stderr.trim().split('\n')[0], what).toMatch(/^framecast: /);
        expect(r.stderr, what).not.toMatch(/\n\s+at /); // no stack trace
      });
    });
  });
});

describe('token comparison', () => {
  it('matches only the exact token, whatever the lengths (hashes are compared, so lengths leak nothing)', () => {
    expect(tokenMatches(SECRET, SECRET)).toBe(true);
    for (const guess of [
      '',
      SECRET.slice(0, -1),
      SECRET + 'x',
      SECRET.toUpperCase(),
      WRONG,
      'x'.repeat(5000),
    ])
      expect(tokenMatches(SECRET, guess)).toBe(false);
    expect(tokenMatches('ünïcødé-🔑', 'ünïcødé-🔑')).toBe(true);
    expect(tokenMatches('ünïcødé-🔑', 'unicode-🔑')).toBe(false);
  });
});
