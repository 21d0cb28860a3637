import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConfigText } from '../../src/config/config-check.js';
import { ConfigError } from '../../src/config/config-error.js';
import { makeTempDir } from '../helpers/fixtures.js';

const S = 'streams:\n  cam:\n    source: test\n';
const URL_LINE = 'bus:\n  url: nats://h:4222\n';

let tmp: ReturnType<typeof makeTempDir>;
let path: string;
let pem: string;
beforeAll(() => {
  tmp = makeTempDir('framecast-config-bus-');
  path = join(tmp.dir, 'f.yaml');
  pem = join(tmp.dir, 'u.pem');
  writeFileSync(pem, 'x');
});
afterAll(() => tmp.cleanup());

/** The bus settings of a file whose `bus:` section is the url line plus `lines`. */
const bus = (lines: string) => checkConfigText(`${URL_LINE}${lines}${S}`, path).bus;

/** The message checking the file fails with, without its path. */
function fails(text: string): string {
  try {
    checkConfigText(`${text}${S}`, path);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message.replace(path, 'F');
  }
  throw new Error(`no error for ${JSON.stringify(text)}`);
}
const failsWith = (lines: string) => fails(`${URL_LINE}${lines}`);

describe('the bus section', () => {
  it('false or empty means no bus; true is not a section', () => {
    expect(checkConfigText(`bus: false\n${S}`, path).bus).toBeNull();
    expect(checkConfigText(`bus:\n${S}`, path).bus).toBeNull();
    expect(fails('bus: true\n')).toBe('F:1: bus: must be a mapping, got true');
  });

  it('needs a url, a list or one server', () => {
    expect(fails('bus:\n  prefix: x\n')).toBe(
      'F:2: bus.url: required: the NATS server, nats://HOST:PORT (or a list)',
    );
    expect(checkConfigText(`bus:\n  url: [nats://a:1, "tls://b:2"]\n${S}`, path).bus).toEqual({
      url: 'nats://a:1,tls://b:2',
    });
    expect(fails('bus:\n  url: []\n')).toBe('F:2: bus.url: must name at least one NATS server');
    expect(fails('bus:\n  url: "nats://a:1,nats://b:2"\n')).toBe(
      'F:2: bus.url: must be nats://HOST:PORT (or a list of them), got "nats://a:1,nats://b:2"',
    );
    expect(fails('bus:\n  url: 5\n')).toBe(
      'F:2: bus.url: must be nats://HOST:PORT (or a list of them), got 5',
    );
    expect(fails('bus:\n  url: "nats://u:p@h:1"\n')).toBe(
      'F:2: bus.url: credentials in the URL are not used ("nats://***@h:1"); give them as bus.user and bus.password',
    );
  });

  it('text settings: a string without spaces, non-secret ones echoed, at the line of the value', () => {
    const bad = 'must be non-empty, without spaces or control characters';
    expect(failsWith('  prefix:\n    "a b"\n')).toBe(`F:4: bus.prefix: ${bad}`);
    expect(failsWith('  prefix: ""\n')).toBe(`F:3: bus.prefix: ${bad}`);
    expect(failsWith('  user: ""\n')).toBe(`F:3: bus.user: ${bad}`);
    expect(failsWith('  user: u\n  password: "p w"\n')).toBe(`F:4: bus.password: ${bad}`);
    expect(failsWith('  prefix: 5\n')).toBe('F:3: bus.prefix: must be a string, got 5');
    expect(failsWith('  name: 5\n')).toBe('F:3: bus.name: must be a string, got 5');
    expect(failsWith('  user: 5\n')).toBe('F:3: bus.user: must be a string, got 5');
    expect(failsWith('  user: u\n  password: 5\n')).toBe('F:4: bus.password: must be a string (quote it)');
    expect(failsWith('  token: 5\n')).toBe('F:3: bus.token: must be a string (quote it)');
    expect(failsWith('  prefix: "a.*"\n')).toBe(
      "F:3: bus.prefix: must be NATS subject tokens (letters, digits, _ -, dots between; at most 128 characters), got 'a.*'",
    );
    expect(bus('  prefix: cams.eu\n  name: edge-1\n  token: abc\n')).toEqual({
      url: 'nats://h:4222',
      prefix: 'cams.eu',
      name: 'edge-1',
      token: 'abc',
    });
  });

  it('name: 128 characters taken, 129 refused; over 1024 refused as text', () => {
    expect(bus(`  name: ${'n'.repeat(128)}\n`)).toEqual({ url: 'nats://h:4222', name: 'n'.repeat(128) });
    expect(failsWith(`  name: ${'n'.repeat(129)}\n`)).toBe('F:3: bus.name: must be at most 128 characters');
    expect(failsWith(`  name: ${'n'.repeat(1024)}\n`)).toBe('F:3: bus.name: must be at most 128 characters');
    expect(failsWith(`  name: ${'n'.repeat(1025)}\n`)).toBe(
      'F:3: bus.name: must be non-empty, without spaces or control characters',
    );
  });

  it("files: resolved against the config's directory and readable now", () => {
    expect(bus('  creds: u.pem\n')).toEqual({ url: 'nats://h:4222', credsFile: pem });
    expect(bus('  nkey: u.pem\n')).toEqual({ url: 'nats://h:4222', nkeyFile: pem });
    expect(failsWith('  creds: " "\n')).toBe(
      'F:3: bus.creds: must be the path of a NATS .creds file, got " "',
    );
    expect(failsWith('  creds: 5\n')).toBe('F:3: bus.creds: must be the path of a NATS .creds file, got 5');
    expect(failsWith('  nkey: ""\n')).toBe(
      'F:3: bus.nkey: must be the path of a file holding an NKey seed, got ""',
    );
    expect(failsWith('  creds: nope.creds\n')).toBe(
      `F:3: bus.creds: ${join(tmp.dir, 'nope.creds')}: no such file`,
    );
  });

  it('secret: may hold spaces, never echoed, at least 16 characters', () => {
    expect(bus('  secret: "a b c d e f g h i"\n')).toEqual({
      url: 'nats://h:4222',
      secret: 'a b c d e f g h i',
    });
    expect(failsWith('  secret: 5\n')).toBe('F:3: bus.secret: must be a string (quote it)');
    expect(failsWith('  secret: short\n')).toBe(
      'F:3: bus.secret: must be at least 16 characters (openssl rand -hex 32 makes one)',
    );
  });

  it('one way to log in, reported at the second; a password needs a user', () => {
    expect(failsWith('  user: u\n  token: t\n')).toBe(
      'F:4: bus: give one way to log in, not user/password and token',
    );
    expect(failsWith('  token: t\n  creds: u.pem\n')).toBe(
      'F:4: bus: give one way to log in, not token and creds',
    );
    expect(failsWith('  password: p\n')).toBe('F:3: bus.user: required with bus.password');
  });

  it('tls: true, false, empty or a mapping of readable files; cert and key together', () => {
    expect(bus('  tls: true\n')).toEqual({ url: 'nats://h:4222', tls: true });
    expect(bus('  tls: false\n')).toEqual({ url: 'nats://h:4222', tls: false });
    expect(bus('  tls:\n')).toEqual({ url: 'nats://h:4222', tls: null });
    expect(bus('  tls:\n    ca: u.pem\n    cert: u.pem\n    key: u.pem\n')).toEqual({
      url: 'nats://h:4222',
      tls: { caFile: pem, certFile: pem, keyFile: pem },
    });
    const kinds = 'must be true, false or a mapping of ca, cert, key files';
    expect(failsWith('  tls: 5\n')).toBe(`F:3: bus.tls: ${kinds}, got 5`);
    expect(failsWith('  tls: [a]\n')).toBe(`F:3: bus.tls: ${kinds}, got ["a"]`);
    expect(failsWith('  tls:\n    x: 1\n')).toBe(
      'F:4: bus.tls.x: unknown bus tls setting (known: ca, cert, key)',
    );
    expect(failsWith('  tls:\n    ca: " "\n')).toBe(
      `F:4: bus.tls.ca: must be the path of the CA's PEM certificate, got " "`,
    );
    expect(failsWith('  tls:\n    cert: " "\n')).toBe(
      'F:4: bus.tls.cert: must be the path of a PEM client certificate, got " "',
    );
    expect(failsWith('  tls:\n    key: " "\n')).toBe(
      `F:4: bus.tls.key: must be the path of the client certificate's PEM key, got " "`,
    );
    expect(failsWith('  tls:\n    cert: u.pem\n')).toBe(
      'F:4: bus.tls.key: required: cert and key go together',
    );
    expect(failsWith('  tls:\n    key: u.pem\n')).toBe(
      'F:4: bus.tls.cert: required: cert and key go together',
    );
  });
});
