import type { TokenCheck } from '../util/token.js';
import type { AuthSettings } from './auth-settings.js';
import type { Identity, PermissionAction } from './permissions.js';

/**
 * What a request asks to do:
 * - `read`: watch a stream live (every viewer transport: seed TCP, native, MJPEG, snapshot, WebSocket, SSE);
 * - `playback`: watch a stream's recordings (playback, a snapshot at a time, export, listings);
 * - `publish`: feed a stream whose source is `publisher` (native TCP, HTTP POST);
 * - `annotate`: send analyzers' annotations of a stream's frames;
 * - `record`: turn a stream's recording on or off;
 * - `operate`: act for the server on one stream (stop its transmission, see its viewers' addresses);
 * - `metrics`: /stats, /metrics and the grid of every stream;
 * - `api`: the API's reading endpoints;
 * - `admin`: change the set of streams (the API's PUT and DELETE).
 */
export type Action =
  'read' | 'playback' | 'publish' | 'annotate' | 'record' | 'operate' | 'metrics' | 'api' | 'admin';

/**
 * Why a request is refused. `unknown-stream` is told only to a request that may see every stream (or
 * would be allowed on that name); any other request for a name that does not exist is refused as for
 * its credentials, so names cannot be probed. `disabled`: the action is off on this server (API
 * writes without an admin token or an `auth:` section). `forbidden`: who the request is is known, and
 * they may not do this. `rate-limited`: the address failed to log in too often.
 */
export type Refusal =
  'token-required' | 'token-invalid' | 'unknown-stream' | 'disabled' | 'forbidden' | 'rate-limited';

/** The outcome of one access decision. */
export type Decision = { readonly allowed: true } | { readonly allowed: false; readonly refusal: Refusal };

/** What access needs of a stream (a Stream is one): its name and its own tokens. */
export interface Guarded {
  readonly name?: string;
  /** The token that opens this stream to viewers (or its salted digest, on an edge), or null. */
  readonly readToken: TokenCheck | null;
  /** The token its publisher presents, or null. */
  readonly publishToken?: string | null;
  /** The token its analyzers present (it also reads the stream), or null. */
  readonly annotateToken?: string | null;
}

/** The credentials a request carries; each null when absent. */
export interface Credentials {
  /** A token: the server's, a stream's, a JWT, a signed link; over native, also `USER:PASSWORD`. */
  readonly token: string | null;
  /** HTTP Basic's user and password. */
  readonly user: string | null;
  readonly password: string | null;
}

/** Which transport asks (for the HTTP hook and logs). */
export type Protocol = 'seed' | 'native' | 'http' | 'websocket';

/** One request to decide. */
export interface AccessRequest {
  readonly action: Action;
  /** The stream's name as asked (null: none, or a server-wide action). */
  readonly name: string | null;
  /** The stream of that name, or null when there is none. */
  readonly stream: Guarded | null;
  readonly credentials: Credentials;
  /** The client's address as the socket gives it. */
  readonly ip: string;
  readonly protocol: Protocol;
}

/**
 * What verifies tokens beyond the server's own: JWTs, signed links, the HTTP hook. Each is optional;
 * `identify` returns null when the token is not of its kind.
 */
export interface TokenVerifier {
  identify(token: string): Promise<{ ok: true; identity: Identity } | { ok: false; reason: string } | null>;
}

export interface AuthHookAsk {
  ask(req: {
    user: string | null;
    password: string | null;
    token: string | null;
    ip: string;
    action: PermissionAction;
    stream: string | null;
    protocol: string;
  }): Promise<boolean>;
}

/** The server's credentials. */
export interface AccessSettings {
  /** The server's token: opens every stream and every action but `admin`; null when none is set. */
  readonly token: string | null;
  /** The admin token: `admin`, `operate` and `record`; null: no token for API writes. */
  readonly adminToken?: TokenCheck | null;
  /** The `auth:` section (users, anonymous, ...); null: tokens only, as without it. */
  readonly auth?: AuthSettings | null;
  /** JWT and signed-link verifiers, tried in order on a token no server token matches. */
  readonly verifiers?: readonly TokenVerifier[];
  /** The HTTP hook, asked when nothing else allows a request. */
  readonly hook?: AuthHookAsk | null;
  /** One line per failed login: the address and what failed (never the secret). */
  readonly log?: (address: string, reason: string) => void;
}
