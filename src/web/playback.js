/* global window, fetch, AbortController, Blob, createImageBitmap, TextDecoder, TextEncoder, location */
// Playing a recording back on the viewer's canvas: GET playback.mjpg?start=&speed=&meta=1 read with
// fetch() and a multipart reader (not an <img>), so each picture is drawn on the same canvas as the
// live stream, with the publisher's metadata over it, and the time shown is the picture's own capture
// time (its part's X-Timestamp), not a guess from start + elapsed × speed.
import { createOverlay } from './overlay.js';

/** The longest part header block read (a part's metadata header is at most 8 KiB). */
const MAX_HEAD = 16 * 1024;
/** The largest JPEG accepted in one part. */
const MAX_BODY = 64 * 1024 * 1024;

function indexOf(buf, needle, from = 0) {
  const first = needle[0];
  const last = buf.length - needle.length;
  for (let i = buf.indexOf(first, from); i !== -1 && i <= last; i = buf.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && buf[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

const CRLF2 = new Uint8Array([13, 10, 13, 10]);

/**
 * Reads multipart/x-mixed-replace parts as they arrive: `push(bytes)` returns the whole parts found
 * ({headers: {lowercase name: value}, body: Uint8Array}). Parts carry Content-Length (framecast's
 * always do); one without it ends at the next boundary line.
 */
export function createPartReader(boundary) {
  const delimiter = new TextEncoder().encode(`--${boundary}`);
  const decoder = new TextDecoder();
  let buf = new Uint8Array(0);
  let head = null; // the headers of the part whose body is awaited
  return {
    push(chunk) {
      const joined = new Uint8Array(buf.length + chunk.length);
      joined.set(buf);
      joined.set(chunk, buf.length);
      buf = joined;
      const parts = [];
      for (;;) {
        if (!head) {
          // Skip to the end of a blank line ending the headers; what precedes them is the delimiter.
          const end = indexOf(buf, CRLF2);
          if (end === -1) {
            if (buf.length > MAX_HEAD) throw new Error('a part header is too long');
            break;
          }
          const lines = decoder.decode(buf.subarray(0, end)).split('\r\n');
          head = {};
          for (const line of lines) {
            const colon = line.indexOf(':');
            if (colon > 0) head[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
          }
          buf = buf.subarray(end + 4);
        }
        const length = Number(head['content-length']);
        let bodyEnd;
        let next;
        if (Number.isInteger(length) && length >= 0) {
          if (length > MAX_BODY) throw new Error('a part is too large');
          if (buf.length < length) break;
          bodyEnd = length;
          next = length;
        } else {
          const at = indexOf(buf, delimiter);
          if (at === -1) break;
          bodyEnd = at >= 2 && buf[at - 2] === 13 ? at - 2 : at;
          next = at;
        }
        parts.push({ headers: head, body: buf.slice(0, bodyEnd) });
        head = null;
        buf = buf.subarray(next);
      }
      return parts;
    },
  };
}

/**
 * Plays the recording of the page's stream from `start` (ms since the epoch) at `speed` on `canvas`.
 * `onFrame(capturedAt)` after each picture drawn; `onStats` / `onState` as watch() calls them;
 * `onEnd(reason)` once when the playback stops by itself: 'end' (the recording's newest frame was
 * played), 'none' (nothing recorded from there on), or 'error' (with a message). `headers`: the
 * page's Authorization header.
 */
export function play(
  canvas,
  {
    start,
    speed = 1,
    headers = {},
    path = 'playback.mjpg',
    onFrame = () => {},
    onStats = () => {},
    onState = () => {},
    onEnd = () => {},
  },
) {
  const ctx = canvas.getContext('2d');
  const abort = new AbortController();
  let stopped = false;
  let pending = null;
  let decoding = false;
  const stats = { frames: 0, fps: 0, latencyMs: null, width: 0, height: 0, dropped: 0, position: null };
  let windowFrames = 0;
  let windowStart = window.performance.now();
  const tick = window.setInterval(() => {
    const now = window.performance.now();
    stats.fps = Math.round((windowFrames * 1000) / (now - windowStart));
    windowFrames = 0;
    windowStart = now;
    onStats({ ...stats });
  }, 1000);
  // The publisher's metadata of each frame, drawn as the live overlay draws it (analyzer "meta").
  const notes = createOverlay();

  async function decodeLoop() {
    decoding = true;
    while (pending && !stopped) {
      const part = pending;
      pending = null;
      let bitmap = null;
      try {
        bitmap = await createImageBitmap(new Blob([part.body], { type: 'image/jpeg' }));
        if (stopped) break;
        if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
          canvas.width = bitmap.width;
          canvas.height = bitmap.height;
        }
        ctx.drawImage(bitmap, 0, 0);
        notes.draw(ctx, part.seq, true);
        stats.frames++;
        windowFrames++;
        stats.width = bitmap.width;
        stats.height = bitmap.height;
        if (part.capturedAt !== null) {
          stats.position = part.capturedAt;
          onFrame(part.capturedAt);
        }
      } catch {
        // A picture the browser cannot decode is skipped.
      } finally {
        bitmap?.close();
      }
    }
    decoding = false;
  }

  function take(p) {
    const ts = Number(p.headers['x-timestamp']);
    const seq = Number(p.headers['x-framecast-seq']);
    const part = {
      body: p.body,
      seq: Number.isInteger(seq) ? seq : 0,
      capturedAt: Number.isFinite(ts) && ts > 0 ? ts * 1000 : null,
    };
    const meta = p.headers['x-framecast-meta'];
    if (meta && Number.isInteger(seq)) {
      try {
        notes.message({ type: 'meta', seq, data: JSON.parse(meta) });
      } catch {
        /* not JSON: nothing to draw */
      }
    }
    if (pending) stats.dropped++;
    pending = part;
    if (!decoding) void decodeLoop();
  }

  function end(reason, text) {
    if (stopped) return;
    stopped = true;
    window.clearInterval(tick);
    onEnd(reason, text);
  }

  async function run() {
    const url = new URL(path, location.href);
    url.search = '';
    url.searchParams.set('start', new Date(Math.floor(start)).toISOString());
    url.searchParams.set('speed', String(speed));
    url.searchParams.set('meta', '1');
    onState('connecting', 'opening the recording…');
    const res = await fetch(url.href, { headers, signal: abort.signal, cache: 'no-store' });
    if (res.status === 404) {
      await res.body?.cancel();
      return end('none', 'nothing recorded from there on');
    }
    if (!res.ok || !res.body) {
      const text = (await res.text()).trim().slice(0, 200);
      return end('error', `playback failed (${res.status}${text ? `: ${text}` : ''})`);
    }
    const m = /boundary=("?)([^";]+)\1/.exec(res.headers.get('content-type') ?? '');
    if (!m) return end('error', 'playback failed: not a multipart answer');
    onState('playback', speed === 1 ? 'playback' : `playback ${speed}×`);
    const reader = res.body.getReader();
    const parts = createPartReader(m[2]);
    for (;;) {
      const { done, value } = await reader.read();
      if (done || stopped) break;
      for (const p of parts.push(value)) take(p);
    }
    end('end', 'end of the recording');
  }

  run().catch((err) => {
    if (!stopped) end('error', `playback failed: ${err.message}`);
  });

  return {
    stats,
    /** The capture time of the picture shown (ms), or null before the first. */
    get position() {
      return stats.position;
    },
    close() {
      stopped = true;
      window.clearInterval(tick);
      abort.abort();
    },
  };
}
