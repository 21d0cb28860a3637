import { execFileSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { nkeys } from '@nats-io/transport-node';
import { edge, type Edge } from '../../src/app/edge.js';
import { connectBus } from '../../src/bus/bus.js';
import { FramecastError } from '../../src/errors.js';
import { StreamClient, parseServerAddress, serve, type FramecastServer } from '../../src/index.js';
import { natsAvailable, startNats, type NatsServer } from '../helpers/nats.js';
import { runCli, spawnCli, startServe, type ServeHandle } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { killTracked, sleep, waitExit } from '../helpers/processes.js';

// The bus behind a login and TLS: nats-server with a user and password, and with TLS made here by
// the openssl CLI (a CA, a server certificate it signed, a client certificate for verify: true).

const available = natsAvailable();
if (!available && process.env['CI'] === 'true')
  throw new Error("nats-server is missing: install Debian's nats-server");

const tmp = makeTempDir('framecast-bus-auth-');
const pki = { ca: '', caKey: '', cert: '', key: '', clientCert: '', clientKey: '', otherCa: '' };
const AUTH = { user: 'origin', password: 'pa55-word' };

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore', cwd: tmp.dir });
}

/** A key and a certificate signed by the test CA (`ext`: extensions file text, e.g. subjectAltName). */
function signed(name: string, ext: string): { cert: string; key: string } {
  const key = join(tmp.dir, `${name}.key`);
  const cert = join(tmp.dir, `${name}.crt`);
  const csr = join(tmp.dir, `${name}.csr`);
  const extFile = join(tmp.dir, `${name}.ext`);
  writeFileSync(extFile, ext);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', ...ec, '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    pki.ca,
    '-CAkey',
    pki.caKey,
    '-out',
    cert,
    '-days',
    '2',
    '-extfile',
    extFile,
  ]);
  return { cert, key };
}

