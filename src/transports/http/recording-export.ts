import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MkvMuxer, mkvHead } from '../../record/matroska.js';
import type { RecordedFrame } from '../../record/recording-reader.js';
import { NO_CACHE } from './respond.js';
import { iso } from './recordings-query.js';

/**
 * A recorded range as one Matroska file (MJPEG video, each frame at its capture time), written as it
 * is read: a slow client holds the reading back (`drain`), a client gone stops it. `first` is the
 * range's first frame, `rest` the frames after it (always closed at the end).
 */
export async function sendMkv(
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  first: RecordedFrame,
  rest: AsyncGenerator<RecordedFrame>,
  cors: Readonly<Record<string, string>>,
): Promise<void> {
  const file = `${name}_${iso(first.capturedAt).replace(/[:.]/g, '-')}.mkv`;
  res.writeHead(200, {
    ...cors,
    'Content-Type': 'video/x-matroska',
    'Content-Disposition': `attachment; filename="${file}"`,
    ...NO_CACHE,
  });
  if (req.method === 'HEAD') {
    await rest.return(undefined);
    res.end();
    return;
  }
  let closed = false;
  const gone = new AbortController();
  res.once('close', () => {
    closed = true;
    gone.abort();
  });
  const head = mkvHead({
    width: first.width,
    height: first.height,
    startMs: first.capturedAt,
    title: name,
    duration: false,
  });
  res.write(head.bytes);
  const mux = new MkvMuxer(first.capturedAt);
  try {
    for (let f: RecordedFrame | undefined = first; f && !closed;) {
      let ok = true;
      for (const b of mux.frame(f.jpeg, f.capturedAt).bufs) ok = res.write(b) && ok;
      if (!ok) await once(res, 'drain', { signal: gone.signal }).catch(() => undefined);
      const next = await rest.next();
      f = next.done ? undefined : next.value;
    }
  } finally {
    await rest.return(undefined);
  }
  res.end();
}
