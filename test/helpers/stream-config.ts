/** A resolved stream config as resolveStreamConfig makes it from `source` alone, every default written out. */
import type { ResolvedStreamConfig } from '../../src/streams/stream-options.js';

export function resolvedDefaults(
  name: string,
  source: string,
  over: Partial<ResolvedStreamConfig> = {},
): ResolvedStreamConfig {
  return {
    name,
    source,
    width: 800,
    quality: 80,
    encoder: 'libjpeg',
    pace: true,
    fps: null,
    loop: false,
    retryDelayMs: 1000,
    maxClients: 100,
    maxWaiting: 1000,
    preload: false,
    legacyPort: null,
    readToken: null,
    publishToken: null,
    annotateToken: null,
    maxMetaBytes: 65536,
    overridePublisher: false,
    passthrough: false,
    maxImagePixels: 4096 * 4096,
    maxRenditions: 4,
    record: false,
    recordPath: null,
    recordSegmentDuration: 60,
    recordDeleteAfter: null,
    recordMaxBytes: null,
    ...over,
  };
}
