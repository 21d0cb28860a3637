/**
 * Every page framecast serves carries the same security headers, from one place: the server's pages
 * and the client's own viewer (`play --view browser`) alike (the client's viewer once sent none).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/app/serve.js';
import { LocalViewerServer } from '../../src/transports/http/viewer-server.js';
import { PAGE_HEADERS } from '../../src/transports/http/web-assets.js';
import { httpBase } from './support.js';

let server: FramecastServer | null = null;
let viewer: LocalViewerServer | null = null;
afterEach(async () => {
  await server?.close();
  await viewer?.close();
  server = null;
  viewer = null;
});

describe('page headers', () => {
  it("the server's viewer, dashboard and grid, and the client's own viewer, send one set of headers", async () => {
    server = await serve({ port: 0, httpPort: 0, streams: [{ name: 'cam', source: 'test' }] });
    viewer = new LocalViewerServer({ port: 0, title: 'RECIBIDO' });
    const local = await viewer.listen();
    const pages = [
      `${httpBase(server)}/streams/cam/`,
      `${httpBase(server)}/streams/cam/dashboard`,
      `${httpBase(server)}/`,
      `http://127.0.0.1:${local.port}/`,
    ];
    for (const url of pages) {
      const r = await fetch(url);
      expect(r.status, url).toBe(200);
      for (const [name, value] of Object.entries(PAGE_HEADERS))
        expect(r.headers.get(name), `${url} ${name}`).toBe(value);
      await r.arrayBuffer();
    }
    expect(PAGE_HEADERS['Content-Security-Policy']).toMatch(/default-src 'self'/);
    // The client's viewer serves the page's scripts, and no dashboard.
    expect((await fetch(`http://127.0.0.1:${local.port}/viewer.js`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${local.port}/dashboard.js`)).status).toBe(404);
  });
});
