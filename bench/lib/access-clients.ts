/**
 * The access bench's clients, each on a new TCP connection: a snapshot GET (`agent: false`), a native
 * viewer's hello until WELCOME, a native publisher that keeps a stream's newest frame fresh, and a
 * loopback auth hook that answers 204 and counts what it was asked.
 */
import http from 'node:http';
import net from 'node:net';
import { NativeParser } from '../../src/protocol/native-parser.js';
import { HelloFlag, encodeHello, encodeNativeFrame } from '../../src/protocol/native.js';
import { nowMs } from '../../src/util/clock.js';

/** A single admission gives up after this long (the bench then fails, naming the variant). */
const ADMIT_TIMEOUT_MS = 10_000;

/**
 * Milliseconds from connecting to the last byte of `/streams/NAME/snapshot.jpg` (200 and a JPEG),
 * on a connection of its own; rejects with the status for anything else.
 */
export function snapshotAdmit(port: number, stream: string, authorization: string | null): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(
      {
        host: '127.0.0.1',
        port,
        path: `/streams/${stream}/snapshot.jpg`,
        agent: false,
        headers: authorization ? { authorization } : {},
        timeout: ADMIT_TIMEOUT_MS,
      },
      (res) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => (bytes += d.length));
        res.on('end', () => {
          if (res.statusCode !== 200 || bytes < 100) reject(new Error(`snapshot answered ${res.statusCode}`));
          else resolve(performance.now() - t0);
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('snapshot: no answer within 10 s')));
    req.on('error', reject);
  });
}

/** Milliseconds from connecting to the native WELCOME for a viewer's hello carrying `token`. */
export function nativeAdmit(port: number, stream: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    const parser = new NativeParser(1 << 20);
    let settled = false;
    const finish = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const ms = performance.now() - t0;
      socket.destroy();
      if (err) reject(err);
      else resolve(ms);
    };
    const timer = setTimeout(() => finish(new Error('native: no WELCOME within 10 s')), ADMIT_TIMEOUT_MS);
    socket.on('connect', () => socket.write(encodeHello(token, nowMs(), 2, 0, stream)));
    socket.on('data', (chunk: Buffer) =>
      parser.push(chunk, (m) => {
        if (m.type === 'welcome') finish(null);
        else if (m.type === 'error') finish(new Error(`native ERROR ${m.code}: ${m.message}`));
      }),
    );
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(new Error('native: closed before WELCOME')));
  });
}

/** A native publisher sending one JPEG at `fps` (at most 2 unacknowledged), until stop(). */
export interface SlowPublisher {
  /** Resolves at the first ACK: the stream then has a newest frame. */
  readonly firstAck: Promise<void>;
  stop(): void;
}

export function slowPublisher(
  port: number,
  stream: string,
  token: string,
  jpeg: { data: Buffer; width: number; height: number },
  fps: number,
): SlowPublisher {
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
  const parser = new NativeParser(1 << 20);
  let inFlight = 0;
  let seq = 0;
  let timer: NodeJS.Timeout | null = null;
  let acked: () => void = () => {};
  let failed: (err: Error) => void = () => {};
  const firstAck = new Promise<void>((resolve, reject) => {
    acked = resolve;
    failed = reject;
  });
  socket.on('error', (err) => failed(err));
  socket.on('data', (chunk: Buffer) =>
    parser.push(chunk, (m) => {
      if (m.type === 'ack') {
        inFlight = Math.max(0, inFlight - 1);
        acked();
      } else if (m.type === 'error') failed(new Error(`publisher ERROR ${m.code}: ${m.message}`));
    }),
  );
  socket.write(encodeHello(token, nowMs(), 2, HelloFlag.Publish, stream));
  const send = (): void => {
    if (inFlight < 2) {
      const t = nowMs();
      socket.write(
        encodeNativeFrame(
          {
            seq: seq++,
            width: jpeg.width,
            height: jpeg.height,
            capturedAt: t,
            encodedAt: t,
            jpeg: jpeg.data,
          },
          t,
        ),
      );
      inFlight++;
    }
  };
  send();
  timer = setInterval(send, 1000 / fps);
  return {
    firstAck,
    stop: () => {
      if (timer) clearInterval(timer);
      timer = null;
      socket.destroy();
    },
  };
}

/** A loopback auth hook answering 204 to every POST; `requests` counts what reached it. */
export interface HookServer {
  readonly url: string;
  readonly requests: () => number;
  close(): Promise<void>;
}

export async function hookServer(): Promise<HookServer> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/auth`,
    requests: () => requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
