/* global window */
// Small live charts drawn by hand on a <canvas>: a fixed-size ring of samples (one a second), drawn
// as a line from oldest (left) to newest (right). A null sample is a gap (e.g. no latency without clients).

/** The last `capacity` samples, oldest first. */
export class Ring {
  constructor(capacity = 180) {
    this.capacity = capacity;
    this.items = new Array(capacity).fill(null);
    this.start = 0;
    this.count = 0;
  }

  push(value) {
    const end = (this.start + this.count) % this.capacity;
    this.items[end] = value;
    if (this.count < this.capacity) this.count++;
    else this.start = (this.start + 1) % this.capacity;
  }

  /** The samples, oldest first. */
  values() {
    const out = [];
    for (let i = 0; i < this.count; i++) out.push(this.items[(this.start + i) % this.capacity]);
    return out;
  }

  /** The newest sample (undefined when empty). */
  last() {
    return this.count === 0 ? undefined : this.items[(this.start + this.count - 1) % this.capacity];
  }
}

/** A round upper bound for the y axis: 1, 2, 5 x 10^n, at least `floor`. */
function niceMax(v, floor) {
  const top = Math.max(v, floor);
  const p = 10 ** Math.floor(Math.log10(top));
  for (const m of [1, 2, 5, 10]) if (m * p >= top) return m * p;
  return 10 * p;
}

export const CHART_BACKGROUND = '#141414';

/**
 * Draws `ring` on `canvas` (sized to its CSS box at the device's pixel ratio). The x axis spans the
 * ring's whole capacity, so a young chart fills from the right. Sets `data-samples` on the canvas.
 */
export function drawChart(canvas, ring, { color = '#6c6', floor = 1 } = {}) {
  const dpr = window.devicePixelRatio || 1;
  const cssW = canvas.clientWidth || 200;
  const cssH = canvas.clientHeight || 60;
  const w = Math.round(cssW * dpr);
  const h = Math.round(cssH * dpr);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = CHART_BACKGROUND;
  ctx.fillRect(0, 0, cssW, cssH);

  const values = ring.values();
  const max = niceMax(Math.max(0, ...values.filter((v) => v !== null)), floor);
  const pad = 3;
  const plotH = cssH - 2 * pad;
  const y = (v) => pad + plotH - (Math.min(v, max) / max) * plotH;
  const step = cssW / Math.max(1, ring.capacity - 1);
  const x0 = cssW - (values.length - 1) * step;

  // Grid: the middle line, and the axis top as text.
  ctx.strokeStyle = '#2a2a2a';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(0, Math.round(y(max / 2)) + 0.5);
  ctx.lineTo(cssW, Math.round(y(max / 2)) + 0.5);
  ctx.stroke();
  ctx.fillStyle = '#777';
  ctx.font = '10px ui-monospace, monospace';
  ctx.textBaseline = 'top';
  ctx.fillText(String(max), 3, 2);

  // The area under the line, then the line; a null sample breaks both.
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  let run = [];
  const flush = () => {
    if (run.length === 0) return;
    ctx.globalAlpha = 0.18;
    ctx.beginPath();
    ctx.moveTo(run[0][0], cssH);
    for (const [px, py] of run) ctx.lineTo(px, py);
    ctx.lineTo(run[run.length - 1][0], cssH);
    ctx.closePath();
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.beginPath();
    ctx.moveTo(run[0][0], run[0][1]);
    for (const [px, py] of run) ctx.lineTo(px, py);
    if (run.length === 1) ctx.lineTo(run[0][0] + 1, run[0][1]);
    ctx.stroke();
    run = [];
  };
  values.forEach((v, i) => {
    if (v === null || v === undefined) flush();
    else run.push([x0 + i * step, y(v)]);
  });
  flush();
  canvas.dataset.samples = String(values.length);
}
