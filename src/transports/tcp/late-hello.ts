import type net from 'node:net';
import { agreesWithMagic, NATIVE_MAGIC } from '../../protocol/native.js';

const ignore = (): void => {};

/**
 * Reads what a connection served the seed framing writes. A seed client writes nothing, so 4 bytes
 * that spell the native magic are a framecast client whose hello came after the hello grace: the
 * socket is paused and `onHello` gets the bytes so far (the hello's start). Anything else is ignored
 * from then on; at most the first 4 bytes are looked at.
 */
export function watchLateHello(socket: net.Socket, onHello: (hello: Buffer) => void): void {
  let seen: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    if (agreesWithMagic(seen) && seen.length < NATIVE_MAGIC.length) return;
    socket.off('data', onData);
    if (!agreesWithMagic(seen)) {
      socket.on('data', ignore);
      return;
    }
    socket.pause();
    onHello(seen);
  };
  socket.on('data', onData);
}
