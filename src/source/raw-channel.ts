import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where a direct read lands and what happens after it (see RawReader.buffer()/filled()). */
export interface ReadTarget {
  buffer(): Buffer;
  /** Returns false to stop reading (resume() the reader to go on). */
  filled(n: number): boolean;
}

/** A connected Unix socket pair: `childEnd` becomes ffmpeg's stdout, `reader` is ours. */
export interface RawChannel {
  childEnd: net.Socket;
  reader: net.Socket;
}

const SETUP_TIMEOUT_MS = 2000;

/**
 * Opens a Unix socket pair for ffmpeg's raw output. Unlike a child's stdout pipe, whose every read
 * allocates a fresh 64 KB buffer that is then copied into the frame, the reader's `onread` lands the
 * bytes straight in the frame being assembled (measured: 0.13 vs 0.4 ms of main-thread CPU per
 * 800x450 frame, and no GC churn). The socket lives in a private temporary directory, removed as soon
 * as the pair is connected. Resolves null where Unix sockets are unavailable (Windows): use a pipe.
 */
export async function openRawChannel(target: ReadTarget): Promise<RawChannel | null> {
  if (process.platform === 'win32') return null;
  const dir = await mkdtemp(join(tmpdir(), 'framecast-'));
  const server = net.createServer();
  try {
    const path = join(dir, 'raw.sock');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const reader = net.connect({
      path,
      onread: { buffer: () => target.buffer(), callback: (n: number) => target.filled(n) },
    } as net.NetConnectOpts);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('raw channel setup timed out')), SETUP_TIMEOUT_MS);
    });
    try {
      const childEnd = await Promise.race([accepted, timeout]);
      // The child gets its own copy of this descriptor; ours must never read from it.
      childEnd.pause();
      return { childEnd, reader };
    } catch (err) {
      reader.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
