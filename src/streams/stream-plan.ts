import {
  DEFAULT_STREAM,
  takesPublishers,
  RECORD_FIELDS,
  type ResolvedStreamConfig,
} from './stream-options.js';
import { isLoopbackHost } from '../util/loopback.js';

/** Names given once, legacy ports not shared with each other or the main port (RangeError). */
export function checkStreamSet(list: readonly ResolvedStreamConfig[], mainPort: number): void {
  const names = new Set<string>();
  const ports = new Set<number>();
  for (const s of list) {
    if (names.has(s.name)) throw new RangeError(`streams: ${s.name} is given twice`);
    names.add(s.name);
    if (s.legacyPort !== null && s.legacyPort !== 0) {
      if (ports.has(s.legacyPort) || s.legacyPort === mainPort)
        throw new RangeError(
          `streams: ${s.name}'s legacyPort ${s.legacyPort} is already in use by this server`,
        );
      ports.add(s.legacyPort);
    }
  }
}

/** What a set of streams is checked against: the server's own settings. */
export interface StreamSetContext {
  /** The main TCP port (a legacyPort may not take it). */
  mainPort: number;
  host: string;
  /** The server's token, which opens every stream. */
  token: string | null;
  allowLegacy: boolean;
  allowAnonymousPublish: boolean;
}

/**
 * The one check of a set of streams, at start-up and for every change (API, reload): names given
 * once, legacy ports free and only where seed clients may be served, and no publisher stream that
 * anyone on the network could feed. Sources are checked as each stream opens (openStream).
 * Throws a RangeError naming the stream and the rule.
 */
export function checkStreams(list: readonly ResolvedStreamConfig[], ctx: StreamSetContext): void {
  if (list.length === 0) throw new RangeError('streams: at least one stream is needed');
  checkStreamSet(list, ctx.mainPort);
  for (const c of list)
    if (c.legacyPort !== null && refusesSeed(c, ctx.token, ctx.allowLegacy))
      throw new RangeError(
        `${c.name === DEFAULT_STREAM ? '' : `stream ${c.name}: `}legacyPort serves seed clients, which cannot present a token: set allowLegacy`,
      );
  checkPublishTokens(list, ctx.host, ctx.token, ctx.allowAnonymousPublish);
}

/**
 * A publisher stream reachable from the network needs a publish token (or the server's token), or
 * anyone could feed it: refused unless allowAnonymousPublish says so.
 */
export function checkPublishTokens(
  configs: readonly ResolvedStreamConfig[],
  host: string,
  token: string | null,
  allowAnonymous: boolean,
): void {
  if (allowAnonymous || token !== null || isLoopbackHost(host)) return;
  const open = configs.find((c) => takesPublishers(c.source) && c.publishToken === null);
  if (open)
    throw new RangeError(
      `stream ${open.name} takes publishers but has no publishToken, and the server listens on ${host}: set a publishToken (or allowAnonymousPublish)`,
    );
}

/** Seed clients cannot present a token: a stream that needs one refuses them unless allowLegacy. */
function refusesSeed(stream: ResolvedStreamConfig, token: string | null, allowLegacy: boolean): boolean {
  return (token !== null || stream.readToken !== null || stream.readTokenDigest != null) && !allowLegacy;
}

/** True when two resolved configs would run the same stream (then it is left alone on a reload). */
export function sameStream(a: ResolvedStreamConfig, b: ResolvedStreamConfig): boolean {
  // The same object first: an edge passes its unchanged streams' configs back as they are, and
  // stringifying 1000 of them on each change of a few was most of an edge's cost of a change.
  if (a === b) return true;
  // resolveStreamConfig builds every config with the same keys in the same order.
  return JSON.stringify(a) === JSON.stringify(b);
}

/** True when `a` and `b` differ in their recording settings only (no restart needed). */
export function sameButRecording(a: ResolvedStreamConfig, b: ResolvedStreamConfig): boolean {
  const strip = (c: ResolvedStreamConfig): Partial<ResolvedStreamConfig> => {
    const copy: Partial<ResolvedStreamConfig> = { ...c };
    for (const k of RECORD_FIELDS) delete copy[k];
    return copy;
  };
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}

/**
 * What a new list of streams changes: streams to add, to restart (changed), to retune (only their
 * recording settings changed: the stream and its viewers go on) and to remove.
 */
export interface StreamChanges {
  add: ResolvedStreamConfig[];
  restart: ResolvedStreamConfig[];
  retune: ResolvedStreamConfig[];
  remove: string[];
}

/** Compares the running streams' configs with a new list. */
export function diffStreams(
  running: readonly ResolvedStreamConfig[],
  next: readonly ResolvedStreamConfig[],
): StreamChanges {
  const now = new Map(running.map((c) => [c.name, c]));
  const wanted = new Set(next.map((c) => c.name));
  return {
    add: next.filter((c) => !now.has(c.name)),
    restart: next.filter((c) => {
      const cur = now.get(c.name);
      return cur !== undefined && !sameStream(cur, c) && !sameButRecording(cur, c);
    }),
    retune: next.filter((c) => {
      const cur = now.get(c.name);
      return cur !== undefined && !sameStream(cur, c) && sameButRecording(cur, c);
    }),
    remove: running.filter((c) => !wanted.has(c.name)).map((c) => c.name),
  };
}
