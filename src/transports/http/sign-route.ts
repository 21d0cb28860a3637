import type http from 'node:http';
import type { Access } from '../../access/access.js';
import type { PermissionAction } from '../../access/permissions.js';
import { LINK_ACTIONS, parseDuration } from '../../access/signed-link.js';
import { readBody } from './api.js';
import { askAccess, originAllowed, refusalResponse } from './auth.js';
import type { HttpStreams } from './http-server-types.js';
import { sendJson, sendText } from './respond.js';

/** What POST /api/sign needs of the HTTP server. */
export interface SignRouteContext {
  streams: HttpStreams;
  access: Access;
  allowOrigin: string | null;
  cors: Readonly<Record<string, string>>;
}

/** A signed link from the API lives at most this long (the CLI, which holds the secret, may go further). */
export const MAX_API_LINK_MS = 7 * 24 * 3600_000;
const MAX_SIGN_BODY = 4096;

/**
 * POST /api/sign `{"stream": NAME, "actions": ["read"], "expires": "15m"}`: a signed link for one
 * stream, made by someone who operates that stream (the `api` permission on it, the admin or the
 * server's token). 200 `{token, expiresAt, path}`; 400 a bad body; 401/403 access; 404 no such
 * stream; 409 no `auth.linkSecret`.
 */
export async function routeSign(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  ctx: SignRouteContext,
): Promise<void> {
  const { cors } = ctx;
  if (req.method !== 'POST')
    return sendText(res, 405, `method ${req.method} not allowed`, { ...cors, Allow: 'POST' });
  if (!originAllowed(req, ctx.allowOrigin)) return sendText(res, 403, 'cross-origin request refused', cors);
  const body = await readBody(req, MAX_SIGN_BODY);
  if (body === null)
    return sendText(res, 413, `the body is over ${MAX_SIGN_BODY} bytes`, { ...cors, Connection: 'close' });
  const asked = parseSignBody(body.toString('utf8'));
  if (typeof asked === 'string') return sendText(res, 400, asked, cors);
  const target = ctx.streams.get(asked.stream);
  const decision = await askAccess(ctx.access, req, url, 'operate', asked.stream, target);
  if (!decision.allowed && decision.refusal !== 'unknown-stream') {
    const r = refusalResponse(ctx.access, req, decision.refusal);
    return sendText(res, r.status, r.text, { ...cors, ...r.headers });
  }
  if (!target) return sendText(res, 404, `no stream named ${asked.stream}`, cors);
  const expiresAt = Date.now() + asked.ttlMs;
  const token = ctx.access.signLink({ stream: target.name, actions: asked.actions, expiresAt });
  if (token === null)
    return sendText(res, 409, 'signed links are off: set auth.linkSecret in the config file', cors);
  sendJson(
    res,
    200,
    {
      token,
      stream: target.name,
      actions: asked.actions,
      expiresAt: new Date(expiresAt).toISOString(),
      path: `/streams/${encodeURIComponent(target.name)}/?token=${encodeURIComponent(token)}`,
    },
    cors,
  );
}

/** The body, checked field by field, or a one-line problem. */
export function parseSignBody(
  text: string,
): { stream: string; actions: PermissionAction[]; ttlMs: number } | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return `the body is not JSON: ${(err as Error).message}`;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    return 'the body must be an object {stream, actions, expires}';
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (k !== 'stream' && k !== 'actions' && k !== 'expires')
      return `${k}: unknown field (stream, actions, expires)`;
  if (typeof o['stream'] !== 'string' || !/^[A-Za-z0-9_.-]{1,128}$/.test(o['stream']))
    return 'stream: required, a stream name';
  const list = o['actions'] ?? ['read'];
  if (!Array.isArray(list) || list.length === 0 || list.length > LINK_ACTIONS.length)
    return `actions: a list of ${LINK_ACTIONS.join(', ')}`;
  const actions: PermissionAction[] = [];
  for (const a of list) {
    if (typeof a !== 'string' || !(LINK_ACTIONS as readonly string[]).includes(a))
      return `actions: ${JSON.stringify(a)} is not one of ${LINK_ACTIONS.join(', ')}`;
    if (!actions.includes(a as PermissionAction)) actions.push(a as PermissionAction);
  }
  let ttlMs: number;
  const e = o['expires'];
  try {
    if (typeof e === 'number' && Number.isFinite(e) && e >= 1) ttlMs = e * 1000;
    else if (typeof e === 'string') ttlMs = parseDuration(e);
    else return 'expires: required, a duration such as "15m" or seconds';
  } catch (err) {
    return `expires: ${(err as Error).message}`;
  }
  if (ttlMs > MAX_API_LINK_MS)
    return 'expires: at most 7d from the API (framecast sign, which holds the secret, may go further)';
  return { stream: o['stream'], actions, ttlMs };
}
