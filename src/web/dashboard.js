/* global document, window, fetch */
// The server's own view ("TRANSMITIENDO"): a passive live preview, the source, the clients, and the
// button that ends the current transmission (the web twin of the server's 'q' key), all of the
// default stream (or of the page's stream at /streams/NAME/dashboard); then one card per stream with
// its figures, its clients, small live charts of the last 3 minutes and its own End button.
import { drawChart, Ring } from './charts.js';
import { authHeaders, bindOverlay, displayWidth, followSize, token, watch } from './viewer.js';

const $ = (sel) => document.querySelector(sel);

function fmt(v, digits = 0, unit = '') {
  return v === null || v === undefined ? '–' : `${Number(v).toFixed(digits)}${unit}`;
}

function kB(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.round(bytes / 1024)} kB`;
}

function setFields(values) {
  for (const [name, text] of Object.entries(values)) {
    const el = document.querySelector(`[data-stat="${name}"]`);
    if (el) el.textContent = text;
  }
}

function renderClients(clients) {
  const body = $('#clients tbody');
  body.replaceChildren(
    ...clients.map((c) => {
      const tr = document.createElement('tr');
      tr.dataset.protocol = c.protocol;
      const cells = [
        [c.protocol],
        [c.address],
        [fmt(c.fps, 1), 'num'],
        [String(c.drops), 'num'],
        [fmt(c.latencyMs, 0, ' ms'), 'num'],
        [String(c.framesSent), 'num'],
        [kB(c.bytesSent), 'num'],
        [fmt(c.connectedSeconds, 0, ' s'), 'num'],
      ];
      for (const [text, cls] of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        if (cls) td.className = cls;
        tr.append(td);
      }
      return tr;
    }),
  );
  $('#no-clients').hidden = clients.length > 0;
}

async function refresh() {
  try {
    const res = await fetch('stats', { headers: authHeaders(), cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const s = await res.json();
    const src = s.source;
    renderStreams(s, performance.now());
    setFields({
      'stream-name': s.streams?.[0]?.name ?? s.name ?? '',
      'source-name': src.name ?? '–',
      'source-kind': src.kind ?? '–',
      'source-state':
        src.state + (src.lastEnd && src.state === 'idle' ? ` (last: ${src.lastEnd.reason})` : ''),
      'source-size': src.width ? `${src.width}×${src.height}` : '–',
      'fps-in': fmt(src.fpsIn, 1),
      'fps-out': fmt(src.fpsOut, 1),
      quality: String(s.encoder.quality),
      'encode-ms': fmt(s.encoder.msPerFrame, 1, ' ms'),
      uptime: fmt(s.uptimeSeconds, 0, ' s'),
      'client-count': `${s.clients.length}${s.waiting ? ` (+${s.waiting} waiting)` : ''}`,
      'frames-in': String(s.totals.framesIn),
      'frames-sent': String(s.totals.framesSent),
      drops: String(s.totals.drops),
      transmissions: String(s.totals.transmissions),
    });
    renderClients(s.clients);
    $('#stop').disabled = src.state === 'idle' && s.clients.length === 0;
  } catch (err) {
    setFields({ 'source-state': `stats unavailable (${err.message})` });
  }
}

/** The charts of each stream card: what they plot from a /stats sample, and how. */
const CHARTS = [
  { key: 'fps', label: 'fps out', color: '#6c6', floor: 5, digits: 1 },
  { key: 'kBps', label: 'kB/s sent', color: '#6af', floor: 10, digits: 0 },
  { key: 'clients', label: 'clients', color: '#db6', floor: 2, digits: 0 },
  { key: 'latency', label: 'latency p50 (ms)', color: '#e77', floor: 10, digits: 0 },
];
const SAMPLES = 180;

/** name -> the card of that stream (its element, fields, rings and last byte count). */
const cards = new Map();

function median(values) {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function withToken(path) {
  return token ? `${path}?token=${encodeURIComponent(token)}` : path;
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

const CARD_FIELDS = [
  ['state', 'state'],
  ['source', 'source'],
  ['size', 'resolution'],
  ['fps', 'fps in / out'],
  ['encoder', 'JPEG quality / encode'],
  ['clients', 'clients'],
  ['frames', 'frames in / sent'],
  ['drops', 'drops'],
  ['transmissions', 'transmissions'],
  ['recording', 'recording'],
  ['renditions', 'renditions'],
];

/** A stream's card; `base` is its endpoints' path relative to this page ('' for the page's own stream). */
function makeCard(name, base) {
  const card = el('article', 'stream-card');
  card.dataset.stream = name;
  const head = el('div', 'stream-card-head');
  const title = el('h3');
  const link = el('a', '', name);
  link.href = withToken(base || './');
  title.append(link);
  const result = el('span', 'state');
  const stop = el('button', 'danger small', 'End');
  stop.type = 'button';
  stop.title = `End ${name}'s transmission`;
  head.append(title, el('span', 'spacer'), result, stop);

  const dl = el('dl', 'kv compact');
  const fields = {};
  for (const [key, label] of CARD_FIELDS) {
    dl.append(el('dt', '', label));
    fields[key] = el('dd', '', '–');
    fields[key].dataset.cardStat = key;
    dl.append(fields[key]);
  }

  const charts = el('div', 'charts');
  const chartEls = {};
  const rings = {};
  for (const c of CHARTS) {
    const fig = el('figure', 'chart');
    fig.dataset.metric = c.key;
    const cap = el('figcaption', '', c.label);
    const now = el('span', 'now', '–');
    cap.append(now);
    const canvas = el('canvas');
    canvas.setAttribute('aria-label', `${name}: ${c.label}, last 3 minutes`);
    canvas.dataset.samples = '0';
    fig.append(cap, canvas);
    charts.append(fig);
    chartEls[c.key] = { canvas, now };
    rings[c.key] = new Ring(SAMPLES);
  }

  const clients = el('table', 'clients-mini');
  const headRow = el('tr');
  for (const [h, cls] of [['protocol'], ['address'], ['fps', 'num'], ['latency', 'num'], ['sent', 'num']])
    headRow.append(el('th', cls, h));
  clients.append(el('thead'), el('tbody'));
  clients.tHead.append(headRow);

  card.append(head, dl, charts, clients);
  stop.addEventListener('click', () => void stopStream(stop, result, base));
  return { el: card, fields, chartEls, rings, clients, stop, lastBytes: null, lastAt: 0 };
}

