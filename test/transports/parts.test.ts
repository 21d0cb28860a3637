/**
 * The transports' shared parts: peer names, the per-address cap, binding errors, TLS settings and
 * listeners (a self-signed certificate made by the openssl CLI), and the client's local viewer.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { Access } from '../../src/access/access.js';
import { LocalViewerServer } from '../../src/transports/http/viewer-server.js';
import { HttpServer } from '../../src/transports/http/http-server.js';
import { IpLimiter, peerIp } from '../../src/transports/ip-limiter.js';
import { bindServer, LISTEN_BACKLOG } from '../../src/transports/listen.js';
import { peerAddress } from '../../src/transports/peer.js';
import { TcpServer } from '../../src/transports/tcp/tcp-server.js';
import {
  checkTlsCredentials,
  createListener,
  readTlsFiles,
  TLS_HANDSHAKE_TIMEOUT_MS,
  tlsServerOptions,
  type TlsCredentials,
} from '../../src/transports/tls-config.js';
import { makeTempDir, selfSignedCert } from '../helpers/fixtures.js';
import { setup } from '../hub/fakes.js';
import { request } from './http/support.js';

// A test that waits for what a mutant broke fails within 3 s (mutation runs retry a failure twice).
vi.setConfig({ testTimeout: 3000 });

const tmp = makeTempDir('framecast-transports-');
let creds: TlsCredentials;
let other: TlsCredentials;

function selfSigned(name: string): { certPath: string; keyPath: string } {
  const { cert, key } = selfSignedCert(tmp.dir, name);
  return { certPath: cert, keyPath: key };
}

beforeAll(() => {
  const a = selfSigned('a');
  const b = selfSigned('b');
  creds = readTlsFiles(a.certPath, a.keyPath);
  other = { cert: readFileSync(b.certPath), key: readFileSync(b.keyPath) };
});
afterAll(() => tmp.cleanup());

/** A socket stand-in with an address. */
const sock = (remoteAddress: string | undefined, remotePort = 1): net.Socket => {
  const s = new EventEmitter() as unknown as net.Socket & { remoteAddress?: string; remotePort?: number };
  Object.assign(s, { remoteAddress, remotePort });
  return s;
};

describe('peer names', () => {
  it('peerAddress: ip:port, [v6]:port, ? when gone', () => {
    expect(peerAddress(sock('10.0.0.1', 80))).toBe('10.0.0.1:80');
    expect(peerAddress(sock('fe80::1', 81))).toBe('[fe80::1]:81');
    expect(peerAddress(sock(undefined, 82))).toBe('?:82');
  });
  it('peerIp folds IPv4-mapped IPv6 to IPv4, nothing else', () => {
    expect(peerIp(sock('::ffff:10.0.0.1'))).toBe('10.0.0.1');
    expect(peerIp(sock('::ffff:7f00:1'))).toBe('::ffff:7f00:1');
    expect(peerIp(sock('::1'))).toBe('::1');
    expect(peerIp(sock('1.2.3.4'))).toBe('1.2.3.4');
    expect(peerIp(sock(undefined))).toBe('?');
  });
});

describe('IpLimiter', () => {
  it('refuses a bad cap', () => {
    expect(() => new IpLimiter(-1)).toThrow('max connections per IP must be >= 0, got -1');
    expect(() => new IpLimiter(1.5)).toThrow(RangeError);
    expect(new IpLimiter(0).max).toBe(0);
  });
  it('0 is no cap', () => {
    const l = new IpLimiter(0);
    for (let i = 0; i < 5; i++) expect(l.admit(sock('1.1.1.1'))).toBe(true);
    expect(l.count('1.1.1.1')).toBe(0);
  });
  it('counts per address (mapped and plain IPv4 alike) and frees a place as a socket closes', () => {
    const l = new IpLimiter(2);
    const a = sock('1.1.1.1');
    const b = sock('::ffff:1.1.1.1');
    expect(l.admit(a)).toBe(true);
    expect(l.admit(b)).toBe(true);
    expect(l.count('1.1.1.1')).toBe(2);
    expect(l.admit(sock('1.1.1.1'))).toBe(false);
    expect(l.count('1.1.1.1')).toBe(2);
    expect(l.admit(sock('2.2.2.2'))).toBe(true);
    a.emit('close');
    expect(l.count('1.1.1.1')).toBe(1);
    expect(l.admit(sock('1.1.1.1'))).toBe(true);
    b.emit('close');
    expect(l.count('1.1.1.1')).toBe(1);
  });
  it('forgets an address whose last socket closed', () => {
    const l = new IpLimiter(1);
    const a = sock('3.3.3.3');
    l.admit(a);
    a.emit('close');
    expect(l.count('3.3.3.3')).toBe(0);
    expect(l.admit(sock('3.3.3.3'))).toBe(true);
  });
});

