import { EventEmitter } from 'node:events';
import net, { type AddressInfo, type ListenOptions } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { FramecastError } from '../../src/errors.js';
import { bindServer, LISTEN_BACKLOG } from '../../src/transports/listen.js';

// A bind a mutant broke fails within 3 s, not the default 5.
vi.setConfig({ testTimeout: 3000 });

/** A server stand-in: the test decides whether listen() succeeds or which error it raises. */
class FakeServer extends EventEmitter {
  options: ListenOptions | null = null;
  #listening: (() => void) | null = null;
  listen(options: ListenOptions, cb: () => void): this {
    this.options = options;
    this.#listening = cb;
    return this;
  }
  address(): AddressInfo {
    return { address: '127.0.0.1', family: 'IPv4', port: 4242 };
  }
  /** Plays the bind succeeding. */
  bound(): void {
    this.#listening?.();
  }
  fail(code: string, message = `listen ${code}`): void {
    this.emit('error', Object.assign(new Error(message), { code }));
  }
}

/**
 * bindServer on the fake; the promise answers its outcome at once, or fails as "still pending" a
 * tick after (the fake settles everything synchronously, so a broken bind fails fast, not by timeout).
 */
function bind(s: FakeServer, host: string, port: number, protocol = 'TCP', option = '--port') {
  const p = bindServer(s as unknown as net.Server, host, port, { protocol, option });
  return {
    settled: (): Promise<AddressInfo> =>
      Promise.race([
        p,
        new Promise<never>((_, reject) => setImmediate(() => reject(new Error('still pending')))),
      ]),
  };
}

describe('bindServer', () => {
  it('listens on host and port with a deep accept queue, and answers the bound address', async () => {
    expect(LISTEN_BACKLOG).toBe(4096);
    const s = new FakeServer();
    const p = bind(s, '127.0.0.1', 8000);
    expect(s.options).toEqual({ host: '127.0.0.1', port: 8000, backlog: 4096 });
    expect(s.listenerCount('error')).toBe(1);
    s.bound();
    await expect(p.settled()).resolves.toEqual({ address: '127.0.0.1', family: 'IPv4', port: 4242 });
    // A later error is no longer taken for a bind failure.
    expect(s.listenerCount('error')).toBe(0);
  });

  it('a busy port: ERR_PORT_IN_USE naming the protocol, the address and the option', async () => {
    const s = new FakeServer();
    const p = bind(s, '127.0.0.1', 8000, 'HTTP', '--http-port');
    s.fail('EADDRINUSE');
    const err = await p.settled().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FramecastError);
    expect(err).toMatchObject({
      code: 'ERR_PORT_IN_USE',
      message: 'HTTP port 127.0.0.1:8000 is already in use (choose another with --http-port)',
    });
  });

  it('no permission: ERR_LISTEN saying low ports need privileges', async () => {
    const s = new FakeServer();
    const p = bind(s, '0.0.0.0', 80);
    s.fail('EACCES');
    await expect(p.settled()).rejects.toMatchObject({
      code: 'ERR_LISTEN',
      message: 'no permission to listen on TCP 0.0.0.0:80 (ports below 1024 need privileges)',
    });
  });

  it('any other failure: ERR_LISTEN with the system message; an IPv6 host in brackets', async () => {
    const s = new FakeServer();
    const p = bind(s, '::1', 9000);
    s.fail('EADDRNOTAVAIL', 'listen EADDRNOTAVAIL: address not available ::1:9000');
    await expect(p.settled()).rejects.toMatchObject({
      code: 'ERR_LISTEN',
      message: 'cannot listen on TCP [::1]:9000: listen EADDRNOTAVAIL: address not available ::1:9000',
    });
    const t = new FakeServer();
    const q = bind(t, 'localhost', 1);
    t.emit('error', new Error('boom'));
    await expect(q.settled()).rejects.toMatchObject({
      code: 'ERR_LISTEN',
      message: 'cannot listen on TCP localhost:1: boom',
    });
  });

  it('a busy IPv6 port is named in brackets too', async () => {
    const s = new FakeServer();
    const p = bind(s, '::', 7000);
    s.fail('EADDRINUSE');
    await expect(p.settled()).rejects.toMatchObject({
      message: 'TCP port [::]:7000 is already in use (choose another with --port)',
    });
  });

  it('binds a real server on loopback', async () => {
    const server = net.createServer();
    const a = await bindServer(server, '127.0.0.1', 0, { protocol: 'TCP', option: '--port' });
    expect(a.address).toBe('127.0.0.1');
    expect(a.port).toBeGreaterThan(0);
    await new Promise((r) => server.close(r));
  });
});
