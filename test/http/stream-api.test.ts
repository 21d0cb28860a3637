import { afterEach, describe, expect, it } from 'vitest';
import { StreamClient, parseServerAddress } from '../../src/index.js';
import { serve, type FramecastServer } from '../../src/app/serve.js';
import { killTracked } from '../helpers/processes.js';
import { httpBase, until } from './support.js';

let server: FramecastServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
  await killTracked();
});

const CAMERA = 'rtsp://admin:cam-password-1@127.0.0.1:1/stream';

describe('GET /api/streams', () => {
  it('lists every stream with its state, clients and fps; passwords in URLs masked, tokens never shown', async () => {
    server = await serve({
      port: 0,
      httpPort: 0,
      token: 'server-secret-1',
      streams: [
        { name: 'door', source: CAMERA, readToken: 'read-secret-1' },
        { name: 'push', source: 'publisher', publishToken: 'pub-secret-1' },
        { name: 'lab', source: 'test', width: 160 },
      ],
    });
    const api = `${httpBase(server)}/api/streams`;
    expect((await fetch(api)).status).toBe(401);
    const watch = (name: string): { frames: number; close: () => void } => {
      const c = new StreamClient(parseServerAddress(`127.0.0.1:${server?.address().port}/${name}`), {
        protocol: 'native',
        token: 'server-secret-1',
      });
      const v = { frames: 0, close: () => c.close() };
      c.on('frame', () => v.frames++);
      c.on('error', () => {});
      c.connect();
      return v;
    };
    const lab = watch('lab');
    // The camera refuses (port 1): its viewer waits in no-signal, and its URL is in the list.
    const door = watch('door');
    await until(() => lab.frames >= 10, 10_000, '10 frames of lab');
    // fps are measured over a window: ask until the watched stream reports frames in and out.
    type Row = {
      name: string;
      source: string;
      state: string;
      clients: number;
      fpsIn: number;
      fpsOut: number;
    };
    let rows: Row[] = [];
    let text = '';
    await until(
      async () => {
        const r = await fetch(api, { headers: { Authorization: 'Bearer server-secret-1' } });
        expect(r.status).toBe(200);
        text = await r.text();
        rows = JSON.parse(text) as Row[];
        const by = (name: string): Row | undefined => rows.find((row) => row.name === name);
        return (by('lab')?.fpsOut ?? 0) > 0 && by('door')?.state === 'no-signal';
      },
      10_000,
      'lab reported with fps',
    );
    expect(rows.map((r) => r.name)).toEqual(['door', 'push', 'lab']);
    expect(rows[0]).toMatchObject({
      name: 'door',
      source: 'rtsp://admin:***@127.0.0.1:1/stream',
      state: 'no-signal',
      clients: 1,
    });
    expect(rows[1]).toMatchObject({ name: 'push', state: 'idle', clients: 0 });
    expect(rows[2]).toMatchObject({ name: 'lab', source: 'test', state: 'live', clients: 1 });
    expect(rows[2]?.fpsIn).toBeGreaterThan(0);
    for (const secret of ['cam-password-1', 'read-secret-1', 'pub-secret-1', 'server-secret-1'])
      expect(text).not.toContain(secret);
    // One stream: the same masking.
    const one = await fetch(`${api}/door?token=server-secret-1`);
    expect(one.status).toBe(200);
    const oneText = await one.text();
    expect(JSON.parse(oneText)).toMatchObject({
      name: 'door',
      source: 'rtsp://admin:***@127.0.0.1:1/stream',
    });
    for (const secret of ['cam-password-1', 'read-secret-1', 'pub-secret-1', 'server-secret-1'])
      expect(oneText).not.toContain(secret);
    lab.close();
    door.close();
  }, 30_000);
});
