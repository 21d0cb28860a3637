/* global document, window, location, WebSocket, Blob, createImageBitmap, URLSearchParams */
// The live viewer: frames from /ws drawn on a canvas, the seed's "FPS: n" overlay (plus latency and
// resolution) as page text, connection state, automatic reconnect, full screen.
import { parseFrameMessage } from './frame-message.js';
import { createOverlay } from './overlay.js';
import { play } from './playback.js';
import { createTimeline } from './timeline.js';

/** The token the page was opened with (?token=), passed on to the WebSocket and fetches. */
export const token = new URLSearchParams(location.search).get('token');

/** Headers for fetch() calls to this server. */
export function authHeaders() {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function wsUrl(passive, path = 'ws', overlay = false, params = null) {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = '';
  if (token) url.searchParams.set('token', token);
  if (passive) url.searchParams.set('passive', '1');
  if (overlay) {
    url.searchParams.set('meta', '1');
    url.searchParams.set('annotations', '1');
  }
  for (const [k, v] of Object.entries(params ?? {}))
    if (v !== null && v !== undefined) url.searchParams.set(k, v);
  return url.href;
}

/**
 * Connects a canvas to the stream. `onStats` gets {fps, latencyMs, width, height, frames} once a
 * second; `onState` gets (state, text). Passive viewers (the dashboard preview) watch without
 * starting the source and always reconnect; others stop after a clean end of transmission. `path` is
 * the WebSocket's URL relative to the page (`streams/NAME/ws` for another stream than the page's).
 * `overlay`: draw metadata and annotations over the picture (see overlay.js); `sync` (ms): hold each
 * frame that long and draw it with its own seq's annotations; `onOverlay` runs when they changed.
 * `params`: more of the WebSocket's query (e.g. `{ width: 400 }`, a rendition); `ask(params)` changes
 * them and connects again (the picture stays until the new size's first frame). `frameWidth()`: the
 * stream's own width, when the page knows it: boxes in the stream's pixels are drawn scaled on a
 * rendition's smaller picture.
 */
export function watch(
  canvas,
  {
    passive = false,
    path = 'ws',
    onStats = () => {},
    onState = () => {},
    overlay = false,
    sync = 0,
    onOverlay = () => {},
    params = null,
    frameWidth = () => null,
  } = {},
) {
  let query = params;
  const ctx = canvas.getContext('2d');
  // The last picture stays, so annotations that come after it (or a legend click) redraw it.
  let shown = null;
  let shownSeq = 0;
  let redrawing = false;
  function redraw() {
    if (redrawing) return;
    redrawing = true;
    window.requestAnimationFrame(() => {
      redrawing = false;
      if (!shown) return;
      ctx.drawImage(shown, 0, 0);
      drawNotes(shownSeq, shown.width);
    });
  }
  const notes = overlay
    ? createOverlay(() => {
        redraw();
        onOverlay();
      })
    : null;
  /** The overlay, scaled when the picture is a rendition smaller than the stream's own frames. */
  function drawNotes(seq, width) {
    if (!notes) return;
    const full = frameWidth();
    if (!full || full === width) {
      notes.draw(ctx, seq, sync > 0);
      return;
    }
    ctx.save();
    ctx.scale(width / full, width / full);
    notes.draw(ctx, seq, sync > 0);
    ctx.restore();
  }
  let ws = null;
  let retryMs = 500;
  let retryTimer = 0;
  let stopped = false;
  // Latest frame wins in the page too: while one frame decodes, only the newest waiting one is kept.
  let pending = null;
  let decoding = false;
  // Set by the first frame of each connection (the state line says "live" from then on).
  let live = false;
  // seq: the frame on the canvas now (tests read it with the canvas to know which boxes belong).
  const stats = { frames: 0, fps: 0, latencyMs: null, width: 0, height: 0, dropped: 0, seq: null };
  let windowFrames = 0;
  let windowStart = performance.now();

  const tick = window.setInterval(() => {
    const now = performance.now();
    stats.fps = Math.round((windowFrames * 1000) / (now - windowStart));
    windowFrames = 0;
    windowStart = now;
    onStats({ ...stats });
  }, 1000);

  async function decodeLoop() {
    decoding = true;
    while (pending && !stopped) {
      const frame = pending;
      pending = null;
      let bitmap = null;
      try {
        bitmap = await createImageBitmap(new Blob([frame.jpeg], { type: 'image/jpeg' }));
        // Closed while decoding (the page switched to playback): the canvas is not ours any more.
        if (stopped) break;
        if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
          canvas.width = bitmap.width;
          canvas.height = bitmap.height;
        }
        ctx.drawImage(bitmap, 0, 0);
        drawNotes(frame.seq, bitmap.width);
        stats.frames++;
        windowFrames++;
        stats.width = bitmap.width;
        stats.height = bitmap.height;
        stats.seq = frame.seq;
        if (notes) {
          shown?.close();
          shown = bitmap;
          shownSeq = frame.seq;
          bitmap = null;
        }
        // Server capture time vs this machine's clock: exact on the same host, approximate elsewhere.
        stats.latencyMs = frame.capturedAt > 0 ? Math.max(0, Date.now() - frame.capturedAt) : null;
      } catch {
        // A frame the browser cannot decode is skipped; the next one replaces it.
      } finally {
        bitmap?.close(); // release the decoded pixels now, not at the next GC
      }
    }
    decoding = false;
  }

  function onMessage(ev) {
    if (typeof ev.data === 'string') {
      try {
        const msg = JSON.parse(ev.data);
        if (msg.type === 'waiting') onState('waiting', `waiting for a place (#${msg.position})`);
        else notes?.message(msg);
      } catch {
        /* not for us */
      }
      return;
    }
    const frame = parseFrameMessage(ev.data);
    if (!frame) return;
    // ?sync=: the frame waits for its annotations; latest frame wins after the hold.
    if (sync > 0) window.setTimeout(() => take(frame), sync);
    else take(frame);
  }

  function take(frame) {
    if (pending) stats.dropped++;
    pending = frame;
    if (!live) {
      live = true;
      onState('live', 'live');
    }
    if (!decoding) void decodeLoop();
  }

  function connect() {
    if (stopped) return;
    onState('connecting', 'connecting…');
    live = false;
    ws = new WebSocket(wsUrl(passive, path, overlay, query));
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      retryMs = 500;
      onState(
        passive ? 'live' : 'connecting',
        passive ? 'watching (passive)' : 'waiting for the first frame…',
      );
    };
    ws.onmessage = onMessage;
    ws.onclose = (ev) => {
      ws = null;
      notes?.clear();
      if (stopped) return;
      // 1000 + eof/stopped: the transmission ended on purpose; reconnecting would start it again.
      if (!passive && ev.code === 1000 && (ev.reason === 'eof' || ev.reason === 'stopped')) {
        onState(
          'ended',
          ev.reason === 'eof' ? 'transmission ended (end of video)' : 'transmission ended by the server',
        );
        return;
      }
      const why = ev.code === 1013 ? 'server full' : ev.reason || `connection lost (${ev.code})`;
      onState('reconnecting', `${why}; reconnecting in ${(retryMs / 1000).toFixed(1)} s`);
      retryTimer = window.setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 5000);
    };
  }

  connect();
  return {
    stats,
    overlay: notes,
    /** The WebSocket's extra query now. */
    get params() {
      return query;
    },
    /** Asks for other `params` (another size): a new connection, the picture kept until its first frame. */
    ask(next) {
      query = next;
      if (stopped) return;
      window.clearTimeout(retryTimer);
      if (ws) {
        const old = ws;
        ws = null;
        old.onclose = null;
        old.onmessage = null;
        old.close();
      }
      connect();
    },
    /** Connects again after a clean end of transmission. */
    reconnect() {
      if (!ws && !stopped) {
        window.clearTimeout(retryTimer);
        connect();
      }
    },
    close() {
      stopped = true;
      window.clearInterval(tick);
      window.clearTimeout(retryTimer);
      ws?.close();
    },
  };
}

