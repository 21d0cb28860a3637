import { serve, connect, createPublisher } from 'framecast';

// Stream frames your program computes: here a grey level that changes, as raw RGB pixels.
const publisher = createPublisher({ quality: 80 });
const width = 320;
const height = 240;
const pixels = Buffer.alloc(width * height * 3);
let timer = null;
publisher.on('start', () => {
  // Someone is watching: compute and publish (publishing while nobody watches is a no-op).
  timer = setInterval(() => {
    pixels.fill((Date.now() / 10) % 256);
    void publisher.publishRaw(pixels, { width, height });
  }, 33);
});
publisher.on('stop', () => clearInterval(timer));
const server = await serve({ publisher, port: 0 });

for await (const frame of connect(`127.0.0.1:${server.address().port}`)) {
  console.log(`#${frame.seq} ${frame.width}x${frame.height}`);
  if (frame.seq === 4) break;
}
await server.close();
