import type { Registry } from 'prom-client';
import type { RecordingsLookup } from './recordings-http.js';
import type { Access } from '../../access/access.js';
import type { Subscriber } from '../../hub/subscriber.js';
import type { IpLimiter } from '../ip-limiter.js';
import type { TlsCredentials } from '../tls-config.js';
import type { StreamApi } from './api.js';
import type { StatsReport } from './stats.js';
import type { HttpStreamTarget } from './stream-http.js';

/** The streams the HTTP transport serves (a StreamRegistry is one). */
export interface HttpStreams {
  /** The stream called `name`; null gives the default stream. */
  get(name: string | null): HttpStreamTarget | null;
  list(): HttpStreamTarget[];
  on(event: 'added' | 'removed', listener: (s: HttpStreamTarget) => void): unknown;
}

/** Options of the HTTP transport. */
export interface HttpServerOptions {
  host: string;
  port: number;
  /** The port was a default, not the user's: take a free one if it is busy. */
  portFallback?: boolean;
  streams: HttpStreams;
  /** Who may do what (the server's one access decision); tokens come as a Bearer header or ?token=. */
  access: Access;
  /** CORS: the origin allowed to read responses cross-site (`*` for any), null for none. */
  allowOrigin: string | null;
  startedAt: number;
  /** How long /snapshot.jpg waits for a first frame when nothing is being transmitted. */
  snapshotTimeoutMs?: number;
  /** Per-address connection cap shared with the other transports (--max-clients-per-ip). */
  limiter?: IpLimiter;
  /** A client must send its request headers within this time (slowloris guard; default 10 s). */
  headersTimeoutMs?: number;
  /** ...and its whole request within this time (default 30 s; streams are responses, not requests). */
  requestTimeoutMs?: number;
  /** Serve HTTPS (and WSS) with this certificate and key. */
  tls?: TlsCredentials | null;
  /** PUT/DELETE /api/streams/NAME (and GET of one stream); null: not offered. */
  api?: StreamApi | null;
  /** Recordings to list and play back (a Recordings); absent: no recording endpoints. */
  recordings?: RecordingsLookup | null;
  /** Adds the server's own series to /metrics (the hooks'), once, into its registry. */
  metrics?: (registry: Registry) => void;
}

/** Events of the HTTP transport. */
export interface HttpServerEvents {
  client: [sub: Subscriber];
  refused: [address: string, reason: string];
  /** The dashboard's "End transmission" was pressed (`stopped`: a transmission was running). */
  stop: [address: string, stopped: boolean];
}

/** /stats: the default stream's report at the top (as with one stream), and every stream's. */
export type ServerStatsReport = StatsReport & { streams: (StatsReport & { name: string })[] };

/** A request's stream and the path inside it: `/streams/cam/ws` -> cam, `ws`; `/ws` -> default, `ws`. */
export function splitStreamPath(pathname: string): { name: string | null; rest: string } {
  if (!pathname.startsWith('/streams/')) return { name: null, rest: pathname.slice(1) };
  const tail = pathname.slice('/streams/'.length);
  const i = tail.indexOf('/');
  return i < 0 ? { name: tail, rest: '' } : { name: tail.slice(0, i), rest: tail.slice(i + 1) };
}
