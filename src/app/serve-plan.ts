import type { ResolvedServeOptions, ServeOptions } from './serve-options.js';
import {
  DEFAULT_STREAM,
  resolveStreamConfig,
  type ResolvedStreamConfig,
  type StreamConfig,
} from '../streams/stream-options.js';
import { checkStreamSet } from '../streams/stream-plan.js';

/** The top-level stream settings, which every named stream takes unless it sets its own. */
export function streamDefaults(opts: ResolvedServeOptions): Omit<StreamConfig, 'source'> {
  return {
    width: opts.width,
    quality: opts.quality,
    encoder: opts.encoder,
    pace: opts.pace,
    fps: opts.fps,
    loop: opts.loop,
    retryDelayMs: opts.retryDelayMs,
    maxClients: opts.maxClients,
    maxWaiting: opts.maxWaiting,
    preload: opts.preload,
    passthrough: opts.passthrough,
    maxImagePixels: opts.maxImagePixels,
    record: opts.record,
    recordPath: opts.recordPath,
  };
}

/** The streams `serve()` was asked for, resolved (a StreamConfigError names a bad value). */
export function planStreams(opts: ResolvedServeOptions, options: ServeOptions): ResolvedStreamConfig[] {
  const defaults = streamDefaults(opts);
  const list = options.streams?.length
    ? options.streams.map(({ name, readTokenDigest, ...config }) => {
        const c = resolveStreamConfig(name, config, defaults);
        // Set before any port opens: an edge's stream is never open without its origin's read token.
        return readTokenDigest === undefined ? c : { ...c, readTokenDigest };
      })
    : [resolveStreamConfig(DEFAULT_STREAM, { source: opts.source, legacyPort: opts.legacyPort }, defaults)];
  checkStreamSet(list, opts.port);
  return list;
}
