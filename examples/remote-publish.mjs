import { serve, publish, connect } from 'framecast';

// A server with one stream fed by a remote publisher (here in the same process, for the example).
const server = await serve({ port: 0, streams: [{ name: 'cam', source: 'publisher' }] });
const address = `127.0.0.1:${server.address().port}/cam`;
const publisher = publish(address, { quality: 80 });
publisher.on('error', (err) => console.error(err.message));
const timer = setInterval(
  () => publisher.publishRaw(Buffer.alloc(320 * 240 * 3, Date.now() % 256), { width: 320, height: 240 }),
  33,
);

let n = 0;
for await (const frame of connect(address)) {
  if (frame.width === 320 && ++n === 3) break; // the first frames may be NO SIGNAL (800x450)
}
console.log(`received ${n} published frames`);
clearInterval(timer);
publisher.close();
await server.close();
