/**
 * The client side of per-frame metadata and annotations (docs/PROTOCOL.md, "Metadata and
 * annotations"): the hello bits a client asks for, the META messages it receives (a frame's metadata
 * just before its FRAME, analyzers' annotations whenever they come), and the annotations it sends.
 * Everything a user hands in is checked here, before a byte goes out, with the server's own rules.
 */
import { FramecastError } from '../errors.js';
import { DEFAULT_MAX_META_BYTES, checkMetaValue } from '../meta/meta-json.js';
import { HelloFlag, MetaKind, StatusCode, encodeMeta } from '../protocol/native.js';
import type { NativeMessage } from '../protocol/native-parser.js';

/** A frame's metadata or an annotation: one JSON object, parsed. */
export type MetaObject = { [key: string]: unknown };

/** An analyzer's annotation of a frame, as a viewer receives it. */
export interface FrameAnnotation {
  /** The analyzer's name. */
  analyzer: string;
  /** The frame it belongs to: the `seq` of a frame on this connection. */
  seq: number;
  /** The frame's capture time (server clock, ms), as in its FRAME. */
  capturedAt: number;
  /** The annotation itself. */
  data: MetaObject;
}

/** The server refused an annotation this client sent (STATUS 4); the connection goes on. */
export interface AnnotationRefusal {
  /** The HTTP status of the same refusal: 400 bad name or JSON, 409 not a recent frame, 413, 429. */
  status: number;
  message: string;
}

/** What a client asks for in its hello (StreamClientOptions / RemotePublisherOptions). */
export interface MetaWants {
  /** Receive each frame's metadata as `frame.meta` (a viewer). */
  meta?: boolean;
  /** Receive analyzers' annotations (`annotation` events). */
  annotations?: boolean;
  /** Send annotations with `annotate()` (takes the stream's annotateToken or the server's token). */
  annotate?: boolean;
  /** Largest metadata or annotation this client sends, in bytes of JSON (default 65536, the server's default). */
  maxMetaBytes?: number;
}

/** Analyzer names (the server's rule). */
const ANALYZER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** The hello flag bits for what `wants` asks. */
export function metaHelloFlags(wants: MetaWants): number {
  return (
    (wants.meta ? HelloFlag.Meta : 0) |
    (wants.annotations ? HelloFlag.Annotations : 0) |
    (wants.annotate ? HelloFlag.Annotate : 0)
  );
}

/** `value` as checked compact JSON bytes; a FramecastError (ERR_BAD_META) says why it cannot be sent. */
export function metaJson(value: unknown, maxBytes = DEFAULT_MAX_META_BYTES, what = 'metadata'): Buffer {
  const checked = checkMetaValue(value, maxBytes);
  if ('problem' in checked)
    throw new FramecastError(
      'ERR_BAD_META',
      `${what} not sent: ${checked.problem.replace(/^metadata /, '')}`,
    );
  return checked.json;
}

/** The parsed JSON object of a META body, or null when it is not one (a server bug: ignored). */
function parseObject(json: Buffer): MetaObject | null {
  try {
    const v: unknown = JSON.parse(json.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as MetaObject) : null;
  } catch {
    return null;
  }
}

/** Where a MetaChannel reports what it received. */
export interface MetaChannelHandlers {
  annotation(a: FrameAnnotation): void;
  refused(r: AnnotationRefusal): void;
}

/**
 * One connection's metadata and annotations: pairs a META (kind 1) with the FRAME right after it,
 * keeps each analyzer's newest annotation, and builds the annotations the client sends.
 */
export class MetaChannel {
  readonly #wants: MetaWants;
  readonly #on: MetaChannelHandlers;
  readonly #where: string;
  /** The hello bits the server's WELCOME echoed (0 before it, and over the seed framing). */
  #honoured = 0;
  #welcomed = false;
  /** A frame's metadata, waiting for its FRAME (which follows at once). */
  #pending: { seq: number; json: Buffer } | null = null;
  readonly #latest = new Map<string, FrameAnnotation>();

  constructor(wants: MetaWants, where: string, handlers: MetaChannelHandlers) {
    this.#wants = wants;
    this.#where = where;
    this.#on = handlers;
  }

  /** The hello flag bits to add. */
  get helloFlags(): number {
    return metaHelloFlags(this.#wants);
  }

  /** Each analyzer's newest annotation received on this connection. */
  get latest(): ReadonlyMap<string, FrameAnnotation> {
    return this.#latest;
  }

  /** The WELCOME arrived with these flags (the bits the server honours). */
  welcome(flags: number): void {
    this.#honoured = flags;
    this.#welcomed = true;
  }

  /** True when the server agreed to take annotations from this client. */
  get canAnnotate(): boolean {
    return (this.#honoured & HelloFlag.Annotate) !== 0;
  }

  /** A META from the server. */
  message(m: Extract<NativeMessage, { type: 'meta' }>): void {
    if (m.kind === MetaKind.Metadata) {
      this.#pending = { seq: m.seq, json: m.json };
      return;
    }
    if (m.kind !== MetaKind.Annotation) return;
    const data = parseObject(m.json);
    if (data === null) return;
    const a: FrameAnnotation = { analyzer: m.name, seq: m.seq, capturedAt: m.capturedAt, data };
    this.#latest.set(a.analyzer, a);
    this.#on.annotation(a);
  }

  /** The metadata of the FRAME `seq` that just arrived: the META just before it with the same seq, or null. */
  frameMeta(seq: number): MetaObject | null {
    const p = this.#pending;
    this.#pending = null;
    return p !== null && p.seq === seq ? parseObject(p.json) : null;
  }

  /** A STATUS from the server: true when it was an annotation refusal (reported). */
  status(code: number, value: number, message: string): boolean {
    if (code !== StatusCode.AnnotationRefused) return false;
    this.#on.refused({ status: value, message });
    return true;
  }

  /**
   * The META message annotating frame `target` as `analyzer`. Throws ERR_INVALID_STATE when the
   * server did not agree to annotations (or before the WELCOME), ERR_BAD_META for a bad name or data.
   */
  annotation(target: number | { seq: number }, analyzer: string, data: unknown): Buffer {
    const seq = typeof target === 'number' ? target : target.seq;
    if (!Number.isInteger(seq) || seq < 0 || seq > 0xffffffff)
      throw new RangeError(`annotate() needs a frame or its seq (0..2^32-1), got ${String(seq)}`);
    if (!ANALYZER_NAME.test(analyzer))
      throw new FramecastError(
        'ERR_BAD_META',
        `analyzer name ${JSON.stringify(analyzer)} is not [A-Za-z0-9][A-Za-z0-9_.-]{0,63}`,
      );
    const json = metaJson(data, this.#wants.maxMetaBytes, 'annotation');
    if (!this.#wants.annotate)
      throw new FramecastError('ERR_INVALID_STATE', 'annotate() needs the client option { annotate: true }');
    if (!this.canAnnotate)
      throw new FramecastError(
        'ERR_INVALID_STATE',
        !this.#welcomed
          ? `not connected to ${this.#where} (or no native welcome yet): cannot annotate`
          : `${this.#where} does not take annotations (an older framecast)`,
      );
    return encodeMeta({ seq, kind: MetaKind.Annotation, name: analyzer, capturedAt: 0, json });
  }
}
