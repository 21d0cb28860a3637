import { headers } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config-file.js';
import { BusSigner, BusVerifier, SIGNED_WINDOW_MS, type BusDropKind } from '../../src/bus/bus-sign.js';
import { busOption } from '../../src/cli/bus-options.js';
import { FramecastError } from '../../src/errors.js';

// The bus secret without sockets: what verifies, what is dropped and why, and how the secret is
// taken (and never shown) from flags, the environment and the config file.

const SECRET = 'bus-secret-5f2a9c0e7d41b836';
const data = new TextEncoder().encode('{"origin":"o"}');

function verifier(): { v: BusVerifier; first: BusDropKind[] } {
  const first: BusDropKind[] = [];
  return { v: new BusVerifier(SECRET, (k) => first.push(k)), first };
}

describe('bus secret: signing and checking', () => {
  it('takes what the origin signed once, in order; drops unsigned, forged, replayed and stale, reporting each kind once', () => {
    const s = new BusSigner(SECRET, 'inst-1');
    const { v, first } = verifier();
    const m1 = { data, headers: s.sign('p.streams', data) };
    const m2 = { data, headers: s.sign('p.streams', data) };
    expect(v.verify('p.streams', m1)).toBe('inst-1');
    expect(v.verify('p.streams', m2)).toBe('inst-1');
    // Replayed: the same message again, or an older one.
    expect(v.verify('p.streams', m2)).toBeNull();
    expect(v.verify('p.streams', m1)).toBeNull();
    // Unsigned; another body; another subject; another secret.
    expect(v.verify('p.streams', { data, headers: undefined })).toBeNull();
    expect(
      v.verify('p.streams', { data: new TextEncoder().encode('{}'), headers: s.sign('p.streams', data) }),
    ).toBeNull();
    expect(v.verify('p.s.cam.status', { data, headers: s.sign('p.streams', data) })).toBeNull();
    const other = new BusSigner('another-secret-0123456789', 'inst-1');
    expect(v.verify('p.streams', { data, headers: other.sign('p.streams', data) })).toBeNull();
    // Stale: signed now, checked past the window (either side).
    const m3 = { data, headers: s.sign('p.streams', data) };
    expect(v.verify('p.streams', m3, Date.now() + SIGNED_WINDOW_MS + 1000)).toBeNull();
    expect(v.verify('p.streams', m3, Date.now() - SIGNED_WINDOW_MS - 1000)).toBeNull();
    expect(v.verify('p.streams', m3)).toBe('inst-1');
    expect(v.dropped).toEqual({ unsigned: 1, forged: 3, replayed: 2, stale: 2 });
    expect(first).toEqual(['replayed', 'unsigned', 'forged', 'stale']);
  });

  it("covers a part's headers: a signed part moved to another place in the frame is dropped", () => {
    const s = new BusSigner(SECRET, 'inst-1');
    const { v } = verifier();
    const h = headers();
    h.set('Framecast-Part', '1/2');
    h.set('Framecast-Seq', '7');
    const signed = s.sign('p.s.cam.frame', data, h);
    signed.set('Framecast-Part', '2/2');
    expect(v.verify('p.s.cam.frame', { data, headers: signed })).toBeNull();
    expect(v.dropped.forged).toBe(1);
  });

  it('a secret under 16 characters is refused', () => {
    expect(() => new BusSigner('short', 'i')).toThrow(/at least 16 characters/);
    expect(() => new BusVerifier('short')).toThrow(/at least 16 characters/);
  });
});

describe('bus secret: where it comes from', () => {
  const usage = (f: () => unknown): string => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(FramecastError);
      expect((err as FramecastError).exitCode).toBe(2);
      return (err as Error).message;
    }
    throw new Error('expected a usage error');
  };

  it('the flag, else the file, else $FRAMECAST_BUS_SECRET; a short one is a usage error that does not show it', () => {
    const env = { FRAMECAST_BUS_SECRET: 'from-the-environment-1234' };
    expect(busOption({ bus: 'nats://a:1' }, null, env)?.secret).toBe(env.FRAMECAST_BUS_SECRET);
    expect(busOption({}, { url: 'nats://a:1', secret: SECRET }, env)?.secret).toBe(SECRET);
    expect(busOption({ bus: 'nats://a:1', 'bus-secret': 'from-the-flag-0123456' }, null, env)?.secret).toBe(
      'from-the-flag-0123456',
    );
    const m = usage(() => busOption({ bus: 'nats://a:1', 'bus-secret': 'tiny-secret' }, null, {}));
    expect(m).toBe('--bus-secret must be at least 16 characters (openssl rand -hex 32 makes one)');
    expect(usage(() => busOption({ bus: 'nats://a:1' }, null, { FRAMECAST_BUS_SECRET: 'tiny-secret' }))).toBe(
      '$FRAMECAST_BUS_SECRET must be at least 16 characters (openssl rand -hex 32 makes one)',
    );
    expect(usage(() => busOption({ 'bus-secret': SECRET }, null, {}))).toBe(
      '--bus-secret applies with --bus (or bus: in the config file)',
    );
  });

  it('bus.secret in the config file: taken, checked, never echoed', () => {
    const STREAMS = 'streams:\n  a: { source: test }\n';
    expect(parseConfig(`bus:\n  url: nats://a:1\n  secret: "${SECRET}"\n${STREAMS}`, 'c.yaml').bus).toEqual({
      url: 'nats://a:1',
      secret: SECRET,
    });
    const bad = (text: string): string => {
      try {
        parseConfig(text + STREAMS, 'c.yaml');
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error('expected a config error');
    };
    const short = bad('bus:\n  url: nats://a:1\n  secret: tiny-secret\n');
    expect(short).toBe(
      'c.yaml:3: bus.secret: must be at least 16 characters (openssl rand -hex 32 makes one)',
    );
    expect(short).not.toContain('tiny-secret');
    expect(bad('bus:\n  url: nats://a:1\n  secret: 1234567890123456789\n')).toBe(
      'c.yaml:3: bus.secret: must be a string (quote it)',
    );
  });
});