/**
 * The width a preview shown in `box` should ask the server for: its displayed width in device pixels
 * (the server snaps it down to its 16-px ladder and never goes over the stream's own), or null while
 * the box is not laid out yet.
 */
export function displayWidth(box) {
  const w = box.clientWidth;
  return w > 0 ? Math.ceil(w * (window.devicePixelRatio || 1)) : null;
}

/**
 * Keeps `viewer` (from watch()) asking for `box`'s displayed width: once the box was resized (or
 * the page zoomed) by more than `change` (a fraction) from the width last asked, after `debounceMs`
 * of quiet, it asks again. Returns a function that stops following.
 */
export function followSize(box, viewer, { change = 0.25, debounceMs = 400 } = {}) {
  let timer = 0;
  const check = () => {
    const want = displayWidth(box);
    if (want === null) return;
    const asked = viewer.params?.width ?? null;
    if (asked === null || Math.abs(want - asked) / asked > change)
      viewer.ask({ ...viewer.params, width: want });
  };
  const observer = new window.ResizeObserver(() => {
    window.clearTimeout(timer);
    timer = window.setTimeout(check, debounceMs);
  });
  observer.observe(box);
  return () => {
    window.clearTimeout(timer);
    observer.disconnect();
  };
}

/** Sets the overlay texts and the state line shared by the viewer and the dashboard. */
export function bindOverlay(root) {
  const el = (id) => root.querySelector(`[data-field="${id}"]`);
  return {
    onStats(s) {
      el('fps').textContent = `FPS: ${s.fps}`;
      el('latency').textContent =
        s.latencyMs === null ? 'latency: –' : `latency: ${Math.round(s.latencyMs)} ms`;
      el('resolution').textContent = s.width ? `${s.width}×${s.height}` : '';
    },
    onState(state, text) {
      const line = el('state');
      line.dataset.state = state;
      line.textContent = text;
      const again = el('again');
      if (again) again.hidden = state !== 'ended';
    },
  };
}

