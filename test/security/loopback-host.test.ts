/**
 * A publisher stream with no publish token may only run on a server that listens on loopback. The
 * check of "loopback" took any host starting with `127.` (a name such as `127.example.com`, which may
 * resolve to a public address), so such a listen host let anyone feed the stream. Now one rule decides
 * loopback for the config check and for HTTP's Host and Origin checks: `localhost`, 127.0.0.0/8 as an
 * address, `::1`.
 */
import { describe, expect, it } from 'vitest';
import { checkPublishTokens } from '../../src/streams/stream-plan.js';
import { resolveStreamConfig } from '../../src/streams/stream-options.js';

const pub = resolveStreamConfig('pub', { source: 'publisher' });

describe('security: a listen host named like 127.* is not loopback', () => {
  it('a publisher without a token is refused on 127.example.com, allowed on 127.0.0.1', () => {
    for (const host of ['127.example.com', '127.0.0.1.nip.io', '127.evil'])
      expect(() => checkPublishTokens([pub], host, null, false), host).toThrow(
        `stream pub takes publishers but has no publishToken, and the server listens on ${host}`,
      );
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1'])
      expect(() => checkPublishTokens([pub], host, null, false), host).not.toThrow();
  });
});
