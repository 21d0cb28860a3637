import { join } from 'node:path';
import type { Subscriber, SubscriberStats } from '../hub/subscriber.js';
import type { Recordings } from '../record/recordings.js';
import type { Stream } from '../streams/stream.js';
import type { StreamRegistry } from '../streams/streams.js';
import type { Hooks } from './hooks.js';

/**
 * Subscribers that are not viewers: the recorder, a rendition's encoder (its viewers are on the
 * rendition's hub) and the bus (an edge's viewers are counted on the edge). The recorder does not
 * count as demand either; the other two stand for viewers.
 */
const NOT_VIEWERS: ReadonlySet<string> = new Set(['record', 'rendition', 'bus']);
const NO_DEMAND: ReadonlySet<string> = new Set(['record']);

/**
 * Turns what the streams do into hook events: `ready`/`notReady` (the stream has frames), demand
 * (first viewer, last viewer gone), its publisher, viewers, and recording segments. Listeners only
 * flip a flag or call `Hooks.fire`, which returns at once: the frame path never waits for a hook.
 * Returns the function that stops watching.
 */
export function watchStreamEvents(
  registry: StreamRegistry,
  hooks: Hooks,
  recordings: Recordings | null,
): () => void {
  const offs = new Map<Stream, () => void>();
  const add = (s: Stream): void => {
    if (!offs.has(s)) offs.set(s, watchStream(s, hooks));
  };
  const remove = (s: Stream): void => {
    offs.get(s)?.();
    offs.delete(s);
  };
  for (const s of registry.list()) add(s);
  registry.on('added', add);
  registry.on('removed', remove);
  const onSegment = (
    name: string,
    info: { name: string; start: number; end: number; frames: number; bytes: number },
  ): void => {
    const stream = registry.get(name);
    if (!stream || !recordings || stream.name !== name) return;
    hooks.fire('segmentComplete', name, {
      segmentPath: join(recordings.dirOf(stream), `${info.name}.mkv`),
      segmentStart: new Date(info.start).toISOString(),
      segmentEnd: new Date(info.end).toISOString(),
      segmentFrames: info.frames,
      segmentBytes: info.bytes,
    });
  };
  recordings?.on('segment', onSegment);
  return () => {
    registry.off('added', add);
    registry.off('removed', remove);
    recordings?.off('segment', onSegment);
    for (const off of offs.values()) off();
    offs.clear();
  };
}

/** What the hooks read of a subscriber as it joins, and of its stats as it leaves. */
type Viewer = Pick<Subscriber, 'id' | 'protocol' | 'address'>;
type ViewerStats = Pick<SubscriberStats, 'id' | 'protocol' | 'address' | 'framesSent' | 'connectedAt'>;

function watchStream(stream: Stream, hooks: Hooks): () => void {
  const { hub, name } = stream;
  let ready = false;
  let demand = 0;
  const notReady = (reason: string): void => {
    if (!ready) return;
    ready = false;
    hooks.fire('notReady', name, { reason });
  };
  // Per frame: one flag test once ready; until then the source's state is asked (a NO SIGNAL
  // picture is a frame, but not a ready stream).
  const onFrame = (): void => {
    if (ready || hub.source?.status?.state === 'no-signal') return;
    ready = true;
    hooks.fire('ready', name, { source: hub.source?.kind ?? 'unknown' });
  };
  const onStatus = (st: { state: string; lastError: string | null }): void => {
    if (st.state === 'no-signal') notReady(st.lastError ?? 'no signal');
  };
  const onEnd = (reason: string): void => notReady(reason === 'idle' ? 'no viewers' : reason);
  const viewerJoined = (sub: Viewer): void => {
    if (!NOT_VIEWERS.has(sub.protocol))
      hooks.fire('viewerJoined', name, {
        viewerId: sub.id,
        viewerAddress: sub.address,
        protocol: sub.protocol,
      });
  };
  const viewerLeft = (st: ViewerStats): void => {
    if (!NOT_VIEWERS.has(st.protocol))
      hooks.fire('viewerLeft', name, {
        viewerId: st.id,
        viewerAddress: st.address,
        protocol: st.protocol,
        framesSent: st.framesSent,
        seconds: Math.max(0, Math.round((Date.now() - st.connectedAt) / 100) / 10),
      });
  };
  const onAdmitted = (sub: Viewer): void => {
    if (!NO_DEMAND.has(sub.protocol) && ++demand === 1) hooks.fire('demandStart', name, {});
    viewerJoined(sub);
  };
  const onLeft = (st: ViewerStats): void => {
    viewerLeft(st);
    if (!NO_DEMAND.has(st.protocol) && demand > 0 && --demand === 0) hooks.fire('demandStop', name, {});
  };
  // Only what some hook listens for is watched: no listener on the frame path without a ready hook.
  const readiness = hooks.wants('ready') || hooks.wants('notReady');
  if (readiness) {
    hub.on('frame', onFrame);
    hub.on('source-status', onStatus);
    hub.on('transmission-end', onEnd);
  }
  hub.on('admitted', onAdmitted);
  hub.on('left', onLeft);
  // A viewer of another size (`?width=`) joins its rendition's hub: a viewer all the same (the
  // rendition's encoder on the stream's hub stands for its demand). Those hubs come and go: the
  // listeners go with each hub, and say nothing once this watch ends.
  let watching = true;
  const stopRenditions = stream.renditions.watchHubs((h) => {
    h.on('admitted', (sub) => watching && viewerJoined(sub));
    h.on('left', (st) => watching && viewerLeft(st));
  });
  const slot = stream.ingest;
  const onConnected = (c: { address: string; via: string }): void =>
    hooks.fire('publisherConnected', name, { publisherAddress: c.address, protocol: c.via });
  const onGone = (c: { address: string; via: string }, why: string): void =>
    hooks.fire('publisherGone', name, { publisherAddress: c.address, protocol: c.via, reason: why });
  slot?.on('connected', onConnected);
  slot?.on('disconnected', onGone);
  return () => {
    hub.off('frame', onFrame);
    hub.off('source-status', onStatus);
    hub.off('transmission-end', onEnd);
    hub.off('admitted', onAdmitted);
    hub.off('left', onLeft);
    slot?.off('connected', onConnected);
    slot?.off('disconnected', onGone);
    stopRenditions();
    watching = false;
    // A stream that goes away with viewers: its demand ends with it.
    if (demand > 0) hooks.fire('demandStop', name, {});
  };
}