/** Takes one sample of `st` into `card` and redraws it. */
function updateCard(card, st, at) {
  const src = st.source;
  const bytes = st.totals.bytesSent;
  const dt = (at - card.lastAt) / 1000;
  // A restarted stream starts its counters again: no negative rate.
  const kBps = card.lastBytes === null || dt <= 0 ? null : Math.max(0, bytes - card.lastBytes) / 1024 / dt;
  card.lastBytes = bytes;
  card.lastAt = at;
  const latency = median(st.clients.map((c) => c.latencyMs).filter((v) => v !== null));
  const sample = { fps: src.fpsOut, kBps, clients: st.clients.length, latency };
  card.el.dataset.state = src.state;
  const f = card.fields;
  f.state.textContent =
    src.state + (src.lastEnd && src.state === 'idle' ? ` (last: ${src.lastEnd.reason})` : '');
  f.state.dataset.state = src.state;
  f.source.textContent = src.name ? `${src.name}${src.kind ? ` (${src.kind})` : ''}` : '–';
  f.size.textContent = src.width ? `${src.width}×${src.height}` : '–';
  f.fps.textContent = `${fmt(src.fpsIn, 1)} / ${fmt(src.fpsOut, 1)}`;
  f.encoder.textContent = `${st.encoder.quality} / ${fmt(st.encoder.msPerFrame, 1, ' ms')}`;
  f.clients.textContent = `${st.clients.length}${st.waiting ? ` (+${st.waiting} waiting)` : ''}`;
  f.frames.textContent = `${st.totals.framesIn} / ${st.totals.framesSent}`;
  f.drops.textContent = String(st.totals.drops);
  f.transmissions.textContent = String(st.totals.transmissions);
  // The recording badge: a failing disk shows here (live viewing goes on; it resumes by itself).
  const rec = st.recording;
  f.recording.textContent = !rec
    ? 'off'
    : rec.state === 'failing'
      ? `FAILING: ${rec.error ?? 'write error'} (${rec.framesDropped} frames lost)`
      : `${rec.state} (${rec.framesWritten} frames)`;
  f.recording.dataset.state = rec ? rec.state : 'off';
  // Other sizes viewers asked for, each made once per frame: size, viewers, last encode, and how
  // long after the stream's own frame its frame is out (p50 of its last frames).
  const renditions = st.renditions ?? [];
  f.renditions.replaceChildren(
    ...(renditions.length === 0
      ? [document.createTextNode('none')]
      : renditions.map((r) => {
          const item = el(
            'span',
            'rendition',
            `${r.width} px q${r.quality}: ${r.viewers} ${r.viewers === 1 ? 'viewer' : 'viewers'}` +
              `${r.passive ? ' (previews)' : ''}, ${fmt(r.lastEncodeMs, 1, ' ms')}` +
              `, ${fmt(r.delayMs?.p50, 1, ' ms')} behind`,
          );
          item.dataset.width = String(r.width);
          item.dataset.viewers = String(r.viewers);
          return item;
        })),
  );
  for (const c of CHARTS) {
    const ring = card.rings[c.key];
    ring.push(sample[c.key]);
    const { canvas, now } = card.chartEls[c.key];
    const v = ring.last();
    now.textContent = v === null || v === undefined ? '–' : Number(v).toFixed(c.digits);
    drawChart(canvas, ring, { color: c.color, floor: c.floor });
  }
  card.clients.tBodies[0].replaceChildren(
    ...st.clients.map((c) => {
      const tr = el('tr');
      tr.dataset.protocol = c.protocol;
      tr.append(
        el('td', '', c.protocol),
        el('td', '', c.address),
        el('td', 'num', fmt(c.fps, 1)),
        el('td', 'num', fmt(c.latencyMs, 0, ' ms')),
        el('td', 'num', kB(c.bytesSent)),
      );
      return tr;
    }),
  );
  card.clients.hidden = st.clients.length === 0;
  card.stop.disabled = src.state === 'idle' && st.clients.length === 0;
}

