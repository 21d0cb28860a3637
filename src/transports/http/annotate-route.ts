import type http from 'node:http';
import type { Access, Refusal } from '../../access/access.js';
import { annotationJson, type FrameRef } from '../../meta/annotations.js';
import { askAccess, originAllowed } from './auth.js';
import type { HttpStreams } from './http-server-types.js';
import { NO_CACHE, peerOf, sendText } from './respond.js';
import { noSuchStream } from './stream-http.js';

/** Room in an annotation's body beyond its data (analyzer, seq or capturedAt, the keys). */
export const ANNOTATION_BODY_SLACK = 1024;

/** What POST /streams/NAME/annotations needs of the HTTP server. */
export interface AnnotateRouteContext {
  streams: HttpStreams;
  access: Access;
  allowOrigin: string | null;
  cors: Readonly<Record<string, string>>;
  /** Answers a refusal (401, 403, 429; and logs it). */
  refuse: (refusal: Refusal) => void;
  onRefused: (address: string, reason: string) => void;
}

/** A parsed annotation body, or why it is not one. */
type Parsed =
  | { readonly analyzer: string; readonly ref: FrameRef; readonly data: unknown }
  | { readonly problem: string };

/** `{"analyzer": NAME, "seq": N | "capturedAt": T, "data": {...}}`, checked field by field. */
export function parseAnnotationBody(text: string): Parsed {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return { problem: `the body is not JSON: ${(err as Error).message}` };
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    return { problem: 'the body must be a JSON object {"analyzer", "seq" or "capturedAt", "data"}' };
  const b = body as Record<string, unknown>;
  if (typeof b.analyzer !== 'string') return { problem: '"analyzer" must be a string' };
  if (!('data' in b)) return { problem: '"data" is missing (the annotation, a JSON object)' };
  const hasSeq = 'seq' in b;
  if (hasSeq === 'capturedAt' in b) return { problem: 'give exactly one of "seq" and "capturedAt"' };
  if (hasSeq) {
    const seq = b.seq;
    if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0 || seq > 0xffffffff)
      return { problem: '"seq" must be an integer 0..4294967295' };
    return { analyzer: b.analyzer, ref: { seq }, data: b.data };
  }
  const at = b.capturedAt;
  if (typeof at !== 'number' || !Number.isFinite(at))
    return { problem: '"capturedAt" must be a number (ms, as the frame carried it)' };
  return { analyzer: b.analyzer, ref: { capturedAt: at }, data: b.data };
}

/**
 * POST /streams/NAME/annotations: an analyzer's annotation of a recent frame, sent on to every viewer
 * that asked for annotations. A same-origin request (or --allow-origin's) with the stream's
 * annotateToken or the server's; an unknown stream is named only to a request that may see every
 * stream. 202 with the annotation as viewers get it; 400 bad body, 401 token, 403 cross-origin,
 * 404 no such stream, 409 not a recent frame, 413 too large, 429 over the rate or too many analyzers.
 */
export async function routeAnnotate(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  name: string | null,
  ctx: AnnotateRouteContext,
): Promise<void> {
  const refuse = (status: number, text: string): void => {
    if (req.complete) return sendText(res, status, text, ctx.cors);
    // Refused before the body was read: say so and stop reading it.
    ctx.onRefused(peerOf(req), `HTTP annotation for ${name ?? 'default'}: ${text}`);
    sendText(res, status, text, { ...ctx.cors, Connection: 'close' });
    setImmediate(() => req.destroy());
  };
  if (!originAllowed(req, ctx.allowOrigin)) return refuse(403, 'cross-origin request refused');
  const decision = await askAccess(
    ctx.access,
    req,
    url,
    'annotate',
    name ?? ctx.streams.get(name)?.name ?? null,
    ctx.streams.get(name),
  );
  // Decided after a wait: the stream is looked up again.
  const target = ctx.streams.get(name);
  if (!decision.allowed) {
    req.resume();
    if (decision.refusal === 'unknown-stream') return noSuchStream(res, name ?? 'default', ctx.cors);
    return ctx.refuse(decision.refusal);
  }
  if (!target) return noSuchStream(res, name ?? 'default', ctx.cors);
  const hub = target.hub;
  const cap = hub.annotations.maxBytes + ANNOTATION_BODY_SLACK;
  const tooLarge = `the body is over ${cap} bytes (the stream's maxMetaBytes + ${ANNOTATION_BODY_SLACK})`;
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > cap) return refuse(413, tooLarge);
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  req.on('data', (chunk: Buffer) => {
    if (refused) return;
    size += chunk.length;
    if (size > cap) {
      refused = true;
      return refuse(413, tooLarge);
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (refused) return;
    const parsed = parseAnnotationBody(Buffer.concat(chunks).toString('utf8'));
    if ('problem' in parsed) return refuse(400, parsed.problem);
    const a = hub.annotate(parsed.analyzer, parsed.ref, parsed.data);
    if ('refused' in a) return refuse(a.status, a.problem);
    const body = Buffer.from(annotationJson(a) + '\n', 'utf8');
    res.writeHead(202, {
      ...ctx.cors,
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': body.length,
      ...NO_CACHE,
    });
    res.end(body);
  });
}
