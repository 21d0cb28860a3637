import { describe, expect, it } from 'vitest';
import { Access, type Action, type Guarded } from '../../src/access/access.js';
import { tokenDigest } from '../../src/util/token.js';

const open: Guarded = { readToken: null, publishToken: null };
const guarded: Guarded = { readToken: 'read-secret', publishToken: 'pub-secret' };

/** The decision as one word: 'allowed' or the refusal. */
function say(access: Access, action: Action, stream: Guarded | null, given: string | null): string {
  const d = access.decide(action, stream, given);
  return d.allowed ? 'allowed' : d.refusal;
}

describe('Access: the one access decision', () => {
  describe('no server token, no admin token', () => {
    const access = new Access({ token: null });

    it('anyone reads, publishes and operates a stream without tokens, and sees the server', () => {
      for (const action of ['read', 'publish', 'operate'] as const) {
        expect(say(access, action, open, null)).toBe('allowed');
        expect(say(access, action, open, 'anything')).toBe('allowed');
      }
      expect(say(access, 'metrics', null, null)).toBe('allowed');
    });

    it("a stream's readToken guards reading it; its publishToken guards publishing; neither opens the other", () => {
      expect(say(access, 'read', guarded, null)).toBe('token-required');
      expect(say(access, 'read', guarded, '')).toBe('token-required');
      expect(say(access, 'read', guarded, 'wrong')).toBe('token-invalid');
      expect(say(access, 'read', guarded, 'read-secret')).toBe('allowed');
      expect(say(access, 'read', guarded, 'pub-secret')).toBe('token-invalid');
      expect(say(access, 'publish', guarded, null)).toBe('token-required');
      expect(say(access, 'publish', guarded, 'pub-secret')).toBe('allowed');
      expect(say(access, 'publish', guarded, 'read-secret')).toBe('token-invalid');
    });

    it('a readToken only watches: operating a guarded stream takes the admin token', () => {
      expect(say(access, 'operate', guarded, 'read-secret')).toBe('token-invalid');
      expect(say(access, 'operate', guarded, null)).toBe('token-required');
    });

    it('an unknown stream is named to anyone (nothing guards the server)', () => {
      expect(say(access, 'read', null, null)).toBe('unknown-stream');
      expect(say(access, 'publish', null, 'x')).toBe('unknown-stream');
      expect(say(access, 'operate', null, null)).toBe('unknown-stream');
    });

    it('API writes are disabled whatever is presented', () => {
      expect(say(access, 'admin', null, null)).toBe('disabled');
      expect(say(access, 'admin', null, 'anything')).toBe('disabled');
      expect(access.adminEnabled).toBe(false);
      expect(access.serverTokenSet).toBe(false);
    });
  });

  describe('a server token', () => {
    const access = new Access({ token: 'server-secret' });

    it('opens every action on every stream but admin', () => {
      for (const action of ['read', 'publish', 'operate'] as const) {
        expect(say(access, action, open, 'server-secret')).toBe('allowed');
        expect(say(access, action, guarded, 'server-secret')).toBe('allowed');
      }
      expect(say(access, 'metrics', null, 'server-secret')).toBe('allowed');
      expect(say(access, 'admin', null, 'server-secret')).toBe('disabled');
      expect(access.serverTokenSet).toBe(true);
    });

    it('every stream then needs a token, its own or the server’s', () => {
      expect(say(access, 'read', open, null)).toBe('token-required');
      expect(say(access, 'read', open, 'wrong')).toBe('token-invalid');
      expect(say(access, 'read', guarded, 'read-secret')).toBe('allowed');
      expect(say(access, 'publish', open, null)).toBe('token-required');
      expect(say(access, 'publish', guarded, 'pub-secret')).toBe('allowed');
      expect(say(access, 'metrics', null, null)).toBe('token-required');
      expect(say(access, 'metrics', null, 'read-secret')).toBe('token-invalid');
    });

    it('a readToken neither operates its stream nor reads the server', () => {
      expect(say(access, 'operate', guarded, 'read-secret')).toBe('token-invalid');
      expect(say(access, 'metrics', null, 'read-secret')).toBe('token-invalid');
    });

    it('an unknown stream is named only to the server token; others are refused as for a token (no probing)', () => {
      expect(say(access, 'read', null, 'server-secret')).toBe('unknown-stream');
      expect(say(access, 'publish', null, 'server-secret')).toBe('unknown-stream');
      expect(say(access, 'read', null, null)).toBe('token-required');
      expect(say(access, 'read', null, 'read-secret')).toBe('token-invalid');
      expect(say(access, 'publish', null, 'pub-secret')).toBe('token-invalid');
    });
  });

  describe('an admin token', () => {
    const access = new Access({ token: 'server-secret', adminToken: 'admin-secret' });

    it('writes the API and operates any stream, but does not read one', () => {
      expect(access.adminEnabled).toBe(true);
      expect(say(access, 'admin', null, 'admin-secret')).toBe('allowed');
      expect(say(access, 'operate', guarded, 'admin-secret')).toBe('allowed');
      expect(say(access, 'operate', null, 'admin-secret')).toBe('allowed');
      expect(say(access, 'read', guarded, 'admin-secret')).toBe('token-invalid');
      expect(say(access, 'publish', guarded, 'admin-secret')).toBe('token-invalid');
    });

    it('API writes: none presented is token-required, a wrong one (the server token too) token-invalid', () => {
      expect(say(access, 'admin', null, null)).toBe('token-required');
      expect(say(access, 'admin', null, '')).toBe('token-required');
      expect(say(access, 'admin', null, 'server-secret')).toBe('token-invalid');
    });
  });

  it('a salted digest (an edge’s read token) opens as the token itself does', () => {
    const access = new Access({ token: null });
    const digest = tokenDigest('edge-secret', 'salt');
    expect(say(access, 'read', { readToken: digest }, 'edge-secret')).toBe('allowed');
    expect(say(access, 'read', { readToken: digest }, 'other')).toBe('token-invalid');
  });
  describe('annotating', () => {
    const withAnn: Guarded = { readToken: 'read-secret', annotateToken: 'ann-secret' };
    const readOnly: Guarded = { readToken: 'read-secret', annotateToken: null };

    it('nothing set: a stream open to everyone is open to annotations', () => {
      const access = new Access({ token: null });
      expect(say(access, 'annotate', open, null)).toBe('allowed');
      expect(say(access, 'annotate', open, 'anything')).toBe('allowed');
      expect(say(access, 'annotate', { readToken: null }, null)).toBe('allowed');
    });

    it('a readToken is not enough to annotate', () => {
      const access = new Access({ token: null });
      expect(say(access, 'annotate', readOnly, 'read-secret')).toBe('token-invalid');
      expect(say(access, 'annotate', readOnly, null)).toBe('token-required');
      expect(say(access, 'annotate', readOnly, '')).toBe('token-required');
      expect(say(access, 'annotate', { readToken: 'read-secret' }, 'x')).toBe('token-invalid');
    });

    it("the stream's annotateToken annotates, and reads what it annotates; it does not publish", () => {
      const access = new Access({ token: null });
      expect(say(access, 'annotate', withAnn, 'ann-secret')).toBe('allowed');
      expect(say(access, 'annotate', withAnn, 'read-secret')).toBe('token-invalid');
      expect(say(access, 'annotate', withAnn, null)).toBe('token-required');
      expect(say(access, 'annotate', { readToken: null, annotateToken: 'ann-secret' }, null)).toBe(
        'token-required',
      );
      expect(say(access, 'read', withAnn, 'ann-secret')).toBe('allowed');
      expect(say(access, 'publish', { ...withAnn, publishToken: 'p' }, 'ann-secret')).toBe('token-invalid');
      expect(say(access, 'operate', withAnn, 'ann-secret')).toBe('token-invalid');
    });

    it("with a server token: the server's token or the stream's annotateToken", () => {
      const access = new Access({ token: 'server-secret' });
      expect(say(access, 'annotate', open, 'server-secret')).toBe('allowed');
      expect(say(access, 'annotate', open, null)).toBe('token-required');
      expect(say(access, 'annotate', open, 'x')).toBe('token-invalid');
      expect(say(access, 'annotate', withAnn, 'ann-secret')).toBe('allowed');
      expect(say(access, 'annotate', withAnn, 'server-secret')).toBe('allowed');
      expect(say(access, 'annotate', withAnn, 'read-secret')).toBe('token-invalid');
      expect(say(access, 'read', withAnn, 'ann-secret')).toBe('allowed');
    });

    it('an unknown stream is named only to a request that may see every stream', () => {
      expect(say(new Access({ token: null }), 'annotate', null, null)).toBe('unknown-stream');
      const access = new Access({ token: 'server-secret' });
      expect(say(access, 'annotate', null, 'server-secret')).toBe('unknown-stream');
      expect(say(access, 'annotate', null, 'ann-secret')).toBe('token-invalid');
      expect(say(access, 'annotate', null, null)).toBe('token-required');
    });
  });

  describe('operating without a server token', () => {
    const access = new Access({ token: null, adminToken: 'admin-secret' });
    it('anyone operates an open stream; the admin token any stream; a name that is none is unknown', () => {
      expect(say(access, 'operate', open, null)).toBe('allowed');
      expect(say(access, 'operate', guarded, 'admin-secret')).toBe('allowed');
      expect(say(access, 'operate', guarded, 'wrong')).toBe('token-invalid');
      expect(say(access, 'operate', null, 'wrong')).toBe('unknown-stream');
      expect(say(access, 'admin', null, 'wrong')).toBe('token-invalid');
      expect(say(access, 'admin', null, 'admin-secret')).toBe('allowed');
    });
  });
});
