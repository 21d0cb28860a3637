/**
 * GET /api/streams and GET /api/streams/NAME say the same of a stream (the README promised fps in and
 * out on the single GET, and the list showed `source: null` while a stream was idle).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/app/serve.js';
import { httpBase, until } from './support.js';
import { openWs } from './support.js';

let server: FramecastServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

describe('the stream API views', () => {
  it('the list and the single GET show the same stream: its source while idle, fps in and out while live', async () => {
    server = await serve({
      port: 0,
      httpPort: 0,
      width: 160,
      streams: [
        { name: 'cam', source: 'test' },
        { name: 'yard', source: 'rtsp://admin:p@ss@127.0.0.1:1/x?pwd=hunter2' },
      ],
    });
    const base = httpBase(server);
    const list = (await (await fetch(`${base}/api/streams`)).json()) as Record<string, unknown>[];
    expect(list.map((s) => s['name'])).toEqual(['cam', 'yard']);
    for (const entry of list) {
      const one = (await (await fetch(`${base}/api/streams/${entry['name'] as string}`)).json()) as Record<
        string,
        unknown
      >;
      expect(one).toEqual(entry);
    }
    expect(list[0]).toMatchObject({ source: 'test', state: 'idle', clients: 0, fpsIn: null, fpsOut: 0 });
    expect(list[1]!['source']).toBe('rtsp://admin:***@127.0.0.1:1/x?pwd=***');
    expect(JSON.stringify(list)).not.toMatch(/hunter2|p@ss/);

    const viewer = openWs(`${base.replace('http', 'ws')}/streams/cam/ws`);
    await viewer.opened;
    let live: Record<string, unknown> = {};
    await until(
      async () => {
        live = (await (await fetch(`${base}/api/streams/cam`)).json()) as Record<string, unknown>;
        return live['state'] === 'live' && (live['fpsOut'] as number) > 5;
      },
      10_000,
      'cam live with frames flowing',
    );
    expect(live).toMatchObject({ name: 'cam', source: 'test', clients: 1, fpsIn: 30, width: 160 });
    const listed = (await (await fetch(`${base}/api/streams`)).json()) as Record<string, unknown>[];
    expect(listed[0]).toMatchObject({ state: 'live', clients: 1, fpsIn: 30 });
    expect(listed[0]!['fpsOut']).toBeGreaterThan(5);
    viewer.ws.close();

    // A PUT answers with the stream as GET shows it.
    await server.close();
    server = await serve({
      port: 0,
      httpPort: 0,
      adminToken: 'admin-token-1',
      streams: [{ name: 'cam', source: 'test' }],
    });
    const put = await fetch(`${httpBase(server)}/api/streams/lobby`, {
      method: 'PUT',
      headers: { Authorization: 'Bearer admin-token-1' },
      body: JSON.stringify({ source: 'test', width: 320 }),
    });
    expect(put.status).toBe(201);
    const answered = (await put.json()) as Record<string, unknown>;
    expect(answered).toEqual(await (await fetch(`${httpBase(server)}/api/streams/lobby`)).json());
    expect(answered).toMatchObject({ name: 'lobby', width: 320, fpsIn: null, fpsOut: 0 });
  }, 30_000);
});