/** Every stream's card (one for the page's own stream at /streams/NAME/dashboard). */
function renderStreams(s, at) {
  const multi = Array.isArray(s.streams);
  const streams = multi ? s.streams : [{ ...s, name: s.name ?? 'this stream' }];
  const box = $('#streams');
  const names = new Set(streams.map((st) => st.name));
  for (const [name, card] of cards) {
    if (names.has(name)) continue;
    card.el.remove();
    cards.delete(name);
  }
  streams.forEach((st, i) => {
    let card = cards.get(st.name);
    if (!card) {
      card = makeCard(st.name, multi ? `streams/${encodeURIComponent(st.name)}/` : '');
      cards.set(st.name, card);
    }
    if (box.children[i] !== card.el) box.insertBefore(card.el, box.children[i] ?? null);
    updateCard(card, st, at);
  });
  document.body.dataset.streams = String(streams.length);
}

async function stopStream(button, result, base) {
  button.disabled = true;
  try {
    const res = await fetch(`${base}transmission/stop`, { method: 'POST', headers: authHeaders() });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const { stopped } = await res.json();
    result.textContent = stopped ? 'ended' : 'nothing to end';
  } catch (err) {
    result.textContent = `could not end it: ${err.message}`;
  }
  void refresh();
}

async function stopTransmission() {
  const button = $('#stop');
  button.disabled = true;
  try {
    const res = await fetch('transmission/stop', { method: 'POST', headers: authHeaders() });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const { stopped } = await res.json();
    $('#stop-result').textContent = stopped ? 'transmission ended' : 'nothing was being transmitted';
  } catch (err) {
    $('#stop-result').textContent = `could not end the transmission: ${err.message}`;
  }
  void refresh();
}

const overlay = bindOverlay($('.preview'));
// The preview asks for its displayed width (device pixels): a stream wider than that is sent at the
// preview's size, made once per frame for every preview (a passive rendition, which never starts
// the source either); a stream no wider is sent as it is.
const stage = $('.preview .stage');
const previewWidth = displayWidth(stage);
const preview = watch($('.preview canvas'), {
  passive: true,
  onStats: overlay.onStats,
  onState: overlay.onState,
  params: previewWidth === null ? null : { width: previewWidth },
});
followSize(stage, preview);
$('#stop').addEventListener('click', () => void stopTransmission());
void refresh();
window.setInterval(() => void refresh(), 1000);
