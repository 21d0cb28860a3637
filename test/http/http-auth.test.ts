import { EventEmitter } from 'node:events';
import { Access } from '../../src/access/access.js';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Hub } from '../../src/hub/hub.js';
import type { FrameProducer, ProducerEvents } from '../../src/hub/producer.js';
import { serve, type FramecastServer } from '../../src/app/serve.js';
import { HttpServer } from '../../src/transports/http/http-server.js';
import { killTracked } from '../helpers/processes.js';
import { httpBase, openWs } from './support.js';

const servers: { close: () => Promise<void> }[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await killTracked();
});

async function start(opts: Parameters<typeof serve>[0]): Promise<FramecastServer> {
  const s = await serve({ source: 'test', port: 0, httpPort: 0, ...opts });
  servers.push(s);
  return s;
}

describe('--token on HTTP', () => {
  it('every endpoint but the static scripts needs it: Bearer header or ?token=', async () => {
    const base = httpBase(await start({ token: 's3cret' }));
    for (const path of ['/', '/dashboard', '/stats', '/metrics', '/snapshot.jpg', '/stream.mjpg']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
    }
    // The pages' scripts hold no data, and a <script src> cannot carry the token.
    expect((await fetch(`${base}/viewer.js`)).status).toBe(200);
    // ...nor beside a stream's viewer page (/streams/NAME/?token= loads them relative to itself).
    for (const file of ['viewer.js', 'overlay.js', 'framecast.css'])
      expect((await fetch(`${base}/streams/default/${file}`)).status, file).toBe(200);
    expect((await fetch(`${base}/streams/default/`)).status).toBe(401);
    expect((await fetch(`${base}/stats`, { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${base}/stats?token=wrong`)).status).toBe(401);
    expect((await fetch(`${base}/stats`, { headers: { Authorization: 'Bearer s3cret' } })).status).toBe(200);
    expect((await fetch(`${base}/stats?token=s3cret`)).status).toBe(200);
    expect((await fetch(`${base}/transmission/stop`, { method: 'POST' })).status).toBe(401);
    const stop = await fetch(`${base}/transmission/stop`, {
      method: 'POST',
      headers: { Authorization: 'Bearer s3cret' },
    });
    expect(await stop.json()).toEqual({ stopped: false });
  });

  it('a WebSocket without the token is refused with 401; with ?token= it gets frames', async () => {
    const ws = httpBase(await start({ token: 's3cret' })).replace('http', 'ws');
    const bad = openWs(`${ws}/ws`);
    await expect(bad.opened).rejects.toThrow(/401/);
    const good = openWs(`${ws}/ws?token=s3cret`);
    await good.opened;
    await new Promise<void>((r) => good.ws.once('message', () => r()));
    good.ws.close();
  });
});

describe('CORS', () => {
  it('is off by default: no Access-Control-Allow-Origin, cross-origin WebSocket refused', async () => {
    const base = httpBase(await start({}));
    const res = await fetch(`${base}/stats`, { headers: { Origin: 'https://other.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const ws = openWs(`${base.replace('http', 'ws')}/ws`, false, { Origin: 'https://other.example' });
    await expect(ws.opened).rejects.toThrow(/403/);
    // The page's own origin is fine.
    const own = openWs(`${base.replace('http', 'ws')}/ws`, false, { Origin: base });
    await own.opened;
    own.ws.close();
  });

  it('--allow-origin adds the headers, answers preflights and admits that origin', async () => {
    const base = httpBase(await start({ allowOrigin: 'https://app.example' }));
    const res = await fetch(`${base}/stats`, { headers: { Origin: 'https://app.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const pre = await fetch(`${base}/transmission/stop`, { method: 'OPTIONS' });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-headers')).toContain('Authorization');
    const post = await fetch(`${base}/transmission/stop`, {
      method: 'POST',
      headers: { Origin: 'https://app.example' },
    });
    expect(post.status).toBe(200);
    const evil = await fetch(`${base}/transmission/stop`, {
      method: 'POST',
      headers: { Origin: 'https://evil.example' },
    });
    expect(evil.status).toBe(403);
  });
});

describe('HTTP port', () => {
  it('a busy port chosen by the user is an error naming it; TCP is released', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      await expect(serve({ source: 'test', port: 0, httpPort: port })).rejects.toMatchObject({
        code: 'ERR_PORT_IN_USE',
        message: expect.stringContaining(`HTTP port 127.0.0.1:${port} is already in use`),
      });
      // A busy default port falls back to a free one.
      const s = await start({ httpPort: port, httpPortFallback: true });
      expect(s.httpAddress()?.port).not.toBe(port);
      expect((await fetch(`${httpBase(s)}/stats`)).status).toBe(200);
    } finally {
      blocker.close();
    }
  });

  it('is off unless asked for in the library API', async () => {
    const s = await serve({ source: 'test', port: 0 });
    servers.push(s);
    expect(s.httpAddress()).toBeNull();
  });
});

/** A source that never produces a frame (a camera that does not answer). */
class SilentProducer extends EventEmitter<ProducerEvents> implements FrameProducer {
  stopped = false;
  start(): void {}
  stop(): void {
    this.stopped = true;
  }
  pause(): void {}
  resume(): void {}
  describe() {
    return { kind: 'test', name: 'silent', width: null, height: null, inputFps: null };
  }
}

describe('GET /snapshot.jpg without frames', () => {
  it('answers 503 after its timeout and stops the source it started', async () => {
    const producers: SilentProducer[] = [];
    const hub = new Hub({
      createProducer: () => {
        const p = new SilentProducer();
        producers.push(p);
        return p;
      },
      maxClients: 10,
      maxWaiting: 10,
      lossless: false,
    });
    const stream = {
      name: 'default',
      hub,
      lossless: false,
      readToken: null,
      encoderImplementation: 'none',
      config: { encoder: 'libjpeg', quality: 80, width: 800 },
    };
    const http = new HttpServer({
      host: '127.0.0.1',
      port: 0,
      streams: { get: () => stream, list: () => [stream], on: () => undefined },
      access: new Access({ token: null }),
      allowOrigin: null,
      startedAt: Date.now(),
      snapshotTimeoutMs: 300,
    });
    const { port } = await http.listen();
    servers.push({ close: async () => (hub.close(), await http.close()) });
    const t0 = Date.now();
    const res = await fetch(`http://127.0.0.1:${port}/snapshot.jpg`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('no frame within 0.3 s');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    await new Promise((r) => setTimeout(r, 50));
    expect(producers).toHaveLength(1);
    expect(producers[0]?.stopped).toBe(true);
    expect(hub.clients).toHaveLength(0);
  });
});
