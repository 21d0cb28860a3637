import { peerAddress } from '../peer.js';
import { FramecastError } from '../../errors.js';
import type { Hub } from '../../hub/hub.js';
import type { Subscriber } from '../../hub/subscriber.js';
import {
  HelloFlag,
  NATIVE_VERSION,
  ErrorCode,
  decodeHello,
  type Hello,
  type HelloPlayback,
  type HelloView,
  encodeError,
  encodePreamble,
  encodeWelcome,
} from '../../protocol/native.js';
import { nowMs } from '../../util/clock.js';
import type { Access, Action, Decision, Refusal } from '../../access/access.js';
import { NativeSubscriber } from './native-subscriber.js';
import { REFUSAL_FLUSH_MS, SERVER_NAME, readClientMessages, refusalWords } from './native-session.js';
import type { StreamTarget } from '../stream-target.js';
import { servePublisher, tcpPublisherConnection } from '../../ingest/publish/tcp-publisher.js';

export { NativeSubscriber } from './native-subscriber.js';
import type { NativeHandshake } from './tcp-server.js';

/** A stream as the native handshake needs it (a Stream is one). */
export type NativeTarget = StreamTarget;

/** Settings of the native handshake. */
export interface NativeHandshakeOptions {
  /** Who may read or publish which stream (the server's one access decision). */
  access: Access;
  /** The stream a hello asks for (null: the default stream), or null when there is no such stream. */
  resolve: (name: string | null) => NativeTarget | null;
  /** A client must complete its hello within this time (default 5000 ms). */
  helloTimeoutMs?: number;
  /** Hellos in progress at once (default 256); beyond it a new one is refused at once. */
  maxPending?: number;
  /**
   * A playback hello (flag Playback): a hub of its own that plays the stream's recording from the
   * asked time, or why there is none (ERROR NoRecording). Absent: the server plays nothing back.
   */
  playback?: (target: NativeTarget, req: HelloPlayback) => Promise<Hub | string>;
}

/**
 * Creates the hook TcpServer calls for a connection that opened with the native magic: reads the
 * hello (capped in size and time), checks version and token, answers WELCOME (with the server's clock
 * for the client's offset estimate) or ERROR and close. A refusal rejects with the reason, which the
 * TCP server logs; the token itself never appears in a message.
 */
