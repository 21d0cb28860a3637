/* global document, window, fetch, URLSearchParams */
// The grid of every stream (`/` when the server has several): one passive live preview per stream,
// each a link to that stream's viewer. Previews use /streams/NAME/ws?passive=1, so listing a stream
// never starts its source: an idle stream shows its state instead of a picture. /stats is polled
// every 2 s for states and for streams added or removed while the page is open.
// Each tile asks for its stream at its displayed width (device pixels): the server makes that size
// once per frame for every preview of it (a passive rendition: it too never starts the source), and
// the tile asks again when it was resized by more than a quarter. `?full=1` on the page asks every
// stream at its own size instead (what the grid cost before; tests compare the two).
import { authHeaders, displayWidth, followSize, token, watch } from './viewer.js';

const POLL_MS = 2000;
const FULL = new URLSearchParams(window.location.search).get('full') === '1';

/** What a tile says for each source state (stats.source.state). */
const STATE_TEXT = {
  idle: 'idle — starts when someone watches',
  starting: 'starting…',
  'no-signal': 'no signal — the source is being retried',
  live: 'live',
};

/** name -> { el, viewer, ... } */
const tiles = new Map();

/** A path relative to this page, with the page's token when it has one (links cannot send headers). */
function withToken(path) {
  return token ? `${path}?token=${encodeURIComponent(token)}` : path;
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function makeTile(name) {
  const base = `streams/${encodeURIComponent(name)}/`;
  const link = el('a', 'tile');
  link.href = withToken(base);
  link.dataset.stream = name;
  link.dataset.state = 'idle';
  link.dataset.picture = '0';
  link.dataset.frames = '0';
  const picture = el('div', 'tile-picture');
  const canvas = el('canvas');
  canvas.width = 320;
  canvas.height = 180;
  canvas.setAttribute('aria-label', `live preview of ${name}`);
  const stateLine = el('div', 'tile-state', 'loading…');
  const fps = el('span', 'tile-fps');
  picture.append(canvas, stateLine, fps);
  const caption = el('div', 'tile-caption');
  const title = el('span', 'tile-name', name);
  const info = el('span', 'tile-info muted');
  caption.append(title, info);
  link.append(picture, caption);

  const tile = {
    name,
    el: link,
    picture,
    canvas,
    stateLine,
    fps,
    info,
    state: 'idle',
    framesAtIdle: 0,
    frameWidth: null,
    viewer: null,
    unfollow: () => {},
  };
  return tile;
}

/**
 * A tile's JPEG quality: previews a few hundred pixels wide, many at once, show no difference between
 * 70 and the stream's 80 at that size, and cost about a fifth fewer bytes.
 */
const PREVIEW_QUALITY = 70;

/** Starts a tile's preview once it is laid out (its width is what it asks for). */
function startViewer(tile) {
  const { name, el: link, fps, picture, canvas } = tile;
  const base = `streams/${encodeURIComponent(name)}/`;
  const width = FULL ? null : displayWidth(picture);
  tile.viewer = watch(canvas, {
    passive: true,
    path: `${base}ws`,
    overlay: true,
    params: width === null ? null : { width, quality: PREVIEW_QUALITY },
    frameWidth: () => tile.frameWidth,
    onStats: (s) => {
      link.dataset.frames = String(s.frames);
      fps.textContent = s.fps > 0 ? `${s.fps} fps` : '';
      render(tile);
    },
    onState: (state) => {
      link.dataset.connection = state;
    },
  });
  if (!FULL) tile.unfollow = followSize(picture, tile.viewer);
}

/** Shows the picture while the source is live and frames arrived since it last was idle; else the state. */
function render(tile) {
  const frames = tile.viewer.stats.frames;
  const picture = tile.state !== 'idle' && frames > tile.framesAtIdle;
  tile.el.dataset.state = tile.state;
  tile.el.dataset.picture = picture ? '1' : '0';
  tile.stateLine.textContent = STATE_TEXT[tile.state] ?? tile.state;
  tile.stateLine.hidden = picture && tile.state === 'live';
  tile.fps.hidden = !picture;
}

function update(stream, tile) {
  const src = stream.source;
  if (src.state === 'idle' && tile.state !== 'idle') {
    // The last picture is stale now: forget it until new frames come.
    tile.framesAtIdle = tile.viewer.stats.frames;
    tile.canvas.getContext('2d').clearRect(0, 0, tile.canvas.width, tile.canvas.height);
  }
  tile.state = src.state;
  tile.frameWidth = src.width ?? null;
  const parts = [src.state];
  if (src.width) parts.push(`${src.width}×${src.height}`);
  parts.push(`${stream.clients.length} watching`);
  tile.info.textContent = parts.join(' · ');
  tile.el.title = `${stream.name}: ${src.name ?? 'source'}`;
  render(tile);
}

async function poll() {
  const status = document.getElementById('grid-state');
  try {
    const res = await fetch('stats', { headers: authHeaders(), cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const stats = await res.json();
    const streams = Array.isArray(stats.streams) ? stats.streams : [{ name: 'default', ...stats }];
    const grid = document.getElementById('grid');
    const names = new Set(streams.map((s) => s.name));
    for (const [name, tile] of tiles) {
      if (names.has(name)) continue;
      tile.unfollow();
      tile.viewer?.close();
      tile.el.remove();
      tiles.delete(name);
    }
    streams.forEach((s, i) => {
      let tile = tiles.get(s.name);
      if (!tile) {
        tile = makeTile(s.name);
        tiles.set(s.name, tile);
      }
      if (grid.children[i] !== tile.el) grid.insertBefore(tile.el, grid.children[i] ?? null);
      if (!tile.viewer) startViewer(tile);
      update(s, tile);
    });
    document.getElementById('grid-empty').hidden = streams.length > 0;
    const live = streams.filter((s) => s.source.state === 'live').length;
    status.dataset.state = 'live';
    status.textContent = `${streams.length} streams · ${live} live`;
    document.body.dataset.streams = String(streams.length);
  } catch (err) {
    status.dataset.state = 'reconnecting';
    status.textContent = `stats unavailable (${err.message}); retrying`;
  }
}

document.getElementById('dashboard-link').href = withToken('dashboard');
void poll();
window.setInterval(() => void poll(), POLL_MS);
// Exposed for tests and the curious.
window.framecastGrid = tiles;
