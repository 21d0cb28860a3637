import { readFileSync } from 'node:fs';

/**
 * The browser pages live as real files in src/web (copied to dist/web by the build), next to this
 * module's folder in both layouts: src/transports/http -> src/web, dist/transports/http -> dist/web.
 */
const WEB_DIR = new URL('../../web/', import.meta.url);

/** Static files the HTTP servers publish, by URL path. */
export const STATIC_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/viewer.js': { file: 'viewer.js', type: 'text/javascript; charset=utf-8' },
  '/frame-message.js': { file: 'frame-message.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/grid.js': { file: 'grid.js', type: 'text/javascript; charset=utf-8' },
  '/charts.js': { file: 'charts.js', type: 'text/javascript; charset=utf-8' },
  '/framecast.css': { file: 'framecast.css', type: 'text/css; charset=utf-8' },
};

const cache = new Map<string, Buffer>();

/** A file of the web folder (read once, then served from memory). */
export function webFile(name: string): Buffer {
  let buf = cache.get(name);
  if (!buf) {
    buf = readFileSync(new URL(name, WEB_DIR));
    cache.set(name, buf);
  }
  return buf;
}

function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** An HTML page with its `{{name}}` placeholders filled (values are HTML-escaped). */
export function webPage(name: string, vars: Readonly<Record<string, string>>): Buffer {
  const html = webFile(name)
    .toString('utf8')
    .replace(/\{\{(\w+)\}\}/g, (_, k: string) => escapeHtml(vars[k] ?? ''));
  return Buffer.from(html, 'utf8');
}
