// Annotations and metadata drawn over the picture. Schema (docs: README "Metadata and annotations"):
// {"objects":[{"box":[x,y,w,h],"label":"bottle","score":0.91,"id":7}]}, box in the frame's pixels,
// or in fractions of its width and height when the JSON has "normalized": true. Everything from the
// server is checked here and drawn as canvas text (fillText), never as HTML.

const PALETTE = ['#00ff00', '#ff00ff', '#00e5ff', '#ff6a00', '#7c4dff', '#ff1744', '#76ff03', '#ffffff'];
/** The publisher's metadata has its own colour; analyzers take the palette in order of arrival. */
const META_COLOR = '#ffd400';
/** Frames an annotation stays bright; older ones are drawn faded. */
const FRESH_FRAMES = 2;
const MAX_OBJECTS = 200;
const MAX_LABEL = 64;
/** Frames remembered per seq for ?sync= (each frame's own annotations). */
const MAX_SEQS = 300;
const MAX_ANALYZERS = 17;

/** The drawable objects of one annotation's data (bad entries skipped), or null when none. */
export function objectsOf(data) {
  if (!data || typeof data !== 'object' || !Array.isArray(data.objects)) return null;
  const normalized = data.normalized === true;
  const out = [];
  for (const o of data.objects.slice(0, MAX_OBJECTS)) {
    if (!o || typeof o !== 'object' || !Array.isArray(o.box) || o.box.length !== 4) continue;
    const box = o.box.map(Number);
    if (!box.every(Number.isFinite)) continue;
    const label = typeof o.label === 'string' ? o.label.slice(0, MAX_LABEL) : '';
    const score = typeof o.score === 'number' && Number.isFinite(o.score) ? o.score : null;
    const id = typeof o.id === 'number' || typeof o.id === 'string' ? String(o.id).slice(0, 16) : null;
    out.push({ box, label, score, id });
  }
  return { normalized, objects: out };
}

/**
 * The overlay's state: each analyzer's newest annotation (the publisher's metadata as `meta`), each
 * recent frame's own ones (for sync), the analyzers hidden by the legend. `onChange` runs when what
 * should be drawn changed.
 */
export function createOverlay(onChange = () => {}) {
  const newest = new Map(); // analyzer -> { seq, shapes }
  const bySeq = new Map(); // seq -> Map(analyzer -> shapes)
  const colors = new Map();
  const hidden = new Set();

  function add(analyzer, seq, data) {
    if (typeof analyzer !== 'string' || !Number.isInteger(seq)) return;
    const shapes = objectsOf(data);
    if (!shapes) return;
    if (!colors.has(analyzer)) {
      if (colors.size >= MAX_ANALYZERS) return;
      const n = [...colors.keys()].filter((k) => k !== 'meta').length;
      colors.set(analyzer, analyzer === 'meta' ? META_COLOR : PALETTE[n % PALETTE.length]);
    }
    const prev = newest.get(analyzer);
    if (!prev || prev.seq <= seq) newest.set(analyzer, { seq, shapes });
    let frame = bySeq.get(seq);
    if (!frame) {
      frame = new Map();
      bySeq.set(seq, frame);
      if (bySeq.size > MAX_SEQS) bySeq.delete(bySeq.keys().next().value);
    }
    frame.set(analyzer, shapes);
    onChange();
  }

  return {
    /** A text message from the WebSocket: true when it was ours. */
    message(msg) {
      if (msg.type === 'meta') add('meta', msg.seq, msg.data);
      else if (msg.type === 'annotation') add(msg.analyzer, msg.seq, msg.data);
      else return false;
      return true;
    },
    /** Analyzers seen, with their colours (for a legend). */
    analyzers() {
      return [...colors].map(([name, color]) => ({ name, color, hidden: hidden.has(name) }));
    },
    toggle(name) {
      if (hidden.has(name)) hidden.delete(name);
      else hidden.add(name);
      onChange();
    },
    /** The newest annotation's seq of `analyzer` (tests and the curious). */
    seqOf(analyzer) {
      return newest.get(analyzer)?.seq ?? null;
    },
    /** A transmission ended: its frames' annotations are gone. */
    clear() {
      newest.clear();
      bySeq.clear();
      onChange();
    },
    /**
     * Draws over frame `seq` (already on the canvas). `sync`: that frame's own annotations, or (for
     * an analyzer that had none in time) its newest earlier one, faded; else each analyzer's newest,
     * faded once more than FRESH_FRAMES old.
     */
    draw(ctx, seq, sync) {
      const { width, height } = ctx.canvas;
      const scale = Math.max(1, Math.round(width / 640));
      for (const [name, color] of colors) {
        if (hidden.has(name)) continue;
        let shapes = null;
        let faded = false;
        if (sync) shapes = bySeq.get(seq)?.get(name) ?? null;
        if (!shapes) {
          // Not synced, or this frame's own came too late for the hold: the newest earlier one.
          const a = newest.get(name);
          if (a && a.seq <= seq + (sync ? -1 : 1)) {
            shapes = a.shapes;
            faded = sync || seq - a.seq > FRESH_FRAMES;
          }
        }
        if (shapes) drawShapes(ctx, shapes, color, faded ? 0.35 : 1, width, height, scale);
      }
    },
  };
}

function drawShapes(ctx, shapes, color, alpha, width, height, scale) {
  ctx.save();
  ctx.globalAlpha = alpha;
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = 3 * scale;
  ctx.font = `${12 * scale}px sans-serif`;
  ctx.textBaseline = 'bottom';
  for (const o of shapes.objects) {
    let [x, y, w, h] = o.box;
    if (shapes.normalized) {
      x *= width;
      w *= width;
      y *= height;
      h *= height;
    }
    ctx.strokeRect(x, y, w, h);
    const text = [o.label, o.score === null ? '' : o.score.toFixed(2), o.id === null ? '' : `#${o.id}`]
      .filter(Boolean)
      .join(' ');
    if (text) ctx.fillText(text, x + 2 * scale, Math.max(12 * scale, y - 2 * scale));
  }
  ctx.restore();
}