describe('bindServer', () => {
  it('binds with a deep accept queue and answers the address', async () => {
    expect(LISTEN_BACKLOG).toBe(4096);
    const s = net.createServer();
    const a = await bindServer(s, '127.0.0.1', 0, { protocol: 'TCP', option: '--port' });
    expect(a.address).toBe('127.0.0.1');
    expect(a.port).toBeGreaterThan(0);
    // A later error is not taken for a bind failure.
    expect(s.listenerCount('error')).toBe(0);
    s.close();
  });

  it('a busy port, a port without permission, and other failures each say so in one line', async () => {
    const busy = net.createServer();
    const { port } = await bindServer(busy, '127.0.0.1', 0, { protocol: 'TCP', option: '--port' });
    await expect(
      bindServer(net.createServer(), '127.0.0.1', port, { protocol: 'HTTP', option: '--http-port' }),
    ).rejects.toMatchObject({
      code: 'ERR_PORT_IN_USE',
      message: `HTTP port 127.0.0.1:${port} is already in use (choose another with --http-port)`,
    });
    await expect(
      bindServer(net.createServer(), '203.0.113.7', 0, { protocol: 'TCP', option: '--port' }),
    ).rejects.toMatchObject({
      code: 'ERR_LISTEN',
      message: expect.stringMatching(/^cannot listen on TCP 203\.0\.113\.7:0: /),
    });
    await expect(
      bindServer(net.createServer(), '::ffff:203.0.113.7', 0, { protocol: 'TCP', option: '--port' }),
    ).rejects.toMatchObject({
      message: expect.stringMatching(/^cannot listen on TCP \[::ffff:203\.0\.113\.7\]:0: /),
    });
    if (process.getuid?.() !== 0) {
      await expect(
        bindServer(net.createServer(), '127.0.0.1', 80, { protocol: 'TCP', option: '--port' }),
      ).rejects.toMatchObject({
        code: 'ERR_LISTEN',
        message: 'no permission to listen on TCP 127.0.0.1:80 (ports below 1024 need privileges)',
      });
    }
    busy.close();
  });
});

