import { EventEmitter } from 'node:events';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FramecastError } from '../../src/errors.js';
import {
  checkTlsCredentials,
  createListener,
  readTlsFiles,
  TLS_HANDSHAKE_TIMEOUT_MS,
  tlsServerOptions,
  type TlsCredentials,
} from '../../src/transports/tls-config.js';
import { makeTempDir, selfSignedCert } from '../helpers/fixtures.js';

const tmp = makeTempDir('framecast-tls-units-');
let certPath: string;
let keyPath: string;
let creds: TlsCredentials;
let otherKey: Buffer;

const selfSigned = (name: string): { cert: string; key: string } => selfSignedCert(tmp.dir, name);

beforeAll(() => {
  const a = selfSigned('a');
  certPath = a.cert;
  keyPath = a.key;
  creds = { cert: readFileSync(a.cert), key: readFileSync(a.key) };
  otherKey = readFileSync(selfSigned('b').key);
});
afterAll(() => tmp.cleanup());
afterEach(() => {
  vi.restoreAllMocks();
});

/** The FramecastError `fn` throws. */
function thrown(fn: () => unknown): FramecastError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FramecastError);
    return err as FramecastError;
  }
  throw new Error('did not throw');
}

describe('readTlsFiles', () => {
  it('reads the certificate and the key', () => {
    const r = readTlsFiles(certPath, keyPath);
    expect(r.cert).toEqual(readFileSync(certPath));
    expect(r.key).toEqual(readFileSync(keyPath));
  });

  it('a missing file: ERR_TLS, exit code 2, naming the option and the path', () => {
    const missing = join(tmp.dir, 'nope.pem');
    const a = thrown(() => readTlsFiles(missing, keyPath));
    expect(a).toMatchObject({ code: 'ERR_TLS', exitCode: 2 });
    expect(a.message).toBe(`cannot read --tls-cert ${missing}: no such file`);
    const b = thrown(() => readTlsFiles(certPath, missing));
    expect(b.message).toBe(`cannot read --tls-key ${missing}: no such file`);
  });

  it('another failure gives the system message', () => {
    const b = thrown(() => readTlsFiles(certPath, tmp.dir));
    expect(b).toMatchObject({ code: 'ERR_TLS', exitCode: 2 });
    expect(b.message).toMatch(new RegExp(`^cannot read --tls-key ${tmp.dir}: EISDIR: illegal operation`));
  });

  it.skipIf(process.getuid?.() === 0)('an unreadable file gives the system message', () => {
    const locked = join(tmp.dir, 'locked.pem');
    writeFileSync(locked, 'x');
    chmodSync(locked, 0);
    const e = thrown(() => readTlsFiles(locked, keyPath));
    expect(e.message).toMatch(/^cannot read --tls-cert .*locked\.pem: EACCES/);
  });
});

describe('checkTlsCredentials', () => {
  it('a matching pair gives a secure context', () => {
    expect(checkTlsCredentials(creds).context).toBeDefined();
  });

  it('a key of another certificate, and text that is not PEM, each say so', () => {
    const a = thrown(() => checkTlsCredentials({ cert: creds.cert, key: otherKey }));
    expect(a).toMatchObject({ code: 'ERR_TLS', exitCode: 2 });
    expect(a.message).toBe(
      'TLS certificate/key unusable: the private key does not belong to the certificate',
    );
    const b = thrown(() => checkTlsCredentials({ cert: 'hello', key: 'world' }));
    expect(b.message).toBe('TLS certificate/key unusable: not a PEM certificate or key');
  });

  it('maps the TLS library’s messages, whatever their case, and passes others through', () => {
    const cases: Array<[string, string]> = [
      [
        'error:05800074:x509 certificate routines::KEY VALUES MISMATCH',
        'the private key does not belong to the certificate',
      ],
      ['error:0480006C:PEM routines::No Start Line', 'not a PEM certificate or key'],
      ['error:1E08010C:DECODER routines::Bad Base64 decode', 'not a PEM certificate or key'],
      ['unsupported pem format', 'not a PEM certificate or key'],
      ['something else went wrong', 'something else went wrong'],
      ['key values', 'key values'],
      ['no start', 'no start'],
      ['bad base', 'bad base'],
      ['PE M', 'PE M'],
    ];
    const spy = vi.spyOn(tls, 'createSecureContext');
    for (const [raw, why] of cases) {
      spy.mockImplementationOnce(() => {
        throw new Error(raw);
      });
      expect(thrown(() => checkTlsCredentials(creds)).message).toBe(`TLS certificate/key unusable: ${why}`);
    }
    spy.mockClear();
    spy.mockImplementationOnce(() => {
      throw new Error('x');
    });
    thrown(() => checkTlsCredentials({ cert: 'C', key: 'K' }));
    expect(spy).toHaveBeenCalledWith({ cert: 'C', key: 'K' });
  });
});

