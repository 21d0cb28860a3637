import { serve, connect } from 'framecast';

const server = await serve({ source: 'test', port: 0 }); // ffmpeg's moving test pattern
const { port } = server.address();
for await (const frame of connect(`127.0.0.1:${port}`)) {
  const { seq, width, height, jpeg, latencyMs } = frame;
  console.log(`#${seq} ${width}x${height} ${jpeg.length} B, ${latencyMs.toFixed(1)} ms`);
  if (seq === 4) break; // leaving the loop closes the connection
}
await server.close();