describe('TLS settings', () => {
  it('tlsServerOptions: the credentials, a handshake deadline, TLS 1.2 or later', () => {
    expect(TLS_HANDSHAKE_TIMEOUT_MS).toBe(10_000);
    expect(tlsServerOptions(creds)).toEqual({
      cert: creds.cert,
      key: creds.key,
      handshakeTimeout: 10_000,
      minVersion: 'TLSv1.2',
    });
  });

  it('readTlsFiles names the file it cannot read', () => {
    const missing = join(tmp.dir, 'missing.pem');
    expect(() => readTlsFiles(missing, missing)).toThrow(`cannot read --tls-cert ${missing}: no such file`);
    const cert = join(tmp.dir, 'a.crt');
    expect(() => readTlsFiles(cert, missing)).toThrow(`cannot read --tls-key ${missing}: no such file`);
    try {
      readTlsFiles(tmp.dir, cert);
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: 'ERR_TLS', exitCode: 2 });
      expect((err as Error).message).toMatch(new RegExp(`^cannot read --tls-cert ${tmp.dir}: EISDIR`));
    }
  });

  it('checkTlsCredentials: a usable pair, a key of another certificate, not PEM', () => {
    expect(checkTlsCredentials(creds)).toBeInstanceOf(Object);
    expect(() => checkTlsCredentials({ cert: creds.cert, key: other.key })).toThrow(
      'TLS certificate/key unusable: the private key does not belong to the certificate',
    );
    expect(() => checkTlsCredentials({ cert: 'not pem', key: 'not pem' })).toThrow(
      'TLS certificate/key unusable: not a PEM certificate or key',
    );
    try {
      checkTlsCredentials({ cert: 'x', key: 'y' });
    } catch (err) {
      expect(err).toMatchObject({ code: 'ERR_TLS', exitCode: 2 });
    }
  });

  it('createListener with TLS: onRaw sees the TCP connection, onSocket the decrypted one', async () => {
    const raws: net.Socket[] = [];
    const got: string[] = [];
    const server = createListener(
      creds,
      (s) => s.on('data', (d) => got.push(d.toString())),
      (raw) => raws.push(raw),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await new Promise((r) => c.once('secureConnect', r));
    c.write('hi');
    const t0 = Date.now();
    while (got.length === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual(['hi']);
    expect(raws).toHaveLength(1);
    // A plain client fails the handshake: its socket is destroyed, the server goes on.
    const plain = net.connect(port, '127.0.0.1');
    plain.on('error', () => {});
    plain.write('GET / HTTP/1.1\r\n\r\n');
    await new Promise((r) => plain.once('close', r));
    c.destroy();
    await new Promise((r) => server.close(r));
  });

  it('createListener without TLS: a socket onRaw destroyed never reaches onSocket', async () => {
    const seen: string[] = [];
    const server = createListener(
      null,
      () => seen.push('socket'),
      (raw) => {
        seen.push('raw');
        raw.destroy();
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => {});
    await new Promise((r) => c.once('close', r));
    expect(seen).toEqual(['raw']);
    await new Promise((r) => server.close(r));
  });

  it('TcpServer and HttpServer over TLS', async () => {
    const fx = setup();
    const tcp = new TcpServer({
      host: '127.0.0.1',
      port: 0,
      helloGraceMs: 30,
      warmOnAccept: false,
      tls: creds,
      target: () => ({ name: 'cam', hub: fx.hub, lossless: false, room: () => 10 }),
    });
    const { port } = await tcp.listen();
    const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    c.on('error', () => {});
    const t0 = Date.now();
    while (fx.hub.clients.length === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    expect(fx.hub.clients.map((s) => s.protocol)).toEqual(['legacy']);
    c.destroy();
    await tcp.close();

    const streams = Object.assign(new EventEmitter(), {
      get: () => null,
      list: () => [],
    });
    const http = new HttpServer({
      host: '127.0.0.1',
      port: 0,
      streams,
      access: new Access({ token: null }),
      allowOrigin: null,
      startedAt: 0,
      tls: creds,
    });
    const { port: hp } = await http.listen();
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: hp, path: '/healthz', rejectUnauthorized: false }, (res) => {
          let t = '';
          res.on('data', (d) => (t += d));
          res.on('end', () => resolve(t));
        })
        .on('error', reject);
    });
    expect(JSON.parse(body)).toEqual({ status: 'ok' });
    // A plain HTTP request to the TLS port gets no answer.
    await expect(request(hp, '/healthz')).rejects.toThrow();
    await http.close();
  });
});

