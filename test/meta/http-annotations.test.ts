/**
 * Annotations over HTTP: POST /streams/NAME/annotations, sent on to WebSocket viewers
 * (?annotations=1) and Server-Sent Events readers (/events) tagged with their frame's seq, the
 * newest in /snapshot.json, counted in /stats; and every refusal.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/index.js';
import { getJson, httpBase, until } from '../http/support.js';
import { makeJpeg } from '../helpers/native.js';
import { part, postAnnotation, recordSse, recordWs, texts } from './http-support.js';

let server: FramecastServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

interface SnapshotJson {
  seq: number;
  capturedAt: number;
  width: number;
  height: number;
  meta: unknown;
  annotations: { type: string; analyzer: string; seq: number; capturedAt: number; data: unknown }[];
}

const box = { objects: [{ box: [10, 20, 30, 40], label: 'bottle', score: 0.91, id: 7 }] };

describe('annotations over HTTP', () => {
  it('POST reaches WebSocket and SSE viewers tagged with the seq; a late joiner, snapshot.json and /stats see it', async () => {
    // One viewer place: the SSE reader does not take it (it carries no pictures).
    server = await serve({ port: 0, httpPort: 0, source: 'test', width: 160, fps: 10, maxClients: 1 });
    const base = httpBase(server);
    const ws = base.replace('http', 'ws');
    const viewer = recordWs(`${ws}/streams/default/ws?annotations=1`);
    await viewer.opened;
    await until(() => viewer.messages.some((m) => 'binary' in m));
    const sse = recordSse(`${base}/streams/default/events`);
    expect(await sse.status).toBe(200);
    const passive = recordWs(`${ws}/ws?passive=1&annotations=1`);
    await passive.opened;
    const snap = await getJson<SnapshotJson>(`${base}/streams/default/snapshot.json`);
    expect(snap).toMatchObject({ width: 160, meta: null, annotations: [] });
    const seq = snap.seq;
    const r = await postAnnotation(`${base}/streams/default/annotations`, {
      analyzer: 'detector',
      seq,
      data: box,
    });
    expect(r.status).toBe(202);
    const answer = JSON.parse(r.text) as Record<string, unknown>;
    expect(answer).toEqual({
      type: 'annotation',
      analyzer: 'detector',
      seq,
      capturedAt: snap.capturedAt,
      data: box,
    });
    await until(() => texts(viewer).length === 1);
    expect(texts(viewer)[0]).toEqual(answer);
    await until(() => sse.events.length === 1);
    expect(sse.events[0]?.event).toBe('annotation');
    expect(JSON.parse(sse.events[0]?.data ?? '')).toEqual(answer);
    await until(() => texts(passive).length === 1);
    expect(texts(passive)[0]).toEqual(answer);
    // By capture time instead of seq: the same frame.
    const byTime = await postAnnotation(`${base}/annotations`, {
      analyzer: 'tracker',
      capturedAt: snap.capturedAt,
      data: { objects: [] },
    });
    expect([byTime.status, (JSON.parse(byTime.text) as { seq: number }).seq]).toEqual([202, seq]);
    // A viewer without ?annotations=1 gets no text; one that joins later gets each analyzer's newest.
    const plainViewer = recordWs(`${ws}/ws?passive=1`);
    const late = recordWs(`${ws}/ws?passive=1&annotations=1`);
    await Promise.all([plainViewer.opened, late.opened]);
    await until(() => texts(late).length === 2);
    expect(texts(late).map((t) => t.analyzer)).toEqual(['detector', 'tracker']);
    await until(() => plainViewer.messages.length > 3);
    expect(texts(plainViewer)).toEqual([]);
    const after = await getJson<SnapshotJson>(`${base}/snapshot.json`);
    expect(after.annotations.map((a) => [a.analyzer, a.seq, a.data])).toEqual([
      ['detector', seq, box],
      ['tracker', seq, { objects: [] }],
    ]);
    // Refused ones are counted too.
    expect(
      (await postAnnotation(`${base}/annotations`, { analyzer: 'detector', seq: seq + 10_000, data: {} }))
        .status,
    ).toBe(409);
    const stats = await getJson<{ annotations: unknown; clients: { protocol: string }[] }>(`${base}/stats`);
    expect(stats.annotations).toEqual({ accepted: 2, refused: 1, analyzers: ['detector', 'tracker'] });
    expect(stats.clients.map((c) => c.protocol).sort()).toEqual(['sse', 'ws']);
    // The event stream ends with the transmission, like a viewer.
    expect((await fetch(`${base}/transmission/stop`, { method: 'POST' })).status).toBe(200);
    await until(() => sse.ended);
    expect(sse.events.at(-1)).toEqual({ event: 'end', data: '{"type":"end","reason":"stopped"}' });
    for (const v of [viewer, passive, plainViewer, late]) v.ws.close();
  }, 30_000);

  it("SSE and WebSocket ?meta=1 carry a frame's metadata; a frame without metadata sends no event", async () => {
    server = await serve({ port: 0, httpPort: 0, streams: [{ name: 'cam', source: 'publisher' }] });
    const base = httpBase(server);
    const sse = recordSse(`${base}/streams/cam/events`);
    expect(await sse.status).toBe(200);
    const jpeg = await makeJpeg(64, 48, 1);
    const body = Buffer.concat([
      part('application/json', Buffer.from('{"objects":[{"box":[1,2,3,4],"label":"x"}]}'), 'b'),
      part('image/jpeg', jpeg, 'b'),
      part('image/jpeg', jpeg, 'b'),
    ]);
    const res = await fetch(`${base}/streams/cam/publish`, { method: 'POST', body });
    expect(res.status).toBe(200);
    await until(() => sse.events.length >= 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(sse.events.map((e) => e.event)).toEqual(['meta']);
    expect(JSON.parse(sse.events[0]?.data ?? '')).toMatchObject({
      type: 'meta',
      data: { objects: [{ box: [1, 2, 3, 4], label: 'x' }] },
    });
    sse.req.destroy();
  }, 30_000);

  it('refusals: 401 token, 403 cross-origin, 404 unknown stream, 409 unknown seq, 413, 400, 429 flood', async () => {
    server = await serve({
      port: 0,
      httpPort: 0,
      streams: [
        { name: 'cam', source: 'test', width: 160, fps: 1, readToken: 'read-1', annotateToken: 'ann-1' },
        { name: 'open', source: 'test', width: 160, fps: 1, maxMetaBytes: 1000 },
      ],
    });
    const base = httpBase(server);
    const cam = `${base}/streams/cam/annotations`;
    const open = `${base}/streams/open/annotations`;
    const auth = (t: string): Record<string, string> => ({ Authorization: `Bearer ${t}` });
    // Viewers keep both transmissions (and so their recent frames) going.
    const ws = base.replace('http', 'ws');
    const viewers = [recordWs(`${ws}/streams/open/ws`), recordWs(`${ws}/streams/cam/ws?token=read-1`)];
    for (const v of viewers) {
      await v.opened;
      await until(() => v.messages.length > 0);
    }
    const snap = await getJson<SnapshotJson>(`${base}/streams/open/snapshot.json`);
    const seq = snap.seq;
    const camSnap = await getJson<SnapshotJson>(`${base}/streams/cam/snapshot.json?token=read-1`);
    const ok = { analyzer: 'a1', seq: camSnap.seq, data: box };
    expect((await postAnnotation(cam, ok)).status).toBe(401);
    // A readToken only watches.
    expect((await postAnnotation(cam, ok, auth('read-1'))).status).toBe(401);
    expect((await postAnnotation(cam, ok, auth('ann-1'))).status).toBe(202);
    const cross = await postAnnotation(
      open,
      { analyzer: 'a1', seq, data: {} },
      { Origin: 'http://evil.example' },
    );
    expect([cross.status, cross.text]).toEqual([403, 'cross-origin request refused\n']);
    const none = await postAnnotation(`${base}/streams/nope/annotations`, ok);
    expect([none.status, none.text]).toEqual([404, 'no stream named nope\n']);
    const unknown = await postAnnotation(open, { analyzer: 'a1', seq: seq + 5000, data: {} });
    expect([unknown.status, unknown.text]).toEqual([
      409,
      `seq ${seq + 5000} is not one of the stream's recent frames\n`,
    ]);
    const tooBig = await postAnnotation(open, { analyzer: 'a1', seq, data: { p: 'x'.repeat(3000) } });
    expect(tooBig.status).toBe(413);
    expect(tooBig.text).toMatch(/over 2024 bytes/);
    // Within the body's slack but over maxMetaBytes: the book's 413.
    const dataTooBig = await postAnnotation(open, { analyzer: 'a1', seq, data: { p: 'x'.repeat(1200) } });
    expect([dataTooBig.status, dataTooBig.text]).toEqual([413, 'metadata of 1208 bytes is over 1000\n']);
    for (const [body, why] of [
      ['{nope', /not JSON/],
      [{ analyzer: 'a1', data: {} }, /exactly one of "seq" and "capturedAt"/],
      [{ analyzer: 'a1', seq: -1, data: {} }, /"seq" must be an integer/],
      [{ analyzer: 'a1', seq }, /"data" is missing/],
      [{ analyzer: 'a1', seq, data: [1] }, /must be a JSON object/],
      [{ analyzer: '<b>', seq, data: {} }, /analyzer name/],
    ] as const) {
      const r = await postAnnotation(open, body);
      expect([r.status, r.text]).toEqual([400, expect.stringMatching(why)]);
    }
    // A flood: 10 at once, then 2 per frame (1 fps here): 40 at once cannot all pass.
    const flood = await Promise.all(
      Array.from({ length: 40 }, () => postAnnotation(open, { analyzer: 'flood', seq, data: {} })),
    );
    const statuses = flood.map((r) => r.status);
    expect(statuses.filter((s) => s === 202).length).toBeGreaterThanOrEqual(10);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(10);
    expect(flood.find((r) => r.status === 429)?.text).toBe(
      'analyzer flood sends more than 2 annotations per frame\n',
    );
    for (const v of viewers) v.ws.close();
  }, 30_000);

  it('with a server token, an unknown stream is 401 to a request without it (names are not disclosed)', async () => {
    server = await serve({ port: 0, httpPort: 0, token: 'server-1', source: 'test', width: 160, fps: 5 });
    const base = httpBase(server);
    const body = { analyzer: 'a', seq: 0, data: {} };
    expect((await postAnnotation(`${base}/streams/nope/annotations`, body)).status).toBe(401);
    const r = await postAnnotation(`${base}/streams/nope/annotations`, body, {
      Authorization: 'Bearer server-1',
    });
    expect(r.status).toBe(404);
  }, 30_000);
});
