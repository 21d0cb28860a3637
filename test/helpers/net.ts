/**
 * Loopback networking for tests: a free-port finder (for programs that cannot bind port 0, like the
 * seed's servidor.py), a fake seed-framing server that sends exactly the bytes a test gives it, and a
 * raw TCP reader that collects a whole stream.
 */
import net from 'node:net';

/**
 * A TCP port that was free a moment ago on `host`. There is a small race (another process may take it
 * before the caller binds); only use it for programs that cannot listen on port 0 themselves.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A one-shot fake server. */
export interface FakeServer {
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  close: () => Promise<void>;
}

/**
 * Listens on 127.0.0.1:0; for each connection calls `onConnection(socket)`, which writes whatever bytes
 * the test wants (e.g. a partial frame, a forged length) and then ends or keeps the socket open.
 */
export async function fakeServer(onConnection: (socket: net.Socket) => void): Promise<FakeServer> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const srv = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((r) => srv.listen({ host: '127.0.0.1', port: 0 }, r));
  const { port } = srv.address() as net.AddressInfo;
  return {
    port,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

/**
 * Connects to 127.0.0.1:port as a silent (seed) client and collects every byte until the server
 * closes, or `timeoutMs` passes (then the socket is destroyed and `timedOut` is true).
 */
export function readAll(
  port: number,
  timeoutMs = 15_000,
  host = '127.0.0.1',
): Promise<{ data: Buffer; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ data: Buffer.concat(chunks), timedOut: true });
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), timedOut: false });
    });
  });
}

/** Splits a complete seed-framed stream (uint32 BE length + payload)* into payloads; throws if ragged. */
export function splitLegacyStream(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < data.length) {
    if (off + 4 > data.length) throw new Error(`ragged stream: ${data.length - off} bytes of a header`);
    const len = data.readUInt32BE(off);
    if (off + 4 + len > data.length) throw new Error(`ragged stream: frame of ${len} cut short`);
    out.push(data.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}