describe('LocalViewerServer', () => {
  it('serves the viewer page and scripts on loopback; refuses other hosts, methods and paths', async () => {
    const v = new LocalViewerServer({ port: 0, title: 'framecast — RECIBIDO <x>' });
    const { port } = await v.listen();
    expect(v.url()).toBe(`http://127.0.0.1:${port}/`);
    const page = await request(port, '/');
    expect(page.status).toBe(200);
    expect(page.text).toContain('framecast — RECIBIDO &lt;x&gt;');
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect((await request(port, '/index.html')).status).toBe(200);
    const head = await request(port, '/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect((await request(port, '/viewer.js')).status).toBe(200);
    const dash = await request(port, '/dashboard.js');
    expect(dash.status).toBe(404);
    expect(dash.text).toBe('no such page: /dashboard.js\n');
    const post = await request(port, '/', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.text).toBe('method POST not allowed\n');
    const evil = await request(port, '/', { headers: { Host: 'evil.example' } });
    expect(evil.status).toBe(421);
    await v.close();
  });

  it('pages watch over /ws: each gets the frames pushed, latency-corrected capture time', async () => {
    const v = new LocalViewerServer({ port: 0, title: 't' });
    const { port } = await v.listen();
    v.push({ jpeg: Buffer.from('x'), seq: 0, width: 1, height: 1, capturedAt: 0, receivedAt: 0 });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const got: Buffer[] = [];
    ws.on('message', (d) => got.push(d as Buffer));
    await new Promise((r) => ws.once('open', r));
    const t0 = Date.now();
    while (v.viewerCount === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    expect(v.viewerCount).toBe(1);
    v.push({
      jpeg: Buffer.from('JPEG'),
      seq: 7,
      width: 4,
      height: 3,
      capturedAt: 5000,
      receivedAt: 9000,
      latencyMs: 40,
    });
    while (got.length < 1 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    const m = got[0] as Buffer;
    expect(m.readUInt32BE(8)).toBe(7);
    expect(m.readUInt16BE(12)).toBe(4);
    expect(m.readUInt16BE(14)).toBe(3);
    expect(m.readDoubleBE(16)).toBe(8960);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    await v.close('eof');
    expect(await closed).toBe(1000);
  });

  it('capture time as given without a measured latency, 0 without either', async () => {
    const v = new LocalViewerServer({ port: 0, title: 't' });
    const { port } = await v.listen();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const got: Buffer[] = [];
    ws.on('message', (d) => got.push(d as Buffer));
    await new Promise((r) => ws.once('open', r));
    const t0 = Date.now();
    while (v.viewerCount === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    v.push({
      jpeg: Buffer.from('J'),
      seq: 1,
      width: 1,
      height: 1,
      capturedAt: 1234,
      receivedAt: 9000,
      latencyMs: null,
    });
    while (got.length < 1 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    expect(got[0]?.readDoubleBE(16)).toBe(1234);
    await new Promise((r) => setTimeout(r, 20));
    v.push({ jpeg: Buffer.from('J'), seq: 2, width: 1, height: 1, capturedAt: null, receivedAt: 9000 });
    while (got.length < 2 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
    expect(got[1]?.readDoubleBE(16)).toBe(0);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    const c = v.close();
    expect(v.close()).toBe(c);
    await c;
    expect(await closed).toBe(1001);
  });

  it('refuses a WebSocket from another host (421), another path or another origin (403)', async () => {
    const v = new LocalViewerServer({ port: 0, title: 't' });
    const { port } = await v.listen();
    const upgrade = (path: string, extra: string[]): Promise<string> =>
      new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        let text = '';
        s.on('data', (d) => (text += d.toString()));
        s.on('close', () => resolve(text));
        s.write(
          [
            `GET ${path} HTTP/1.1`,
            'Upgrade: websocket',
            'Connection: Upgrade',
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
            'Sec-WebSocket-Version: 13',
            ...extra,
          ].join('\r\n') + '\r\n\r\n',
        );
      });
    expect(await upgrade('/ws', ['Host: evil.example'])).toBe(
      'HTTP/1.1 421 Misdirected Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
    );
    expect(await upgrade('/other', [`Host: 127.0.0.1:${port}`])).toBe(
      'HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
    );
    expect(await upgrade('/ws', [`Host: 127.0.0.1:${port}`, 'Origin: https://evil.example'])).toMatch(
      /^HTTP\/1\.1 403 /,
    );
    await v.close();
  });

  it('a busy viewer port is named as --viewer-port', async () => {
    const a = new LocalViewerServer({ port: 0, title: 't' });
    const { port } = await a.listen();
    await expect(new LocalViewerServer({ port, title: 't' }).listen()).rejects.toThrow(/--viewer-port/);
    await a.close();
  });
});
