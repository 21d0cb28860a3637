/* global document, window, fetch */
// The server's own view ("TRANSMITIENDO"): a passive live preview, the source, the clients, and the
// button that ends the current transmission (the web twin of the server's 'q' key).
import { authHeaders, bindOverlay, watch } from './viewer.js';

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
    setFields({
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
watch($('.preview canvas'), { passive: true, onStats: overlay.onStats, onState: overlay.onState });
$('#stop').addEventListener('click', () => void stopTransmission());
void refresh();
window.setInterval(() => void refresh(), 1000);
