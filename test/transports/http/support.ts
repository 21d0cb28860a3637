/** Shared bits of the HTTP transport's unit tests: a server on 127.0.0.1 port 0, raw requests. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpContext } from '../../../src/transports/http/respond.js';
import type { Hub } from '../../../src/hub/hub.js';
import type { Subscriber } from '../../../src/hub/subscriber.js';

/** A plain http server running `handler` on 127.0.0.1, a free port. */
export async function listen(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<{ server: http.Server; port: number; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A whole response. */
export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** One request, read to its end. */
export function request(
  port: number,
  path: string,
  opts: { method?: string; headers?: Record<string, string | number>; body?: Buffer | string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A response that does not end (a stream): its head at once, its body as it comes. */
export interface Streaming {
  res: http.IncomingMessage;
  req: http.ClientRequest;
  chunks: Buffer[];
  body(): Buffer;
  /** Resolves once the body so far satisfies `cond`. */
  until(cond: (body: Buffer) => boolean, timeoutMs?: number): Promise<Buffer>;
  ended: Promise<void>;
  close(): void;
}

/** Opens a request whose response streams. */
export function stream(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Streaming> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const waiters: Array<() => void> = [];
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        for (const w of waiters.splice(0)) w();
      });
      const ended = new Promise<void>((r) => {
        res.on('end', () => r());
        res.on('close', () => r());
      });
      const body = (): Buffer => Buffer.concat(chunks);
      resolve({
        res,
        req,
        chunks,
        body,
        ended,
        until: async (cond, timeoutMs = 2000) => {
          const end = Date.now() + timeoutMs;
          while (!cond(body())) {
            if (Date.now() > end) throw new Error(`timed out; body so far: ${body().toString('latin1')}`);
            await Promise.race([
              new Promise<void>((r) => waiters.push(r)),
              new Promise((r) => setTimeout(r, 50)),
            ]);
          }
          return body();
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves once `cond()` holds (polled), rejects after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An HttpContext on `hub` that records its clients and refusals. */
export function context(
  hub: Hub,
  opts: Partial<HttpContext> = {},
): HttpContext & { clients: Subscriber[]; refused: Array<[string, string]> } {
  const clients: Subscriber[] = [];
  const refused: Array<[string, string]> = [];
  return {
    hub,
    streamName: 'cam',
    lossless: false,
    cors: {},
    onClient: (s) => clients.push(s),
    onRefused: (a, r) => refused.push([a, r]),
    ...opts,
    clients,
    refused,
  };
}
