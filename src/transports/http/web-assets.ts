import { readFileSync } from 'node:fs';
import type http from 'node:http';

/**
 * The browser pages live as real files in src/web (copied to dist/web by the build), next to this
 * module's folder in both layouts: src/transports/http -> src/web, dist/transports/http -> dist/web.
 */
const WEB_DIR = new URL('../../web/', import.meta.url);

/** Static files the HTTP servers publish, by URL path. */
export const STATIC_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/viewer.js': { file: 'viewer.js', type: 'text/javascript; charset=utf-8' },
  '/frame-message.js': { file: 'frame-message.js', type: 'text/javascript; charset=utf-8' },
  '/overlay.js': { file: 'overlay.js', type: 'text/javascript; charset=utf-8' },
  '/playback.js': { file: 'playback.js', type: 'text/javascript; charset=utf-8' },
  '/timeline.js': { file: 'timeline.js', type: 'text/javascript; charset=utf-8' },
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

/** Security headers of the pages: scripts and connections from this server only. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-cache',
  'X-Frame-Options': 'SAMEORIGIN',
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; style-src 'self'",
};

/** Sends one of the web pages with its placeholders filled, with the pages' security headers. */
export function sendPage(
  res: http.ServerResponse,
  name: string,
  vars: Record<string, string>,
  req?: http.IncomingMessage,
): void {
  const body = webPage(name, vars);
  res.writeHead(200, { ...PAGE_HEADERS, 'Content-Length': body.length });
  res.end(req?.method === 'HEAD' ? undefined : body);
}

/**
 * Sends a static script or stylesheet; false when `path` is none of them (or one of `except`: a page
 * that does not offer it).
 */
export function sendStatic(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  path: string,
  except: readonly string[] = [],
): boolean {
  const file = STATIC_FILES[path];
  if (!file || except.includes(path)) return false;
  const body = webFile(file.file);
  res.writeHead(200, {
    'Content-Type': file.type,
    'Content-Length': body.length,
    'Cache-Control': 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
