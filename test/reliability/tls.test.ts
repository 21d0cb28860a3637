import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import tls from 'node:tls';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LegacyParser } from '../../src/client/legacy-parser.js';
import { connect } from '../../src/client/connect.js';
import { runCli, startServe, type ServeHandle } from '../helpers/cli.js';
import { makeTempDir, selfSignedCert } from '../helpers/fixtures.js';
import { killTracked } from '../helpers/processes.js';

// TLS end to end with a self-signed certificate made here by the openssl CLI: native and seed
// framing over tls://, HTTPS and WSS on the HTTP port, and the failures a user can act on.

const tmp = makeTempDir('framecast-tls-');
let cert: string;
let key: string;
let otherCert: string;
let serve: ServeHandle;
let httpPort: number;

const selfSigned = (name: string, altNames?: string): { cert: string; key: string } =>
  selfSignedCert(tmp.dir, name, altNames);

beforeAll(async () => {
  ({ cert, key } = selfSigned('server'));
  otherCert = selfSigned('other').cert;
  serve = await startServe([
    'test',
    '--width',
    '320',
    '--http-port',
    '0',
    '--tls-cert',
    cert,
    '--tls-key',
    key,
  ]);
  httpPort = (await serve.waitForEvent('listening')).httpPort as number;
});

afterAll(async () => {
  await serve?.stop();
  await killTracked();
  tmp.cleanup();
});

function play(address: string, extra: string[] = []): ReturnType<typeof runCli> {
  return runCli(
    ['play', address, '--view', 'none', '--json', '--frames', '5', '--connect-timeout', '5', ...extra],
    {
      timeoutMs: 20_000,
    },
  );
}

describe('TLS', () => {
  it('serve announces tls:// and https:// and never logs the key', async () => {
    const text = serve.lines.join('\n');
    expect(text).toMatch(/tls:\/\/127\.0\.0\.1:\d+/);
    expect((await serve.waitForEvent('listening')).options).toMatchObject({ tls: true });
    expect(text).not.toContain('PRIVATE KEY');
  });

  it('play tls:// with --ca receives native frames', async () => {
    const r = await play(`tls://127.0.0.1:${serve.port}`, ['--ca', cert]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ frames: 5, protocol: 'native', width: 320 });
  });

  it('play tls:// refuses an untrusted certificate: no --ca, or the wrong CA', async () => {
    for (const extra of [[], ['--ca', otherCert]]) {
      const r = await play(`tls://127.0.0.1:${serve.port}`, extra);
      expect(r.code).toBe(1);
      const out = JSON.parse(r.stdout) as { frames: number; error: { code: string; message: string } };
      expect(out.frames).toBe(0);
      expect(out.error.code).toBe('ERR_TLS');
      expect(out.error.message).toMatch(/not trusted.*--ca/);
    }
  });

  it('the certificate name is checked: a certificate for another name is refused', async () => {
    const wrong = selfSigned('wrong-name', 'DNS:camera.example');
    const other = await startServe([
      'test',
      '--http-port',
      'off',
      '--tls-cert',
      wrong.cert,
      '--tls-key',
      wrong.key,
    ]);
    try {
      const r = await play(`tls://127.0.0.1:${other.port}`, ['--ca', wrong.cert]);
      expect(r.code).toBe(1);
      const err = JSON.parse(r.stdout).error as { code: string; message: string };
      expect(err.code).toBe('ERR_TLS');
      expect(err.message).toMatch(/not for this name/);
    } finally {
      await other.stop();
    }
  });

  it('a plain client on the TLS port, and a TLS client on a plain port, fail fast with a clear error', async () => {
    const plain = await play(`127.0.0.1:${serve.port}`);
    expect(plain.code).toBe(1);
    expect(plain.ms).toBeLessThan(10_000);
    const plainServe = await startServe(['test', '--http-port', 'off']);
    try {
      const r = await play(`tls://127.0.0.1:${plainServe.port}`, ['--ca', cert]);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).error).toMatchObject({
        code: 'ERR_TLS',
        message: expect.stringMatching(/TLS handshake .* failed/),
      });
    } finally {
      await plainServe.stop();
    }
  });

  it('seed framing inside TLS: a silent client gets length-prefixed base64 JPEGs', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: serve.port, ca: readFileSync(cert) });
    const parser = new LegacyParser();
    const payloads: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('data', (c: Buffer) =>
        parser.push(c, (p) => {
          payloads.push(Buffer.from(p));
          if (payloads.length === 3) resolve();
        }),
      );
    });
    socket.destroy();
    const jpeg = Buffer.from(payloads[0]!.toString('latin1'), 'base64');
    expect(jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');
  });

  it('HTTPS serves /stats and /snapshot.jpg; WSS delivers native FRAME messages', async () => {
    const get = (path: string): Promise<{ status: number; body: Buffer }> =>
      new Promise((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', port: httpPort, path, ca: readFileSync(cert) }, (res) => {
            const parts: Buffer[] = [];
            res.on('data', (c: Buffer) => parts.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
          })
          .on('error', reject);
      });
    const stats = await get('/stats');
    expect(stats.status).toBe(200);
    expect(JSON.parse(stats.body.toString())).toHaveProperty('source');
    const snap = await get('/snapshot.jpg');
    expect(snap.status).toBe(200);
    expect(snap.body.subarray(0, 2).toString('hex')).toBe('ffd8');

    const ws = new WebSocket(`wss://127.0.0.1:${httpPort}/ws`, { ca: readFileSync(cert) });
    const first = await new Promise<Buffer>((resolve, reject) => {
      ws.on('message', (data: Buffer) => resolve(data));
      ws.on('error', reject);
    });
    ws.close();
    expect(first.readUInt8(0)).toBe(2); // FRAME
  });

  it('the library connects to tls:// with a CA', async () => {
    const stream = connect(`tls://127.0.0.1:${serve.port}`, { ca: readFileSync(cert) });
    let n = 0;
    for await (const f of stream) {
      expect(f.jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');
      if (++n === 3) break;
    }
    expect(n).toBe(3);
  });

  it('bad TLS files are refused at start-up with one line and exit 2', async () => {
    const notPem = join(tmp.dir, 'not.pem');
    writeFileSync(notPem, 'hello');
    const cases: Array<[string[], RegExp]> = [
      [['--tls-cert', cert, '--tls-key', selfSigned('third').key], /does not belong to the certificate/],
      [
        ['--tls-cert', join(tmp.dir, 'missing.crt'), '--tls-key', key],
        /cannot read --tls-cert .*no such file/,
      ],
      [['--tls-cert', notPem, '--tls-key', notPem], /TLS certificate\/key unusable/],
      [['--tls-cert', cert], /--tls-cert and --tls-key go together/],
    ];
    const results = await Promise.all(
      cases.map(([args]) =>
        runCli(['serve', 'test', '--port', '0', '--http-port', 'off', ...args], { timeoutMs: 15_000 }),
      ),
    );
    results.forEach((r, i) => {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(cases[i]![1]);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    });
  });
});
