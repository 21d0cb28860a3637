import { tokenMatches, tokenOpens, type TokenCheck } from '../util/token.js';

/**
 * What a request asks to do:
 * - `read`: watch a stream (every viewer transport: seed TCP, native, MJPEG, snapshot, WebSocket, pages);
 * - `publish`: feed a stream whose source is `publisher` (native TCP, HTTP POST);
 * - `annotate`: send analyzers' annotations of a stream's frames;
 * - `operate`: act for the server on one stream (stop its transmission, see its viewers' addresses);
 * - `server`: the server's own reading endpoints (/stats, /metrics, the API's GETs, the grid page);
 * - `admin`: change the set of streams (the API's PUT and DELETE).
 */
export type Action = 'read' | 'publish' | 'annotate' | 'operate' | 'server' | 'admin';

/**
 * Why a request is refused. `unknown-stream` is told only to a request that may see every stream;
 * any other request for a name that does not exist is refused as a missing or wrong token, so names
 * cannot be probed. `disabled`: the action is off on this server (API writes without an admin token).
 */
export type Refusal = 'token-required' | 'token-invalid' | 'unknown-stream' | 'disabled';

/** The outcome of one access decision. */
export type Decision = { readonly allowed: true } | { readonly allowed: false; readonly refusal: Refusal };

/** What access needs of a stream (a Stream is one): its own tokens. */
export interface Guarded {
  /** The token that opens this stream to viewers (or its salted digest, on an edge), or null. */
  readonly readToken: TokenCheck | null;
  /** The token its publisher presents, or null. */
  readonly publishToken?: string | null;
  /** The token its analyzers present (it also reads the stream), or null. */
  readonly annotateToken?: string | null;
}

/** The server's credentials. */
export interface AccessSettings {
  /** The server's token: opens every stream and every action but `admin`; null when none is set. */
  readonly token: string | null;
  /** The admin token: `admin` and `operate`; null: API writes are disabled. */
  readonly adminToken?: TokenCheck | null;
}

const ALLOWED: Decision = { allowed: true };

function refused(refusal: Refusal): Decision {
  return { allowed: false, refusal };
}

/**
 * The one access decision of the server: every transport (TCP, HTTP, WebSocket, publishing, the
 * API) asks `decide()` and only translates the answer into its own words (an HTTP status, a native
 * ERROR code). A presented token is a string from the request ('' and null both mean none).
 */
export class Access {
  readonly #token: string | null;
  readonly #admin: TokenCheck | null;

  constructor(settings: AccessSettings) {
    this.#token = settings.token;
    this.#admin = settings.adminToken ?? null;
  }

  /** True when the server has a token (every stream then needs one). */
  get serverTokenSet(): boolean {
    return this.#token !== null;
  }

  /** True when API writes are possible at all (an admin token is set). */
  get adminEnabled(): boolean {
    return this.#admin !== null;
  }

  /**
   * May `given` do `action` on `stream` (null: no stream of that name; ignored for `server` and
   * `admin`)?
   */
  decide(action: Action, stream: Guarded | null, given: string | null): Decision {
    const token = given === '' ? null : given;
    switch (action) {
      case 'server':
        return this.#opens(token, this.#token);
      case 'admin':
        if (this.#admin === null) return refused('disabled');
        return this.#isAdmin(token) ? ALLOWED : refused(token === null ? 'token-required' : 'token-invalid');
      case 'operate':
        if (this.#isAdmin(token)) return ALLOWED;
        if (stream === null) return this.#unknown(token);
        if (this.#token !== null) return this.#opens(token, this.#token);
        // With no server token, anyone operates a stream that anyone may watch; a readToken only watches.
        if (stream.readToken === null) return ALLOWED;
        return refused(token === null ? 'token-required' : 'token-invalid');
      case 'read':
        if (stream === null) return this.#unknown(token);
        if (this.#token === null && stream.readToken === null) return ALLOWED;
        // An analyzer watches what it annotates.
        return this.#opens(token, this.#token, stream.readToken, stream.annotateToken ?? null);
      case 'annotate':
        if (stream === null) return this.#unknown(token);
        if (this.#token === null && (stream.annotateToken ?? null) === null)
          // Nothing set: a stream open to everyone is open to annotations; a readToken is not enough.
          return stream.readToken === null
            ? ALLOWED
            : refused(token === null ? 'token-required' : 'token-invalid');
        return this.#opens(token, this.#token, stream.annotateToken ?? null);
      case 'publish':
        if (stream === null) return this.#unknown(token);
        return this.#opens(token, this.#token, stream.publishToken ?? null);
    }
  }

  /** A name that does not exist: said so to whoever may see every stream, else refused as for a token. */
  #unknown(token: string | null): Decision {
    const d = this.#opens(token, this.#token);
    return d.allowed ? refused('unknown-stream') : d;
  }

  #opens(token: string | null, ...guards: (TokenCheck | null)[]): Decision {
    if (tokenOpens(token, ...guards)) return ALLOWED;
    return refused(token === null ? 'token-required' : 'token-invalid');
  }

  #isAdmin(token: string | null): boolean {
    return this.#admin !== null && token !== null && tokenMatches(this.#admin, token);
  }
}