describe('tlsServerOptions', () => {
  it('the credentials, a 10 s handshake deadline, TLS 1.2 or later', () => {
    expect(TLS_HANDSHAKE_TIMEOUT_MS).toBe(10_000);
    expect(tlsServerOptions({ cert: 'C', key: 'K' })).toEqual({
      cert: 'C',
      key: 'K',
      handshakeTimeout: 10_000,
      minVersion: 'TLSv1.2',
    });
  });
});

/** Listens on loopback; answers the port. */
async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}
const closeServer = (server: net.Server): Promise<unknown> => new Promise((r) => server.close(r));

describe('createListener without TLS', () => {
  it('a plain listener with Nagle off hands the same socket to onRaw, then onSocket', async () => {
    const spy = vi.spyOn(net, 'createServer');
    const seen: Array<[string, net.Socket]> = [];
    let got!: () => void;
    const done = new Promise<void>((r) => (got = r));
    const server = createListener(
      null,
      (s) => {
        seen.push(['socket', s]);
        s.destroy();
        got();
      },
      (s) => seen.push(['raw', s]),
    );
    expect(server).toBeInstanceOf(net.Server);
    expect(server).not.toBeInstanceOf(tls.Server);
    expect(spy.mock.calls[0]?.[0]).toEqual({ noDelay: true });
    const port = await listen(server);
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => undefined);
    await done;
    expect(seen.map(([k]) => k)).toEqual(['raw', 'socket']);
    expect(seen[0]?.[1]).toBe(seen[1]?.[1]);
    c.destroy();
    await closeServer(server);
  });
});

describe('createListener with TLS', () => {
  it('onRaw sees the TCP connection, onSocket the decrypted one with Nagle off', async () => {
    const noDelay = vi.spyOn(tls.TLSSocket.prototype, 'setNoDelay');
    const raws: net.Socket[] = [];
    const data: string[] = [];
    let got!: () => void;
    const done = new Promise<void>((r) => (got = r));
    const server = createListener(
      creds,
      (s) => {
        expect(s).toBeInstanceOf(tls.TLSSocket);
        expect(noDelay.mock.contexts).toContain(s);
        expect(noDelay).toHaveBeenCalledWith(true);
        s.on('data', (d: Buffer) => {
          data.push(d.toString());
          got();
        });
      },
      (raw) => raws.push(raw),
    );
    expect(server).toBeInstanceOf(tls.Server);
    const port = await listen(server);
    const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await new Promise((r) => c.once('secureConnect', r));
    expect(c.getProtocol()).toMatch(/^TLSv1\.[23]$/);
    c.write('hi');
    await done;
    expect(data).toEqual(['hi']);
    expect(raws).toHaveLength(1);
    expect(raws[0]).not.toBeInstanceOf(tls.TLSSocket);
    c.destroy();
    await closeServer(server);
  });

  it('uses our TLS settings', () => {
    const spy = vi.spyOn(tls, 'createServer');
    const server = createListener(
      creds,
      () => undefined,
      () => undefined,
    );
    expect(spy.mock.calls[0]?.[0]).toEqual(tlsServerOptions(creds));
    server.close();
  });

  it('a client that fails the handshake has its socket destroyed', () => {
    const server = createListener(
      creds,
      () => undefined,
      () => undefined,
    );
    const socket = Object.assign(new EventEmitter(), { destroy: vi.fn() });
    server.emit('tlsClientError', new Error('wrong version number'), socket);
    expect(socket.destroy).toHaveBeenCalledTimes(1);
    server.close();
  });
});
