/**
 * POST /streams/NAME/publish answers what the body held (docs/PROTOCOL.md): a body of bytes with no
 * JPEG in it, or one that ends inside an image, is 400 with the reason, not "200 0 frames received".
 */
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { serve, type FramecastServer } from '../../src/app/serve.js';
import { httpBase } from '../http/support.js';

let server: FramecastServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function post(body: Buffer, contentType?: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`${httpBase(server!)}/streams/cam/publish`, {
    method: 'POST',
    headers: contentType ? { 'Content-Type': contentType } : {},
    body,
  });
  return { status: r.status, text: await r.text() };
}

describe('HTTP publish bodies', () => {
  it('no JPEG in the body, or a body that ends inside one: 400 with the reason; whole images: 200', async () => {
    server = await serve({ port: 0, httpPort: 0, streams: [{ name: 'cam', source: 'publisher' }] });
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#468' } })
      .jpeg()
      .toBuffer();
    const multipart = (parts: [string, Buffer][]): Buffer =>
      Buffer.concat([
        ...parts.flatMap(([type, data]) => [
          Buffer.from(`--xx\r\nContent-Type: ${type}\r\nContent-Length: ${data.length}\r\n\r\n`),
          data,
          Buffer.from('\r\n'),
        ]),
        Buffer.from('--xx--\r\n'),
      ]);
    const mixed = 'multipart/x-mixed-replace; boundary=xx';

    const text = await post(multipart([['text/plain', Buffer.from('hello world')]]), mixed);
    expect(text.status).toBe(400);
    expect(text.text).toMatch(/^part 1 is text\/plain, not image\/jpeg/);
    // A part that is not an image after two that are: 400 (it used to be "200 2 frames received"),
    // the frames before it were delivered.
    let delivered = 0;
    server.streams.get('cam')?.ingest?.on('frame', () => delivered++);
    const late = await post(
      multipart([
        ['image/jpeg', jpeg],
        ['image/jpeg', jpeg],
        ['text/plain', Buffer.from('hello world')],
      ]),
      mixed,
    );
    expect(late.status).toBe(400);
    expect(late.text).toMatch(/^part 3 is text\/plain, not image\/jpeg .* \(after 2 frames\)$/m);
    expect(delivered).toBe(2);

    const raw = await post(Buffer.from('hello world'));
    expect(raw.status).toBe(400);
    expect(raw.text).toMatch(/holds no JPEG \(11 bytes\)/);

    const cut = await post(Buffer.concat([jpeg, jpeg.subarray(0, 100)]));
    expect(cut.status).toBe(400);
    expect(cut.text).toMatch(/ended inside an image/);

    const ok = await post(
      multipart([
        ['image/jpeg', jpeg],
        ['image/jpeg', jpeg],
      ]),
      mixed,
    );
    expect(ok).toEqual({ status: 200, text: '2 frames received\n' });
    // An empty body sent nothing wrong: nothing to take.
    expect(await post(Buffer.alloc(0))).toEqual({ status: 200, text: '0 frames received\n' });
  }, 30_000);
});