/** The legend: one toggle per analyzer, its name as text (never HTML). */
function renderLegend(root, notes) {
  const list = notes.analyzers();
  if (root.children.length === list.length) return;
  root.replaceChildren(
    ...list.map((a) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'legend-item';
      b.textContent = a.name;
      b.style.borderColor = a.color;
      b.setAttribute('aria-pressed', String(!a.hidden));
      b.addEventListener('click', () => {
        notes.toggle(a.name);
        b.setAttribute('aria-pressed', String(b.getAttribute('aria-pressed') !== 'true'));
      });
      return b;
    }),
  );
}

function startViewerPage() {
  const stage = document.querySelector('.stage');
  const canvas = document.querySelector('canvas');
  const overlay = bindOverlay(document.body);
  const legend = document.querySelector('[data-field="legend"]');
  const sync = Math.min(5000, Math.max(0, Number(new URLSearchParams(location.search).get('sync')) || 0));
  // The picture is either the live stream (watch) or a playback of the recording (play), never both.
  let viewer = null;
  let playback = null;
  const goLive = () => {
    playback?.close();
    playback = null;
    window.framecastPlayback = null;
    timeline?.setPosition(null);
    if (viewer) return;
    const live = watch(canvas, {
      ...overlay,
      overlay: true,
      sync,
      // Not after it was closed for a playback (closing clears its overlay).
      onOverlay: () => {
        if (viewer === live) renderLegend(legend, live.overlay);
      },
    });
    viewer = live;
    // Exposed for tests and the curious: frames drawn, fps, latency.
    window.framecastViewer = viewer;
  };
  const seek = (t) => {
    viewer?.close();
    viewer = null;
    playback?.close();
    legend.replaceChildren();
    playback = play(canvas, {
      start: t,
      speed: timeline.speed,
      headers: authHeaders(),
      onStats: overlay.onStats,
      onState: overlay.onState,
      onFrame: (at) => timeline.setPosition(at),
      onEnd: (reason, text) => {
        // Played up to the newest recorded frame: the present is live.
        if (reason === 'end') return goLive();
        overlay.onState(reason === 'none' ? 'waiting' : 'ended', text);
      },
    });
    timeline.setPosition(t);
    window.framecastPlayback = playback;
  };
  // Servers record; a client's own viewer (role "client") has nothing to play back.
  const timeline =
    document.body.dataset.role === 'server'
      ? createTimeline(document.querySelector('[data-field="timeline"]'), {
          headers: authHeaders(),
          onSeek: seek,
          onLive: goLive,
          // Another speed: the playback starts again from the picture shown, at that speed.
          onSpeed: () => {
            if (playback) seek(playback.position ?? timeline.position);
          },
        })
      : null;
  goLive();
  document.querySelector('[data-field="again"]').addEventListener('click', () => {
    if (viewer) viewer.reconnect();
    else goLive();
  });
  document.querySelector('[data-field="fullscreen"]').addEventListener('click', () => {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void stage.requestFullscreen();
  });
  window.framecastTimeline = timeline;
}

if (document.body.dataset.page === 'viewer') startViewerPage();