function selfSignedCa(name: string): { cert: string; key: string } {
  const cert = join(tmp.dir, `${name}.crt`);
  const key = join(tmp.dir, `${name}.key`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`]);
  return { cert, key };
}

beforeAll(() => {
  if (!available) return;
  ({ cert: pki.ca, key: pki.caKey } = selfSignedCa('test-ca'));
  pki.otherCa = selfSignedCa('other-ca').cert;
  ({ cert: pki.cert, key: pki.key } = signed('nats', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n'));
  ({ cert: pki.clientCert, key: pki.clientKey } = signed('client', 'extendedKeyUsage=clientAuth\n'));
});

let nats: NatsServer | null = null;
let origin: FramecastServer | null = null;
let cliOrigin: ServeHandle | null = null;
const edges: Edge[] = [];
afterEach(async () => {
  for (const e of edges.splice(0)) await e.close();
  await origin?.close();
  origin = null;
  await cliOrigin?.stop();
  cliOrigin = null;
  await nats?.stop();
  nats = null;
});
afterAll(async () => {
  await killTracked();
  tmp.cleanup();
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(25);
  expect(cond()).toBe(true);
}

/** A native viewer on `port`/`stream` counting frames of `width`. */
function viewer(port: number, stream: string, width: number): { frames: () => number; close: () => void } {
  const c = new StreamClient(parseServerAddress(`127.0.0.1:${port}/${stream}`), { protocol: 'native' });
  let n = 0;
  c.on('frame', (f) => {
    if (f.width === width) n++;
  });
  c.on('error', () => {});
  c.connect();
  return { frames: () => n, close: () => c.close() };
}

/** Starts `framecast edge ...args --json` and resolves with its port once it listens. */
async function startEdgeCli(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawnCli(['edge', ...args, '--json']);
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`edge did not listen: ${err}`)), 15_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"event":"listening"[^\n]*"port":(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`edge exited (${code}): ${err}`));
    });
  });
  return { child, port };
}

describe.skipIf(!available)('NATS frame bus behind a login and TLS', () => {
  it('user and password: an origin and an edge that log in serve frames; the wrong password fails at start', async () => {
    nats = await startNats({ auth: AUTH });
    const bus = { url: nats.url, ...AUTH };
    origin = await serve({
      port: 0,
      httpPort: null,
      streams: [{ name: 'cam', source: 'test', width: 320 }],
      bus,
    });
    const e = await edge({ bus, port: 0, httpPort: null, streams: ['cam'] });
    edges.push(e);
    const v = viewer(e.server.address().port, 'cam', 320);
    await until(() => v.frames() >= 10);
    v.close();
    // The API's error: a code to act on, the URL, what to check.
    const wrong = await edge({
      bus: { ...bus, password: 'nope' },
      port: 0,
      httpPort: null,
      streams: ['cam'],
    }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(wrong).toBeInstanceOf(FramecastError);
    expect((wrong as FramecastError).code).toBe('ERR_AUTH');
    expect((wrong as FramecastError).message).toBe(
      `bus ${nats.url}: authorization violation (check --bus-user/--bus-password)`,
    );
  }, 40_000);

  it('CLI: a wrong or missing password exits 1 at once with one line naming the bus; the password is never printed', async () => {
    nats = await startNats({ auth: AUTH });
    const base = ['--port', '0', '--http-port', 'off', '--bus', nats.url];
    const bad = await runCli(
      ['serve', 'cam=test', ...base, '--bus-user', AUTH.user, '--bus-password', 'Wr0ng-secret'],
      {
        timeoutMs: 10_000,
      },
    );
    expect(bad.timedOut).toBe(false);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      `framecast: bus ${nats.url}: authorization violation (check --bus-user/--bus-password)\n`,
    );
    expect(bad.stdout + bad.stderr).not.toContain('Wr0ng-secret');
    // The password from the environment, on an edge with no stream list: same line.
    const env = await runCli(['edge', ...base, '--bus-user', AUTH.user], {
      timeoutMs: 10_000,
      env: { FRAMECAST_BUS_PASSWORD: 'Wr0ng-secret' },
    });
    expect(env.code).toBe(1);
    expect(env.stderr.trim().split('\n')).toEqual([
      `framecast: bus ${nats.url}: authorization violation (check --bus-user/--bus-password)`,
    ]);
    const none = await runCli(['edge', ...base], { timeoutMs: 10_000 });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(
      /^framecast: bus nats:\/\/127\.0\.0\.1:\d+: authorization violation \(the server wants credentials: --bus-user\/--bus-password, --bus-token or --bus-creds\)\n$/,
    );
    // A user without a password is a usage error before anything connects.
    const half = await runCli(['serve', ...base, '--bus-user', AUTH.user], {
      timeoutMs: 10_000,
      env: { FRAMECAST_BUS_PASSWORD: '' },
    });
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/a user needs a password/);
  }, 40_000);

  it('TLS with client certificates: a CLI origin (password from the environment) and a CLI edge from a config file; a viewer on the edge gets frames', async () => {
    nats = await startNats({ auth: AUTH, tls: { cert: pki.cert, key: pki.key, ca: pki.ca, verify: true } });
    cliOrigin = await startServe(
      [
        'cam=test',
        '--width',
        '320',
        '--http-port',
        'off',
        '--bus',
        nats.url,
        '--bus-prefix',
        'fc.tls',
        '--bus-user',
        AUTH.user,
        '--bus-tls-ca',
        pki.ca,
        '--bus-tls-cert',
        pki.clientCert,
        '--bus-tls-key',
        pki.clientKey,
      ],
      { env: { FRAMECAST_BUS_PASSWORD: AUTH.password } },
    );
    expect(cliOrigin.lines.join('\n')).not.toContain(AUTH.password);
    // The edge's file names its PEM files relative to itself.
    const config = join(tmp.dir, 'edge.yaml');
    writeFileSync(
      config,
      [
        'port: 0',
        'httpPort: off',
        'bus:',
        `  url: [${nats.url}]`,
        '  prefix: fc.tls',
        `  user: ${AUTH.user}`,
        `  password: "${AUTH.password}"`,
        '  tls: { ca: test-ca.crt, cert: client.crt, key: client.key }',
        '',
      ].join('\n'),
    );
    const e = await startEdgeCli(['--config', config, '--streams', 'cam']);
    const v = viewer(e.port, 'cam', 320);
    await until(() => v.frames() >= 10, 15_000);
    v.close();
    e.child.kill('SIGTERM');
    expect((await waitExit(e.child, 5000)).code).toBe(0);
  }, 60_000);

  it("TLS failures are one line each: the server's CA not trusted, no client certificate, TLS to a plain server", async () => {
    nats = await startNats({ tls: { cert: pki.cert, key: pki.key, ca: pki.ca, verify: true } });
    const base = ['--port', '0', '--http-port', 'off', '--bus', nats.url];
    const untrusted = await runCli(['serve', ...base, '--bus-tls-ca', pki.otherCa], { timeoutMs: 10_000 });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr.trim().split('\n')).toHaveLength(1);
    expect(untrusted.stderr).toMatch(/^framecast: bus nats:\/\/127\.0\.0\.1:\d+: TLS: .*--bus-tls-ca/);
    // The server asks for a client certificate that is not given: nats.js sees a timeout (5 s).
    const anonymous = await runCli(['serve', ...base, '--bus-tls-ca', pki.ca], { timeoutMs: 15_000 });
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(
      /^framecast: bus nats:\/\/127\.0\.0\.1:\d+: .*--bus-tls-cert\/--bus-tls-key\)\n$/,
    );
    await nats.stop();
    nats = await startNats();
    const plain = await connectBus({ url: nats.url, tls: { caFile: pki.ca } }).then(
      () => null,
      (err: unknown) => err as FramecastError,
    );
    expect(plain?.code).toBe('ERR_TLS');
    expect(plain?.message).toBe(
      `bus ${nats.url}: the server does not offer TLS (drop the bus TLS options, or enable tls in nats-server)`,
    );
  }, 40_000);

  it('an NKey seed file logs in; another seed is refused; a file that is no seed is named', async () => {
    const user = nkeys.createUser();
    nats = await startNats({ auth: { nkey: user.getPublicKey() } });
    const seedFile = join(tmp.dir, 'user.nk');
    writeFileSync(seedFile, new TextDecoder().decode(user.getSeed()) + '\n');
    const e = await connectBus({ url: nats.url, nkeyFile: seedFile });
    await e.close();
    const otherFile = join(tmp.dir, 'other.nk');
    writeFileSync(otherFile, new TextDecoder().decode(nkeys.createUser().getSeed()));
    const other = await connectBus({ url: nats.url, nkeyFile: otherFile }).then(
      () => null,
      (err: unknown) => err as FramecastError,
    );
    expect([other?.code, other?.message]).toEqual([
      'ERR_AUTH',
      `bus ${nats.url}: authorization violation (check the nkey seed)`,
    ]);
    const garbage = join(tmp.dir, 'garbage.nk');
    writeFileSync(garbage, 'SUnot-a-seed\n');
    const r = await runCli([
      'serve',
      '--port',
      '0',
      '--http-port',
      'off',
      '--bus',
      nats.url,
      '--bus-nkey',
      garbage,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^framecast: bus nkey seed file ${garbage}: .+\n$`));
  }, 30_000);

  it('a token logs in; a bad one is refused; bad options are usage errors before connecting', async () => {
    nats = await startNats({ auth: { token: 'tok-123' } });
    const nc = await connectBus({ url: nats.url, token: 'tok-123' });
    expect(nc.isClosed()).toBe(false);
    await nc.close();
    const refused = (o: Parameters<typeof connectBus>[0]): Promise<FramecastError> =>
      connectBus(o).then(
        () => {
          throw new Error('connected');
        },
        (err: unknown) => err as FramecastError,
      );
    expect((await refused({ url: nats.url, token: 'tok-999' })).message).toBe(
      `bus ${nats.url}: authorization violation (check --bus-token)`,
    );
    // Nothing listening, and something listening that never speaks NATS: one line each, no hang.
    const down = await refused({ url: 'nats://127.0.0.1:1' });
    expect([down.code, down.message]).toEqual([
      'ERR_CONNECTION',
      'bus nats://127.0.0.1:1: connection refused (is nats-server running there?)',
    ]);
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const url = `nats://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    const mute = await refused({ url });
    silent.close();
    expect([mute.code, mute.message]).toEqual([
      'ERR_CONNECTION',
      `bus ${url}: no answer within 5 s (is it a NATS server?)`,
    ]);
    const usage = [
      await refused({ url: nats.url, user: 'a' }),
      await refused({ url: nats.url, token: 't', user: 'a', password: 'b' }),
      await refused({ url: nats.url, credsFile: join(tmp.dir, 'missing.creds') }),
      await refused({ url: 'http://127.0.0.1:1' }),
    ];
    expect(usage.map((e) => [e.code, e.exitCode])).toEqual(Array(4).fill(['ERR_USAGE', 2]));
    expect(usage.map((e) => e.message)).toEqual([
      'bus: a user needs a password (--bus-password or $FRAMECAST_BUS_PASSWORD)',
      'bus: give one way to log in, not user/password and token',
      `bus creds file ${join(tmp.dir, 'missing.creds')}: no such file`,
      "--bus must be nats://HOST:PORT (several separated by commas), got 'http://127.0.0.1:1'",
    ]);
  }, 30_000);
});
