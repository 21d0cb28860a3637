import http from 'node:http';
import type net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { FFMPEG } from '../../helpers/fixtures.js';

/** A network camera on loopback: an endless MJPEG stream over HTTP that can be unplugged. */
export interface HttpCamera {
  url: string;
  /** Requests served so far. */
  readonly requests: number;
  /** Cuts every stream and refuses connections, like a camera losing power. */
  unplug(): Promise<void>;
  /** Listens again on the same port. */
  plugIn(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the camera: each request gets its own ffmpeg encoding a 320x240 test pattern in real time. */
export async function httpCamera(): Promise<HttpCamera> {
  const encoders = new Set<ChildProcess>();
  const sockets = new Set<net.Socket>();
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    const ff = spawn(
      FFMPEG,
      ['-v', 'error', '-nostdin', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30'].concat([
        '-c:v',
        'mjpeg',
        '-q:v',
        '5',
        '-f',
        'mpjpeg',
        'pipe:1',
      ]),
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    encoders.add(ff);
    ff.once('exit', () => encoders.delete(ff));
    res.writeHead(200, { 'content-type': 'multipart/x-mixed-replace;boundary=ffmpeg' });
    ff.stdout.pipe(res);
    res.once('close', () => ff.kill('SIGKILL'));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const unplug = async (): Promise<void> => {
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of sockets) s.destroy();
    for (const ff of encoders) ff.kill('SIGKILL');
    await closed;
  };
  return {
    url: `http://127.0.0.1:${port}/video.mjpg`,
    get requests() {
      return requests;
    },
    unplug,
    plugIn: () => new Promise<void>((r) => server.listen(port, '127.0.0.1', r)),
    close: async () => {
      if (server.listening) await unplug();
    },
  };
}
