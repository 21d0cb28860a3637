import { FramecastError } from '../errors.js';
import type { StreamConfigError } from '../streams/stream-options.js';

/**
 * A config file that cannot be read or is invalid. The message is one line,
 * `FILE:LINE: FIELD.PATH: problem`, and the CLI exits with code 2.
 */
export class ConfigError extends FramecastError {
  readonly file: string;
  readonly line: number | null;
  readonly field: string | null;
  constructor(file: string, line: number | null, field: string | null, problem: string, cause?: unknown) {
    const where = line === null ? file : `${file}:${line}`;
    const message = `${where}: ${field === null ? '' : `${field}: `}${problem}`.replace(
      /\s*[\r\n]+\s*/g,
      ' ',
    );
    super('ERR_USAGE', message, { exitCode: 2, cause });
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
    this.field = field;
  }
}

/** A StreamConfigError's problem without its field (the caller puts the full path in front). */
export function problemOf(err: StreamConfigError): string {
  const prefix = `${err.field}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

/** A path segment: a name as is, anything odd quoted (so a message stays one readable line). */
export function segment(name: string): string {
  return /^[A-Za-z0-9_.-]+$/.test(name) ? name : JSON.stringify(name);
}
