// A framecast analyzer in Node: watches a stream, finds the brightest 32x32 block of each frame (a
// stand-in for a real detector), and annotates the frame with it, so every viewer that asks for
// annotations gets {"objects":[{"box":[x,y,32,32],"label":"brightest","score":0..1}]} tagged with
// that frame's seq. Usage: node examples/annotate.mjs HOST:PORT[/STREAM] [FRAMES]
// (the stream's annotateToken, or the server's token, in FRAMECAST_TOKEN when the server has tokens).
import sharp from 'sharp';
import { connect } from 'framecast';

const [address = '127.0.0.1:9999', frames = '0'] = process.argv.slice(2);
const BLOCK = 32;

/** The brightest BLOCK x BLOCK block of a JPEG (on a grid), in the frame's pixels. */
async function brightest(jpeg) {
  const { data, info } = await sharp(jpeg).greyscale().raw().toBuffer({ resolveWithObject: true });
  let best = { x: 0, y: 0, sum: -1 };
  for (let y = 0; y + BLOCK <= info.height; y += BLOCK) {
    for (let x = 0; x + BLOCK <= info.width; x += BLOCK) {
      let sum = 0;
      for (let row = y; row < y + BLOCK; row++)
        for (let i = row * info.width + x, end = i + BLOCK; i < end; i++) sum += data[i];
      if (sum > best.sum) best = { x, y, sum };
    }
  }
  const score = Math.round((best.sum / (BLOCK * BLOCK * 255)) * 1000) / 1000;
  return { box: [best.x, best.y, BLOCK, BLOCK], label: 'brightest', score };
}

const stream = connect(address, {
  token: process.env.FRAMECAST_TOKEN || null,
  protocol: 'native',
  annotate: true,
});
stream.onAnnotationRefused((r) => console.error(`annotate: refused (${r.status}): ${r.message}`));
let n = 0;
for await (const frame of stream) {
  const object = await brightest(frame.jpeg);
  stream.annotate(frame, 'brightest', { objects: [object] });
  console.log(JSON.stringify({ seq: frame.seq, box: object.box, score: object.score }));
  if (++n === Number(frames)) break;
}
