import type { Hub } from '../hub/hub.js';
import type { PublisherSlot } from '../ingest/publish/publisher-slot.js';
import type { TokenCheck } from '../util/token.js';

/**
 * A stream as every transport sees it (a Stream is one): what it serves, who may watch it, whether
 * it has room, and where a publisher feeds it. Transports ask the stream; they never copy its settings.
 */
export interface StreamTarget {
  readonly name: string;
  readonly hub: Hub;
  /** --no-pace: queue frames instead of replacing the pending one. */
  readonly lossless: boolean;
  /** This stream's own token (or its salted digest, on an edge), or null. */
  readonly readToken: TokenCheck | null;
  /** False when the hub can neither serve nor queue another client. */
  hasRoom(): boolean;
  /** Where a remote publisher feeds this stream, or null when its source is not `publisher`. */
  readonly ingest?: PublisherSlot | null;
  /** The token publishers present (the server's token also works), or null. */
  readonly publishToken?: string | null;
  /** The token analyzers present to annotate (the server's token also works), or null. */
  readonly annotateToken?: string | null;
  /** Other sizes and qualities viewers ask for (the hub of a rendition, or the stream's own). */
  readonly renditions?: {
    hubFor(req: { width: number | null; quality: number | null; fps: number | null }): Hub;
  } | null;
}
