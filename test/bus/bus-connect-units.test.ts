import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { busOptionsProblem } from '../../src/bus/bus-connect.js';
import { connectBus, watchBus, type BusOptions, type BusState } from '../../src/bus/bus.js';
import { FramecastError } from '../../src/errors.js';
import { makeTempDir, selfSignedCert } from '../helpers/fixtures.js';
import { freePort } from '../helpers/net.js';
import { startNats, type NatsServer } from '../helpers/nats.js';
import { killTracked } from '../helpers/processes.js';
import { natsOrFail, until } from './support.js';

// How a server connects to the bus, in this process: which options are refused before connecting
// (one line naming the option), and what each failure to connect says, against a real nats-server.

const available = natsOrFail();
const tmp = makeTempDir('framecast-bus-connect-');
const file = (name: string, text: string): string => {
  const p = join(tmp.dir, name);
  writeFileSync(p, text);
  return p;
};
const readable = file('readable.pem', 'x\n');
mkdirSync(join(tmp.dir, 'dir'));
const dir = join(tmp.dir, 'dir');

let nats: NatsServer | null = null;
afterEach(async () => {
  await nats?.stop();
  nats = null;
});
afterAll(async () => {
  await killTracked();
  tmp.cleanup();
});

/** The error connectBus rejects with. */
async function refused(o: BusOptions): Promise<FramecastError> {
  const err = await connectBus(o).then(
    async (nc) => {
      await nc.close();
      return new Error('connected');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FramecastError);
  return err as FramecastError;
}

describe('busOptionsProblem: refused before connecting, one line naming the option', () => {
  const url = 'nats://127.0.0.1:4222';
  it.each<[string, BusOptions, string | null]>([
    ['a plain URL', { url }, null],
    ['several URLs, spaces around', { url: ` ${url} , tls://h2:4443 ` }, null],
    ['a user and password', { url, user: 'u', password: 'p' }, null],
    ['TLS without files', { url, tls: true }, null],
    [
      'readable TLS and login files',
      { url, credsFile: readable, tls: { caFile: readable, certFile: readable, keyFile: readable } },
      null,
    ],
    [
      'credentials in the URL',
      { url: 'nats://me:secret@h:4222' },
      "--bus: credentials in the URL are not used ('nats://***@h:4222'); give them with --bus-user and --bus-password (or $FRAMECAST_BUS_PASSWORD)",
    ],
    [
      'credentials in the second URL',
      { url: `${url},nats://me:s,cret@h:4222` },
      "--bus: credentials in the URL are not used ('nats://***@h:4222'); give them with --bus-user and --bus-password (or $FRAMECAST_BUS_PASSWORD)",
    ],
    [
      'another scheme',
      { url: 'http://h:4222' },
      "--bus must be nats://HOST:PORT (several separated by commas), got 'http://h:4222'",
    ],
    [
      'a bad second URL',
      { url: `${url},h2:4222` },
      "--bus must be nats://HOST:PORT (several separated by commas), got 'h2:4222'",
    ],
    [
      'user/password and a token',
      { url, user: 'u', password: 'p', token: 't' },
      'bus: give one way to log in, not user/password and token',
    ],
    [
      'a user alone and a token',
      { url, user: 'u', token: 't' },
      'bus: give one way to log in, not user/password and token',
    ],
    [
      'a password alone and a token',
      { url, password: 'p', token: 't' },
      'bus: give one way to log in, not user/password and token',
    ],
    [
      'a token and creds',
      { url, token: 't', credsFile: readable },
      'bus: give one way to log in, not token and creds',
    ],
    [
      'creds and an nkey',
      { url, credsFile: readable, nkeyFile: readable },
      'bus: give one way to log in, not creds and nkey',
    ],
    [
      'a user without a password',
      { url, user: 'u' },
      'bus: a user needs a password (--bus-password or $FRAMECAST_BUS_PASSWORD)',
    ],
    ['a password without a user', { url, password: 'p' }, 'bus: a password needs a user (--bus-user)'],
    [
      'an empty user',
      { url, user: '', password: 'p' },
      'bus user must be non-empty, without spaces or control characters',
    ],
    [
      'a user with a space',
      { url, user: 'a b', password: 'p' },
      'bus user must be non-empty, without spaces or control characters',
    ],
    [
      'a password with a tab',
      { url, user: 'u', password: 'p\tq' },
      'bus password must be non-empty, without spaces or control characters',
    ],
    [
      'a token with a NUL',
      { url, token: 't\0' },
      'bus token must be non-empty, without spaces or control characters',
    ],
    [
      'an empty token',
      { url, token: '' },
      'bus token must be non-empty, without spaces or control characters',
    ],
    [
      'a short secret',
      { url, secret: 'short' },
      'bus secret must be at least 16 characters (openssl rand -hex 32 makes one)',
    ],
    [
      'a certificate without its key',
      { url, tls: { certFile: readable } },
      'bus TLS: a client certificate and its key go together (--bus-tls-cert with --bus-tls-key)',
    ],
    [
      'a key without its certificate',
      { url, tls: { keyFile: readable } },
      'bus TLS: a client certificate and its key go together (--bus-tls-cert with --bus-tls-key)',
    ],
    [
      'a missing creds file',
      { url, credsFile: '/no/such.creds' },
      'bus creds file /no/such.creds: no such file',
    ],
    [
      'an nkey seed file that is a directory',
      { url, nkeyFile: dir },
      `bus nkey seed file ${dir}: is a directory`,
    ],
    ['a missing CA file', { url, tls: { caFile: '/no/ca.pem' } }, 'bus TLS CA file /no/ca.pem: no such file'],
    [
      'a missing certificate file',
      { url, tls: { certFile: '/no/c.pem', keyFile: readable } },
      'bus TLS certificate file /no/c.pem: no such file',
    ],
    [
      'a missing key file',
      { url, tls: { certFile: readable, keyFile: '/no/k.pem' } },
      'bus TLS key file /no/k.pem: no such file',
    ],
  ])('%s', (_what, o, problem) => {
    expect(busOptionsProblem(o)).toBe(problem);
  });

  it('connectBus refuses them as usage errors (exit code 2), before connecting', async () => {
    const err = await refused({ url: 'nats://127.0.0.1:1', user: 'u' });
    expect([err.code, err.exitCode, err.message]).toEqual([
      'ERR_USAGE',
      2,
      'bus: a user needs a password (--bus-password or $FRAMECAST_BUS_PASSWORD)',
    ]);
  });

  it('a creds or nkey seed file that does not parse is named, as a usage error', async () => {
    const creds = file('bad.creds', 'not a creds file\n');
    const c = await refused({ url: 'nats://127.0.0.1:1', credsFile: creds });
    expect([c.code, c.exitCode]).toEqual(['ERR_USAGE', 2]);
    expect(c.message).toMatch(new RegExp(`^bus creds file ${creds}: .+`));
    const seed = file('bad.nk', 'SUnot-a-seed\n');
    const n = await refused({ url: 'nats://127.0.0.1:1', nkeyFile: seed });
    expect([n.code, n.exitCode]).toEqual(['ERR_USAGE', 2]);
    expect(n.message).toMatch(new RegExp(`^bus nkey seed file ${seed}: .+`));
  });
});

describe('connectBus: what a failure to connect says', () => {
  it('nothing listening: connection refused', async () => {
    const port = await freePort();
    const err = await refused({ url: `nats://127.0.0.1:${port}` });
    expect([err.code, err.message]).toEqual([
      'ERR_CONNECTION',
      `bus nats://127.0.0.1:${port}: connection refused (is nats-server running there?)`,
    ]);
  });

  it('nothing listening, with TLS asked: connection refused all the same, with its cause', async () => {
    const port = await freePort();
    const err = await refused({ url: `nats://127.0.0.1:${port}`, tls: true });
    expect([err.code, err.message]).toEqual([
      'ERR_CONNECTION',
      `bus nats://127.0.0.1:${port}: connection refused (is nats-server running there?)`,
    ]);
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('something listening that never speaks NATS: no answer within 5 s', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const url = `nats://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    try {
      const started = Date.now();
      const err = await refused({ url });
      expect([err.code, err.message]).toEqual([
        'ERR_CONNECTION',
        `bus ${url}: no answer within 5 s (is it a NATS server?)`,
      ]);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      silent.close();
    }
  }, 20_000);
});

describe.skipIf(!available)('connectBus against nats-server', () => {
  it('user and password: connects; a wrong password or none says what to check', async () => {
    nats = await startNats({ auth: { user: 'origin', password: 'pa55-word' } });
    const url = nats.url;
    const nc = await connectBus({ url, user: 'origin', password: 'pa55-word' });
    expect(nc.isClosed()).toBe(false);
    await nc.close();
    const wrong = await refused({ url, user: 'origin', password: 'nope' });
    expect([wrong.code, wrong.message]).toEqual([
      'ERR_AUTH',
      `bus ${url}: authorization violation (check --bus-user/--bus-password)`,
    ]);
    const none = await refused({ url });
    expect([none.code, none.message]).toEqual([
      'ERR_AUTH',
      `bus ${url}: authorization violation (the server wants credentials: --bus-user/--bus-password, --bus-token or --bus-creds)`,
    ]);
    const token = await refused({ url, token: 'tok' });
    expect(token.message).toBe(`bus ${url}: authorization violation (check --bus-token)`);
  }, 30_000);

  it('a token: the right one connects', async () => {
    nats = await startNats({ auth: { token: 'tok-123' } });
    const nc = await connectBus({ url: nats.url, token: 'tok-123' });
    expect(nc.isClosed()).toBe(false);
    await nc.close();
  }, 30_000);

  it('an NKey seed the server does not know: check the nkey seed', async () => {
    nats = await startNats({ auth: { nkey: nkeys.createUser().getPublicKey() } });
    // A seed file as editors leave it, with a final newline.
    const other = file('other.nk', `${new TextDecoder().decode(nkeys.createUser().getSeed())}\n`);
    const err = await refused({ url: nats.url, nkeyFile: other });
    expect([err.code, err.message]).toEqual([
      'ERR_AUTH',
      `bus ${nats.url}: authorization violation (check the nkey seed)`,
    ]);
  }, 30_000);

  it('TLS asked of a server without it: the server does not offer TLS', async () => {
    nats = await startNats();
    const err = await refused({ url: nats.url, tls: true });
    expect([err.code, err.message]).toEqual([
      'ERR_TLS',
      `bus ${nats.url}: the server does not offer TLS (drop the bus TLS options, or enable tls in nats-server)`,
    ]);
  }, 30_000);

  it('watchBus reports the connection lost and back, naming the server', async () => {
    nats = await startNats();
    const nc = await connectBus({ url: nats.url });
    const seen: [BusState, string][] = [];
    watchBus(nc, (state, server) => seen.push([state, server]));
    try {
      await nats.restart(300);
      await until(() => seen.length >= 2, 15_000);
      expect(seen.map(([s]) => s)).toEqual(['disconnected', 'reconnected']);
      for (const [, server] of seen) expect(server).toContain(String(nats.port));
    } finally {
      await nc.close();
    }
  }, 30_000);
});

describe.skipIf(!available)('connectBus with TLS (a self-signed certificate made by openssl)', () => {
  /** One certificate for 127.0.0.1 that is its own CA, and its key. */
  const selfSigned = (): { cert: string; key: string } => selfSignedCert(tmp.dir, 'self');

  it("the server's certificate verifies with the CA file given; without it, a TLS error that says to give it", async () => {
    const pki = selfSigned();
    nats = await startNats({ tls: { cert: pki.cert, key: pki.key } });
    const nc = await connectBus({ url: nats.url, tls: { caFile: pki.cert } });
    expect(nc.isClosed()).toBe(false);
    await nc.close();
    const err = await refused({ url: nats.url, tls: true });
    expect(err.code).toBe('ERR_TLS');
    expect(err.message).toMatch(
      new RegExp(
        `^bus ${nats.url.replaceAll('.', '\\.')}: TLS: .+ \\(give the server's CA with --bus-tls-ca\\)$`,
      ),
    );
  }, 30_000);

  it('a server that verifies clients takes the certificate and key given; without them, the handshake times out and says so', async () => {
    const pki = selfSigned();
    nats = await startNats({ tls: { cert: pki.cert, key: pki.key, ca: pki.cert, verify: true } });
    const nc = await connectBus({
      url: nats.url,
      tls: { caFile: pki.cert, certFile: pki.cert, keyFile: pki.key },
    });
    expect(nc.isClosed()).toBe(false);
    await nc.close();
    const err = await refused({ url: nats.url, tls: { caFile: pki.cert } });
    expect([err.code, err.message]).toEqual([
      'ERR_TLS',
      `bus ${nats.url}: timed out in the TLS handshake (does the server verify clients? give --bus-tls-cert/--bus-tls-key)`,
    ]);
  }, 30_000);
});
