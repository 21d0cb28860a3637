/* global document, window, fetch, location */
// The viewer's timeline: the stream's recorded spans (from GET recordings, refreshed every few
// seconds) on a bar, with the annotations filed with them (GET recordings/activity) as a row of
// marks; a click or a drag on it asks to play back from that time. It only draws and
// reports times: viewer.js switches the picture between live and playback. Everything from the
// server is set as text or as numbers in styles, never as HTML.

/** How often the spans are read again (ms). */
export const REFRESH_MS = 3000;
/** How often a stream without recordings is asked again (ms). */
const IDLE_REFRESH_MS = 30_000;
/** The oldest recordings shown (the server may keep more). */
const MAX_AGE_MS = 7 * 24 * 3600 * 1000;
/** The shortest window of "all": a few seconds of recording still get a bar one can click. */
const MIN_WINDOW_MS = 60 * 1000;

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** A time as local `YYYY-MM-DD HH:MM:SS` (with `ms`, `.mmm`). */
export function formatTime(ms, withMs = false) {
  const d = new Date(ms);
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return `${day} ${time}${withMs ? `.${pad(d.getMilliseconds(), 3)}` : ''}`;
}

/** A duration as `1 h 02 min`, `3 min 05 s`, `42 s`. */
export function formatDuration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${pad(Math.floor(s / 60) % 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor(s / 3600) % 24} h`;
}

/** The spans of a /recordings answer as numbers, bad entries left out. */
export function spansOf(listing) {
  if (!listing || !Array.isArray(listing.spans)) return [];
  const out = [];
  for (const s of listing.spans) {
    const start = Date.parse(s?.start);
    const end = Date.parse(s?.end);
    if (Number.isFinite(start) && Number.isFinite(end) && end >= start)
      out.push({ start, end, frames: Number(s.frames) || 0 });
  }
  return out.sort((a, b) => a.start - b.start);
}

/**
 * The timeline in `root` (viewer.html's `[data-field="timeline"]`). `onSeek(ms)`: play back from
 * that time; `onLive()`: back to the live picture; `onSpeed(speed)`: another speed was picked.
 * `headers`: the page's Authorization header; `path`: the listing's URL relative to the page.
 */
export function createTimeline(
  root,
  { headers = {}, path = 'recordings', onSeek = () => {}, onLive = () => {}, onSpeed = () => {} } = {},
) {
  const el = (id) => root.querySelector(`[data-field="${id}"]`);
  const bar = el('bar');
  const spansEl = el('spans');
  const head = el('head');
  const hover = el('hover');
  const liveButton = el('live');
  const speedSelect = el('speed');
  const rangeSelect = el('range');
  const playtime = el('playtime');
  let spans = [];
  let recording = false;
  let from = 0;
  let to = 1;
  let position = null; // the playback's time, or null while live
  let dragging = false;
  let timer = 0;
  let stopped = false;
  // Annotations per bucket from recordings/activity (null: none to show).
  const activityEl = el('activity');
  let activity = null;

  function windowOf(now) {
    const range = Number(rangeSelect.value);
    if (range > 0) return [now - range, now];
    const oldest = spans.length ? spans[0].start : now;
    return [Math.min(oldest, now - MIN_WINDOW_MS), now];
  }

  const fraction = (t) => (t - from) / (to - from);

  function render() {
    const now = Date.now();
    [from, to] = windowOf(now);
    bar.dataset.from = String(from);
    bar.dataset.to = String(to);
    const shown = spans.filter((s) => s.end >= from && s.start <= to);
    // One element per span, reused between refreshes; sizes in percent of the bar.
    while (spansEl.children.length > shown.length) spansEl.lastElementChild.remove();
    while (spansEl.children.length < shown.length) {
      const d = document.createElement('div');
      d.className = 'timeline-span';
      spansEl.append(d);
    }
    shown.forEach((s, i) => {
      const d = spansEl.children[i];
      // The span being recorded reaches the present.
      const end = recording && i === shown.length - 1 && now - s.end < 10_000 ? now : s.end;
      const left = Math.max(0, fraction(s.start));
      const right = Math.min(1, fraction(end));
      d.style.left = `${(left * 100).toFixed(3)}%`;
      d.style.width = `${(Math.max(0, right - left) * 100).toFixed(3)}%`;
      d.dataset.start = String(s.start);
      d.dataset.end = String(s.end);
      d.title = `${formatTime(s.start)} – ${formatTime(s.end)} (${formatDuration(s.end - s.start)})`;
    });
    placeActivity();
    el('from').textContent = formatTime(from);
    el('to').textContent = Number(rangeSelect.value) > 0 || spans.length ? 'now' : '';
    placeHead();
  }

  /** The activity's canvas over the part of the window it counts (the window moves between reads). */
  function placeActivity() {
    activityEl.hidden = activity === null;
    if (!activity) return;
    const left = fraction(activity.start);
    const right = fraction(activity.end);
    activityEl.style.left = `${(left * 100).toFixed(3)}%`;
    activityEl.style.width = `${(Math.max(0, right - left) * 100).toFixed(3)}%`;
  }

  /** Draws one column per bucket, its height by the bucket's count (square root: a few still show). */
  function drawActivity(counts) {
    const max = Math.max(...counts);
    activityEl.width = counts.length;
    activityEl.height = 20;
    const g = activityEl.getContext('2d');
    g.clearRect(0, 0, counts.length, 20);
    g.fillStyle = '#ffb000';
    counts.forEach((c, i) => {
      if (c <= 0) return;
      const h = Math.max(3, Math.round(20 * Math.sqrt(c / max)));
      g.fillRect(i, 20 - h, 1, h);
    });
  }

  async function readActivity() {
    const [start, end] = windowOf(Date.now());
    const url = new URL(`${path}/activity`, location.href);
    url.search = '';
    url.searchParams.set('start', new Date(Math.floor(start)).toISOString());
    url.searchParams.set('end', new Date(Math.ceil(end)).toISOString());
    // A bucket every 3 pixels: a second of activity in an hour still shows.
    const buckets = Math.round((bar.getBoundingClientRect().width || 800) / 3);
    url.searchParams.set('buckets', String(Math.min(2000, Math.max(1, buckets))));
    const res = await fetch(url.href, { headers, cache: 'no-store' });
    if (!res.ok) {
      activity = null; // a server without the endpoint: no activity row
      return;
    }
    const a = await res.json();
    const counts = Array.isArray(a?.counts) ? a.counts.map((c) => Number(c) || 0) : [];
    const s = Date.parse(a?.start);
    const e = Date.parse(a?.end);
    if (!counts.some((c) => c > 0) || !Number.isFinite(s) || !Number.isFinite(e)) {
      activity = null;
      return;
    }
    activity = { start: s, end: e, total: counts.reduce((x, y) => x + y, 0) };
    activityEl.dataset.total = String(activity.total);
    activityEl.title = `${activity.total} annotations shown`;
    drawActivity(counts);
  }

  function placeHead() {
    const playing = position !== null;
    root.dataset.mode = playing ? 'playback' : 'live';
    liveButton.setAttribute('aria-pressed', String(!playing));
    if (!playing) {
      delete root.dataset.position;
      head.hidden = true;
      playtime.textContent = recording ? 'live (recording)' : 'live';
      bar.setAttribute('aria-valuenow', String(Date.now()));
      bar.setAttribute('aria-valuetext', 'live');
      return;
    }
    root.dataset.position = String(position);
    head.hidden = !(position >= from && position <= to);
    head.style.left = `${(fraction(position) * 100).toFixed(3)}%`;
    const behind = Date.now() - position;
    playtime.textContent = `${formatTime(position, true)} (${formatDuration(behind)} ago)`;
    bar.setAttribute('aria-valuenow', String(Math.round(position)));
    bar.setAttribute('aria-valuetext', formatTime(position));
  }

  async function refresh() {
    let next = REFRESH_MS;
    try {
      const url = new URL(path, location.href);
      url.search = '';
      url.searchParams.set('start', new Date(Date.now() - MAX_AGE_MS).toISOString());
      const res = await fetch(url.href, { headers, cache: 'no-store' });
      if (!res.ok) {
        // No recordings here (a server without them, or the client's own viewer): no timeline.
        if (res.status === 404 || res.status === 401) {
          spans = [];
          // Asked again now and then: recording may be turned on while the page is open.
          next = IDLE_REFRESH_MS;
        }
        return;
      }
      const listing = await res.json();
      spans = spansOf(listing);
      recording = listing?.recording?.state === 'recording';
      // Shown before the activity is read: its buckets are the bar's width.
      root.hidden = spans.length === 0 && position === null;
      if (spans.length) await readActivity();
      else activity = null;
    } catch {
      // The server is away: keep what we had; the live picture says so.
    } finally {
      if (!stopped) {
        root.hidden = spans.length === 0 && position === null;
        document.body.classList.toggle('has-timeline', !root.hidden);
        if (!root.hidden) render();
        timer = window.setTimeout(refresh, next);
      }
    }
  }

  /** The time under a pointer's x, inside the window. */
  function timeAt(clientX) {
    const r = bar.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (clientX - r.left) / r.width));
    return from + f * (to - from);
  }

  function showHover(t) {
    hover.hidden = false;
    hover.style.left = `${(fraction(t) * 100).toFixed(3)}%`;
    hover.textContent = formatTime(t);
  }

  bar.addEventListener('pointerdown', (ev) => {
    if (ev.button !== 0) return;
    dragging = true;
    bar.setPointerCapture(ev.pointerId);
    showHover(timeAt(ev.clientX));
  });
  bar.addEventListener('pointermove', (ev) => {
    if (dragging || ev.pointerType === 'mouse') showHover(timeAt(ev.clientX));
  });
  bar.addEventListener('pointerleave', () => {
    if (!dragging) hover.hidden = true;
  });
  bar.addEventListener('pointerup', (ev) => {
    if (!dragging) return;
    dragging = false;
    hover.hidden = true;
    onSeek(timeAt(ev.clientX));
  });
  bar.addEventListener('pointercancel', () => {
    dragging = false;
    hover.hidden = true;
  });
  // The keyboard: arrows move 10 s (a minute with Shift) from where playback is; End goes live.
  bar.addEventListener('keydown', (ev) => {
    const step = ev.shiftKey ? 60_000 : 10_000;
    const base = position ?? Date.now();
    if (ev.key === 'ArrowLeft') onSeek(base - step);
    else if (ev.key === 'ArrowRight' && position !== null) onSeek(base + step);
    else if (ev.key === 'End') onLive();
    else return;
    ev.preventDefault();
  });
  liveButton.addEventListener('click', () => onLive());
  speedSelect.addEventListener('change', () => onSpeed(Number(speedSelect.value)));
  rangeSelect.addEventListener('change', () => {
    render();
    // The activity of the new window at once, not at the next refresh.
    readActivity().then(render, () => {});
  });

  void refresh();
  // The window's right edge is now: it moves every second even between refreshes.
  const clock = window.setInterval(() => {
    if (!root.hidden) render();
  }, 1000);

  return {
    get speed() {
      return Number(speedSelect.value) || 1;
    },
    get spans() {
      return spans;
    },
    get position() {
      return position;
    },
    /** The playback's current time (ms), or null: live. */
    setPosition(t) {
      position = t;
      if (t !== null && root.hidden) {
        root.hidden = false;
        render();
      } else placeHead();
    },
    close() {
      stopped = true;
      window.clearTimeout(timer);
      window.clearInterval(clock);
    },
  };
}
