/**
 * framecast as a library: `serve()` a source or your own frames, `connect()` to a stream and iterate
 * its frames. Nothing here writes to stdout or stderr; servers report through events.
 */
export {
  serve,
  resolveServeOptions,
  FramecastServer,
  type ServeOptions,
  type ResolvedServeOptions,
  type ServerEvents,
} from './app/serve.js';
export { connect, FrameStream, type ConnectOptions } from './client/connect.js';
export {
  SessionClient,
  type SessionClientOptions,
  type SessionClientEvents,
  type ReconnectOptions,
} from './client/session-client.js';
export {
  StreamClient,
  type StreamClientOptions,
  type StreamClientEvents,
  type StreamFrame,
  type StreamEnd,
  type HandshakeInfo,
  type ProtocolChoice,
} from './client/stream-client.js';
export type { ClockEstimate } from './client/clock-sync.js';
export type { AnnotationRefusal, FrameAnnotation, MetaObject, MetaWants } from './client/frame-meta.js';
export { parseServerAddress, type ServerAddress } from './client/address.js';
export { createPublisher, Publisher, type PublisherOptions, type RawImage } from './hub/publisher.js';
export {
  publish,
  RemotePublisher,
  type RemotePublisherOptions,
  type RemotePublisherEvents,
  type PublishFrameOptions,
} from './client/remote-publisher.js';
export type { FrameProducer, ProducerEvents, SourceDescription } from './hub/producer.js';
export { Frame, type FrameInit } from './hub/frame.js';
export {
  FramecastError,
  UsageError,
  isFramecastError,
  type ErrorCode,
  type FramecastErrorCode,
} from './errors.js';
export {
  NATIVE_VERSION,
  MessageType,
  ErrorCode as NativeErrorCode,
  StatusCode,
  EndCode,
  HelloFlag,
  MetaKind,
  encodeHello,
  encodeNativeFrame,
  nativeFrameWire,
} from './protocol/native.js';
export { NativeParser, type NativeMessage } from './protocol/native-parser.js';
