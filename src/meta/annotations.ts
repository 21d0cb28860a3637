import { checkMetaBytes, checkMetaValue } from './meta-json.js';

/** What an analyzer found in one frame, as every viewer receives it. */
export interface Annotation {
  /** The analyzer's name (`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`). */
  readonly analyzer: string;
  /** The frame it belongs to: its seq and capture time as viewers saw them. */
  readonly seq: number;
  readonly capturedAt: number;
  /** When the server took it (ms since the epoch, server clock). */
  readonly receivedAt: number;
  /** The annotation's JSON object, compact UTF-8. */
  readonly json: Buffer;
}

/** Analyzer names: the same rule as stream names. */
export const ANALYZER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Analyzers one stream keeps at once; a new name beyond it is refused until an old one falls silent. */
export const MAX_ANALYZERS = 16;
/** Frames that can still be annotated: the newest this many (10 s at 30 fps). */
export const RECENT_FRAMES = 300;
/** An analyzer silent for this long is forgotten (its place and its newest annotation). */
export const ANALYZER_IDLE_MS = 60_000;
/** Annotations an analyzer may send at once, and how many each new frame allows (2x the frame rate). */
export const ANNOTATION_BURST = 10;
export const ANNOTATIONS_PER_FRAME = 2;

/** Why an annotation was refused; `status` is the HTTP answer for it. */
export interface AnnotationRefusal {
  readonly refused: 'bad-analyzer' | 'bad-json' | 'unknown-frame' | 'rate' | 'analyzers';
  readonly status: number;
  readonly problem: string;
}

/** Which frame an annotation is for: its seq, or its capture time (ms, as viewers received it). */
export type FrameRef = { readonly seq: number } | { readonly capturedAt: number };

interface AnalyzerState {
  tokens: number;
  lastAt: number;
  newest: Annotation | null;
}

/** Counters for /stats. */
export interface AnnotationCounts {
  accepted: number;
  refused: number;
}

/**
 * A stream's annotations: the recent frames that can be annotated, each analyzer's newest
 * annotation (what a late joiner and a snapshot get), and each analyzer's rate (a token bucket that
 * each published frame refills by ANNOTATIONS_PER_FRAME, up to ANNOTATION_BURST). Bounded in frames,
 * analyzers and bytes.
 */
export class AnnotationBook {
  readonly #maxBytes: number;
  /** seq -> capturedAt of the newest RECENT_FRAMES frames of this transmission. */
  readonly #frames = new Map<number, number>();
  readonly #byCapture = new Map<number, number>();
  readonly #analyzers = new Map<string, AnalyzerState>();
  readonly counts: AnnotationCounts = { accepted: 0, refused: 0 };

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Cap on one annotation's JSON (and on a frame's metadata: the stream's maxMetaBytes). */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** A frame was published: it can be annotated from now on, and every analyzer may send 2 more. */
  frame(seq: number, capturedAt: number): void {
    this.#frames.set(seq, capturedAt);
    this.#byCapture.set(capturedAt, seq);
    if (this.#frames.size > RECENT_FRAMES) {
      const [oldSeq, oldAt] = this.#frames.entries().next().value as [number, number];
      this.#frames.delete(oldSeq);
      if (this.#byCapture.get(oldAt) === oldSeq) this.#byCapture.delete(oldAt);
    }
    for (const a of this.#analyzers.values())
      a.tokens = Math.min(ANNOTATION_BURST, a.tokens + ANNOTATIONS_PER_FRAME);
  }

  /** The transmission ended: its frames can no longer be annotated (seq restarts with the next one). */
  reset(): void {
    this.#frames.clear();
    this.#byCapture.clear();
    for (const a of this.#analyzers.values()) a.newest = null;
  }

  /** Each analyzer's newest annotation whose frame is still recent, oldest analyzer first. */
  newest(): Annotation[] {
    const out: Annotation[] = [];
    for (const a of this.#analyzers.values())
      if (a.newest && this.#frames.has(a.newest.seq)) out.push(a.newest);
    return out;
  }

  /**
   * Checks and files one annotation: `data` is JSON bytes (the wire) or a parsed value (an API body).
   * Returns the annotation to send to viewers, or why it was refused (counted; nothing else changes).
   */
  add(analyzer: string, ref: FrameRef, data: Buffer | unknown, now: number): Annotation | AnnotationRefusal {
    const r = this.#add(analyzer, ref, data, now);
    if ('refused' in r) this.counts.refused++;
    else this.counts.accepted++;
    return r;
  }

  #add(analyzer: string, ref: FrameRef, data: Buffer | unknown, now: number): Annotation | AnnotationRefusal {
    if (!ANALYZER_NAME.test(analyzer))
      return refusal('bad-analyzer', 400, 'an analyzer name is 1 to 64 of A-Z a-z 0-9 _ . - (not first)');
    const seq = 'seq' in ref ? ref.seq : this.#byCapture.get(ref.capturedAt);
    const capturedAt = seq === undefined ? undefined : this.#frames.get(seq);
    if (seq === undefined || capturedAt === undefined) {
      const which = 'seq' in ref ? `seq ${ref.seq}` : `capturedAt ${ref.capturedAt}`;
      return refusal('unknown-frame', 409, `${which} is not one of the stream's recent frames`);
    }
    const checked = Buffer.isBuffer(data)
      ? checkMetaBytes(data, this.#maxBytes)
      : checkMetaValue(data, this.#maxBytes);
    if ('problem' in checked)
      return refusal('bad-json', checked.problem.includes(' is over ') ? 413 : 400, checked.problem);
    const state = this.#state(analyzer, now);
    if (state === null)
      return refusal('analyzers', 429, `the stream already has ${MAX_ANALYZERS} analyzers; try again later`);
    if (state.tokens < 1)
      return refusal(
        'rate',
        429,
        `analyzer ${analyzer} sends more than ${ANNOTATIONS_PER_FRAME} annotations per frame`,
      );
    state.tokens--;
    state.lastAt = now;
    const a: Annotation = { analyzer, seq, capturedAt, receivedAt: now, json: checked.json };
    // An annotation for an older frame than the newest one kept does not replace it.
    if (state.newest === null || !this.#frames.has(state.newest.seq) || state.newest.capturedAt <= capturedAt)
      state.newest = a;
    return a;
  }

  #state(analyzer: string, now: number): AnalyzerState | null {
    const known = this.#analyzers.get(analyzer);
    if (known) return known;
    if (this.#analyzers.size >= MAX_ANALYZERS) {
      for (const [name, s] of this.#analyzers)
        if (now - s.lastAt > ANALYZER_IDLE_MS) this.#analyzers.delete(name);
      if (this.#analyzers.size >= MAX_ANALYZERS) return null;
    }
    const s: AnalyzerState = { tokens: ANNOTATION_BURST, lastAt: now, newest: null };
    this.#analyzers.set(analyzer, s);
    return s;
  }
}

function refusal(refused: AnnotationRefusal['refused'], status: number, problem: string): AnnotationRefusal {
  return { refused, status, problem };
}

/** The JSON viewers receive for an annotation (WebSocket text, SSE, HTTP answers). */
export function annotationJson(a: Annotation): string {
  return `{"type":"annotation","analyzer":${JSON.stringify(a.analyzer)},"seq":${a.seq},"capturedAt":${a.capturedAt},"data":${a.json.toString('utf8')}}`;
}
