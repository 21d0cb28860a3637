/**
 * Machine-readable codes for every error framecast reports to a user or a caller (`ERR_...`). Not the
 * native protocol's numeric ERROR codes (protocol/native-layout.ts `ErrorCode`, exported by the
 * package as `NativeErrorCode`), which a server sends on the wire.
 */
export type FramecastErrorCode =
  | 'ERR_USAGE'
  | 'ERR_FFMPEG_NOT_FOUND'
  | 'ERR_SOURCE_NOT_FOUND'
  | 'ERR_SOURCE_INVALID'
  | 'ERR_SOURCE_NO_VIDEO'
  | 'ERR_SOURCE_FAILED'
  | 'ERR_ENCODE'
  | 'ERR_JPEG_STREAM'
  | 'ERR_JPEG_TOO_LARGE'
  | 'ERR_PORT_IN_USE'
  | 'ERR_LISTEN'
  | 'ERR_CONNECTION_REFUSED'
  | 'ERR_CONNECTION'
  | 'ERR_CONNECT_TIMEOUT'
  | 'ERR_TRUNCATED_FRAME'
  | 'ERR_FRAME_TOO_LARGE'
  | 'ERR_BAD_FRAME'
  | 'ERR_PROTOCOL'
  | 'ERR_AUTH'
  | 'ERR_SERVER_REFUSED'
  | 'ERR_PUBLISHER_ACTIVE'
  | 'ERR_UNKNOWN_STREAM'
  | 'ERR_INVALID_STATE'
  | 'ERR_OUTPUT'
  | 'ERR_TLS'
  | 'ERR_BAD_META'
  | 'ERR_RECORD_PATH';

/** The same as FramecastErrorCode (the name the package has always exported). */
export type ErrorCode = FramecastErrorCode;

/**
 * An error a user can act on: `message` is one line naming the thing, `code` is stable,
 * `exitCode` is what the CLI exits with (1 runtime, 2 usage).
 */
export class FramecastError extends Error {
  readonly code: FramecastErrorCode;
  readonly exitCode: 1 | 2;

  constructor(code: FramecastErrorCode, message: string, options?: { cause?: unknown; exitCode?: 1 | 2 }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FramecastError';
    this.code = code;
    this.exitCode = options?.exitCode ?? (code === 'ERR_USAGE' ? 2 : 1);
  }
}

/** A bad command line or option value: the CLI prints it and exits with code 2. */
export class UsageError extends FramecastError {
  constructor(message: string) {
    super('ERR_USAGE', message, { exitCode: 2 });
    this.name = 'UsageError';
  }
}

/** True for errors framecast raised on purpose (printed without a stack trace). */
export function isFramecastError(err: unknown): err is FramecastError {
  return err instanceof FramecastError;
}