export function createNativeHandshake(opts: NativeHandshakeOptions): NativeHandshake {
  const timeoutMs = opts.helloTimeoutMs ?? 5000;
  const maxPending = opts.maxPending ?? 256;
  let pending = 0;
  return (socket, firstBytes, upgrading = false) =>
    new Promise<{ sub: Subscriber; hub: Hub } | null>((resolve, reject) => {
      let buf = firstBytes;
      let done = false;
      // Each hello may take up to timeoutMs: bound how many slow ones can be held at once.
      const crowded = pending >= maxPending;
      pending++;
      const finish = (): void => {
        if (!done) pending--;
        done = true;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('close', onClose);
      };
      let version = 1;
      const refuse = (code: number, reason: string, errCode: 'ERR_AUTH' | 'ERR_PROTOCOL'): void => {
        if (done) return;
        finish();
        // Keep reading so unread input cannot turn our close into a reset that loses the ERROR.
        socket.on('data', () => {});
        const flushed = setTimeout(() => reject(new FramecastError(errCode, reason)), REFUSAL_FLUSH_MS);
        socket.end(Buffer.concat([encodePreamble(version), encodeError(code, reason)]), () => {
          clearTimeout(flushed);
          reject(new FramecastError(errCode, reason));
        });
      };
      const accept = (
        target: NativeTarget,
        receivedAt: number,
        flags: number,
        rest: Buffer,
        playback: Hub | null = null,
        view: HelloView | null = null,
      ): void => {
        finish();
        // A playback is lossless (every recorded frame, the clock held while the client is slow)
        // and takes no annotations: its frames are not the live stream's.
        const honoured =
          (playback
            ? flags & (HelloFlag.Ack | HelloFlag.Meta | HelloFlag.Annotations | HelloFlag.Playback)
            : flags & (HelloFlag.Ack | HelloFlag.Meta | HelloFlag.Annotations | HelloFlag.Annotate)) |
          (view ? HelloFlag.View : 0);
        if (playback)
          target = { name: target.name, hub: playback, lossless: true, readToken: null, hasRoom: () => true };
        // Another size or quality: the rendition's hub, shared by every viewer of it.
        const rendition = !playback && view ? target.renditions?.hubFor({ ...view, fps: null }) : undefined;
        if (rendition && rendition !== target.hub)
          target = {
            name: target.name,
            hub: rendition,
            lossless: false,
            readToken: null,
            hasRoom: () => true,
          };
        const sub = new NativeSubscriber(
          socket,
          peerAddress(socket),
          target,
          (honoured & HelloFlag.Ack) !== 0,
          {
            meta: (honoured & HelloFlag.Meta) !== 0,
            annotations: (honoured & HelloFlag.Annotations) !== 0,
            maxFps: view?.fps ?? null,
          },
        );
        socket.write(
          Buffer.concat([encodePreamble(version), encodeWelcome(receivedAt, nowMs(), SERVER_NAME, honoured)]),
        );
        const annotate = honoured & HelloFlag.Annotate;
        const book = target.hub.annotations;
        readClientMessages(socket, sub, rest, annotate ? { hub: target.hub, maxBytes: book.maxBytes } : null);
        resolve({ sub, hub: target.hub });
      };
      const check = (): void => {
        const receivedAt = nowMs();
        const r = decodeHello(buf);
        if (r.status === 'incomplete') return;
        if (r.status === 'error') {
          refuse(r.code, `bad hello: ${r.message}`, 'ERR_PROTOCOL');
          return;
        }
        const { hello } = r;
        // The connection speaks the lower of the two versions (a version-1 client sees what it always did).
        version = Math.max(1, Math.min(hello.version, NATIVE_VERSION));
        if (hello.version < 1) {
          refuse(
            ErrorCode.UnsupportedVersion,
            `unsupported native protocol version ${hello.version}`,
            'ERR_PROTOCOL',
          );
          return;
        }
        const publishing = (hello.flags & HelloFlag.Publish) !== 0;
        const action = publishing ? 'publish' : hello.playback ? 'playback' : 'read';
        const ask = (a: Action): Promise<Decision> => {
          const target = opts.resolve(hello.stream);
          return opts.access.authorize({
            action: a,
            name: hello.stream ?? target?.name ?? null,
            stream: target,
            credentials: { token: hello.token, user: null, password: null },
            ip: socket.remoteAddress ?? '',
            protocol: 'native',
          });
        };
        // More bytes wait while access decides (a JWT's keys, a password's hash, the HTTP hook).
        deciding = true;
        void (async () => {
          const decision = await ask(action);
          // A playback takes no annotations (its frames are not the live stream's): never asked.
          const annotate =
            decision.allowed && action === 'read' && hello.flags & HelloFlag.Annotate
              ? await ask('annotate')
              : null;
          return { decision, annotate };
        })().then(
          ({ decision, annotate }) => {
            if (!done) decided(hello, receivedAt, r.consumed, publishing, decision, annotate);
          },
          (err: unknown) =>
            refuse(ErrorCode.Internal, `access failed: ${(err as Error).message}`, 'ERR_PROTOCOL'),
        );
      };
      /** Goes on with a hello once access decided. */
      const decided = (
        hello: Hello,
        receivedAt: number,
        consumed: number,
        publishing: boolean,
        decision: Decision,
        annotate: Decision | null,
      ): void => {
        deciding = false;
        const target = opts.resolve(hello.stream);
        const name = hello.stream ?? 'default';
        if (!decision.allowed || !target) {
          refuseAccess(decision.allowed ? 'unknown-stream' : decision.refusal, name, publishing);
        } else if (publishing) {
          publisherHello(target, receivedAt, hello.flags, buf.subarray(consumed));
        } else if (annotate !== null && !annotate.allowed) {
          if (annotate.refusal === 'rate-limited') refuseAccess('rate-limited', name, false);
          else refuse(ErrorCode.TokenInvalid, `this token cannot annotate stream ${target.name}`, 'ERR_AUTH');
        } else if (hello.playback) {
          playbackHello(target, hello.playback, receivedAt, hello.flags, consumed);
        } else if (!upgrading && !target.hasRoom()) {
          refuse(ErrorCode.ServerFull, 'server full: no place and the waiting line is full', 'ERR_PROTOCOL');
        } else {
          accept(target, receivedAt, hello.flags, buf.subarray(consumed), null, hello.view);
        }
      };
      /** A playback hello: the recording's own hub, once the store found the time (the hello is held). */
      const playbackHello = (
        target: NativeTarget,
        req: HelloPlayback,
        receivedAt: number,
        flags: number,
        consumed: number,
      ): void => {
        if (!opts.playback) {
          refuse(ErrorCode.NoRecording, 'this server plays nothing back', 'ERR_PROTOCOL');
          return;
        }
        deciding = true;
        opts.playback(target, req).then(
          (hub) => {
            if (done) return;
            if (typeof hub === 'string') refuse(ErrorCode.NoRecording, hub, 'ERR_PROTOCOL');
            else accept(target, receivedAt, flags, buf.subarray(consumed), hub);
          },
          (err: unknown) =>
            refuse(ErrorCode.Internal, `playback failed: ${(err as Error).message}`, 'ERR_PROTOCOL'),
        );
      };
      /** An access refusal in the protocol's words (the token itself never appears). */
      const refuseAccess = (refusal: Refusal, name: string, publishing: boolean): void =>
        refuse(...refusalWords(refusal, name, publishing, opts.access.serverTokenSet));
      /** A publish hello that may publish: one publisher per stream, whose source is `publisher`. */
      const publisherHello = (
        target: NativeTarget,
        receivedAt: number,
        flags: number,
        rest: Buffer,
      ): void => {
        if (!target.ingest) {
          refuse(
            ErrorCode.NotPublishable,
            `stream ${target.name} takes no publisher (its source is not publisher)`,
            'ERR_PROTOCOL',
          );
          return;
        }
        const conn = tcpPublisherConnection(socket, peerAddress(socket));
        if (!target.ingest.claim(conn)) {
          refuse(ErrorCode.PublisherActive, `stream ${target.name} already has a publisher`, 'ERR_PROTOCOL');
          return;
        }
        finish();
        socket.write(
          Buffer.concat([
            encodePreamble(version),
            encodeWelcome(receivedAt, nowMs(), SERVER_NAME, HelloFlag.Publish | (flags & HelloFlag.Meta)),
          ]),
        );
        // A publisher whose hello set Meta may send each frame's metadata (the WELCOME said yes).
        const meta = flags & HelloFlag.Meta ? target.hub.annotations.maxBytes : null;
        servePublisher(socket, conn, target.ingest, rest, undefined, meta);
        resolve(null);
      };
      /** Access decides, or a playback's recording is being looked up: more bytes wait (ACKs). */
      let deciding = false;
      const onData = (chunk: Buffer): void => {
        // A hello is at most MAX_HELLO_BYTES (decodeHello refuses longer declared tokens), so this stays small.
        buf = Buffer.concat([buf, chunk]);
        if (!deciding) check();
        else if (buf.length > 64 * 1024)
          refuse(ErrorCode.BadMessage, 'too much sent before WELCOME', 'ERR_PROTOCOL');
      };
      const onClose = (): void => {
        if (done) return;
        finish();
        reject(new FramecastError('ERR_PROTOCOL', 'closed during the hello'));
      };
      const timer = setTimeout(
        () => refuse(ErrorCode.HandshakeTimeout, `no complete hello within ${timeoutMs} ms`, 'ERR_PROTOCOL'),
        timeoutMs,
      );
      socket.on('data', onData);
      socket.once('close', onClose);
      if (crowded) {
        refuse(ErrorCode.ServerFull, 'too many connections in handshake', 'ERR_PROTOCOL');
        return;
      }
      check();
      if (!done) socket.resume();
    });
}
