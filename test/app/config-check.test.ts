import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkConfigText } from '../../src/config/config-check.js';
import { ConfigError } from '../../src/config/config-error.js';

const S = 'streams:\n  cam:\n    source: test\n';
const PATH = 'conf/f.yaml';
const BASE = dirname(resolve(PATH));

/** The one-line message checking `text` fails with. */
function fails(text: string, streamsOptional = false): string {
  try {
    checkConfigText(text, PATH, streamsOptional);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`no error for ${JSON.stringify(text)}`);
}

const ok = (text: string, streamsOptional = false) => checkConfigText(text, PATH, streamsOptional);

describe('an empty file', () => {
  it('is an edge config without streams when streams are optional', () => {
    for (const text of ['', '~\n']) {
      expect(ok(text, true)).toEqual({
        path: resolve(PATH),
        server: {},
        bus: null,
        hooks: [],
        streamDefaults: {},
        streams: [],
        defaultStream: '',
        raw: { streams: {} },
      });
    }
  });

  it('needs at least one stream otherwise', () => {
    expect(fails('')).toBe('conf/f.yaml:1: streams: at least one stream is required (the file is empty)');
    expect(fails('~\n')).toBe('conf/f.yaml:1: streams: at least one stream is required (the file is empty)');
  });

  it('a scalar or a list is not a config, even an edge one', () => {
    expect(fails('5\n', true)).toBe('conf/f.yaml:1: (top level): must be a mapping, got 5');
    expect(fails('[1]\n')).toBe('conf/f.yaml:1: (top level): must be a mapping, got a list');
  });

  it('an edge config without streams has no default stream', () => {
    const c = ok('port: 1\n', true);
    expect(c.defaultStream).toBe('');
    expect(c.server).toEqual({ port: 1 });
  });
});

describe('server settings: each boundary', () => {
  it.each([
    ['port', 0, 65535],
    ['httpPort', 0, 65535],
    ['maxClientsPerIp', 0, 100000],
  ])('%s takes %d and %d and refuses one past each', (key, min, max) => {
    expect((ok(`${key}: ${min}\n${S}`).server as Record<string, unknown>)[key]).toBe(min);
    expect((ok(`${key}: ${max}\n${S}`).server as Record<string, unknown>)[key]).toBe(max);
    expect(fails(`${key}: ${min - 1}\n${S}`)).toBe(
      `conf/f.yaml:1: ${key}: must be an integer from ${min} to ${max}, got ${min - 1}`,
    );
    expect(fails(`${key}: ${max + 1}\n${S}`)).toBe(
      `conf/f.yaml:1: ${key}: must be an integer from ${min} to ${max}, got ${max + 1}`,
    );
  });

  it('refuses a port that is not an integer, at the line of the value', () => {
    expect(fails(`port: 1.5\n${S}`)).toBe('conf/f.yaml:1: port: must be an integer from 0 to 65535, got 1.5');
    expect(fails(`port: "80"\n${S}`)).toBe(
      'conf/f.yaml:1: port: must be an integer from 0 to 65535, got "80"',
    );
    expect(fails(`port:\n  70000\n${S}`)).toBe(
      'conf/f.yaml:2: port: must be an integer from 0 to 65535, got 70000',
    );
  });

  it('httpPort: off or empty turns it off, other words are refused', () => {
    expect(ok(`httpPort: off\n${S}`).server.httpPort).toBeNull();
    expect(ok(`httpPort:\n${S}`).server.httpPort).toBeNull();
    expect(fails(`httpPort: "x"\n${S}`)).toBe(
      'conf/f.yaml:1: httpPort: must be an integer from 0 to 65535 or off, got "x"',
    );
  });

  it('host: an address without spaces', () => {
    expect(ok(`host: 0.0.0.0\n${S}`).server.host).toBe('0.0.0.0');
    for (const [v, shown] of [
      ['""', '""'],
      ['" "', '" "'],
      ['"a b"', '"a b"'],
      ['5', '5'],
      ['', 'null'],
    ])
      expect(fails(`host: ${v}\n${S}`)).toBe(
        `conf/f.yaml:1: host: must be an address such as 127.0.0.1 or 0.0.0.0, got ${shown}`,
      );
  });

  it('tokens: a string, empty means none, the value never echoed', () => {
    expect(ok(`token: "secret-one"\nadminToken: "admin"\n${S}`).server).toEqual({
      token: 'secret-one',
      adminToken: 'admin',
    });
    expect(ok(`token:\nadminToken:\n${S}`).server).toEqual({ token: null, adminToken: null });
    expect(fails(`token: 5\n${S}`)).toBe('conf/f.yaml:1: token: must be a string (quote it)');
    expect(fails(`adminToken: ""\n${S}`)).toBe('conf/f.yaml:1: adminToken: the token is empty');
    expect(fails(`token: "a\\tb"\n${S}`)).toBe('conf/f.yaml:1: token: the token contains control characters');
  });

  it('allowLegacy: true or false only', () => {
    expect(ok(`allowLegacy: false\n${S}`).server.allowLegacy).toBe(false);
    expect(fails(`allowLegacy: 1\n${S}`)).toBe('conf/f.yaml:1: allowLegacy: must be true or false, got 1');
  });

  it("allowOrigin: '*' or an http(s) origin without a path", () => {
    expect(ok(`allowOrigin: "*"\n${S}`).server.allowOrigin).toBe('*');
    expect(ok(`allowOrigin: "http://x.com:8080"\n${S}`).server.allowOrigin).toBe('http://x.com:8080');
    expect(ok(`allowOrigin: "https://x.com/"\n${S}`).server.allowOrigin).toBe('https://x.com');
    expect(ok(`allowOrigin:\n${S}`).server.allowOrigin).toBeNull();
    expect(ok(`? allowOrigin\n${S}`).server.allowOrigin).toBeNull();
    const msg = (shown: string) =>
      `conf/f.yaml:1: allowOrigin: must be '*' or an origin like https://example.com:8443 (no path), got ${shown}`;
    expect(fails(`allowOrigin: "ftp://x.com"\n${S}`)).toBe(msg('"ftp://x.com"'));
    expect(fails(`allowOrigin: "https://x.com/p"\n${S}`)).toBe(msg('"https://x.com/p"'));
    expect(fails(`allowOrigin: "not a url"\n${S}`)).toBe(msg('"not a url"'));
    expect(fails(`allowOrigin: "**"\n${S}`)).toBe(msg('"**"'));
    expect(fails(`allowOrigin: 5\n${S}`)).toBe(msg('5'));
    expect(fails(`allowOrigin: ["https://x.com"]\n${S}`)).toBe(msg('["https://x.com"]'));
  });

  it('stallTimeout: 0, or 1 to 86400 seconds', () => {
    expect(ok(`stallTimeout: 0\n${S}`).server.stallTimeoutMs).toBe(0);
    expect(ok(`stallTimeout: 1\n${S}`).server.stallTimeoutMs).toBe(1000);
    expect(ok(`stallTimeout: 2.5\n${S}`).server.stallTimeoutMs).toBe(2500);
    expect(ok(`stallTimeout: 86400\n${S}`).server.stallTimeoutMs).toBe(86_400_000);
    for (const [v, shown] of [
      ['-1', '-1'],
      ['-0.5', '-0.5'],
      ['0.5', '0.5'],
      ['0.999', '0.999'],
      ['86400.5', '86400.5'],
      ['.inf', 'Infinity'],
      ['.nan', 'NaN'],
      ['"5"', '"5"'],
    ])
      expect(fails(`stallTimeout: ${v}\n${S}`)).toBe(
        `conf/f.yaml:1: stallTimeout: must be 0 or from 1 to 86400 seconds, got ${shown}`,
      );
  });

  it("sourcePaths: a directory or a list, resolved against the file's directory", () => {
    expect(ok(`sourcePaths: media\n${S}`).server.sourcePaths).toEqual([resolve(BASE, 'media')]);
    expect(ok(`sourcePaths: [a, /abs/b]\n${S}`).server.sourcePaths).toEqual([resolve(BASE, 'a'), '/abs/b']);
    for (const [v, shown] of [
      ['[]', '[]'],
      ['[a, " "]', '["a"," "]'],
      ['[a, 5]', '["a",5]'],
      ['5', '5'],
      ['"  "', '"  "'],
      ['""', '""'],
    ])
      expect(fails(`sourcePaths: ${v}\n${S}`)).toBe(
        `conf/f.yaml:1: sourcePaths: must be a directory or a list of directories, got ${shown}`,
      );
  });

  it("tls: cert and key, resolved against the file's directory; empty means none", () => {
    expect(ok(`tls:\n  cert: c.pem\n  key: /k.pem\n${S}`).server.tls).toEqual({
      certPath: resolve(BASE, 'c.pem'),
      keyPath: '/k.pem',
    });
    expect(ok(`tls:\n${S}`).server.tls).toBeNull();
    expect(fails(`tls:\n  key: k.pem\n${S}`)).toBe(
      "conf/f.yaml:2: tls.cert: required: the certificate's PEM file",
    );
    expect(fails(`tls:\n  cert: c.pem\n${S}`)).toBe(
      "conf/f.yaml:2: tls.key: required: the private key's PEM file",
    );
    expect(fails(`tls:\n  cert: " "\n  key: k.pem\n${S}`)).toBe(
      'conf/f.yaml:2: tls.cert: must be a file path, got " "',
    );
    expect(fails(`tls:\n  cert: c\n  key: 5\n${S}`)).toBe(
      'conf/f.yaml:3: tls.key: must be a file path, got 5',
    );
    expect(fails(`tls:\n  cert: c\n  key:\n${S}`)).toBe(
      'conf/f.yaml:3: tls.key: must be a file path, got null',
    );
    expect(fails(`tls: 5\n${S}`)).toBe('conf/f.yaml:1: tls: must be a mapping, got 5');
    expect(fails(`tls:\n  cert: c\n  key: k\n  x: 1\n${S}`)).toBe(
      'conf/f.yaml:4: tls.x: unknown tls setting (known: cert, key)',
    );
  });
});

describe('streams and streamDefaults', () => {
  it('takes null only where it means something (fps, legacyPort, readToken, publishToken)', () => {
    const c = ok(
      'streams:\n  cam:\n    source: publisher\n    fps:\n    legacyPort:\n    readToken:\n    publishToken:\n',
    );
    expect(c.raw.streams.cam).toEqual({
      source: 'publisher',
      fps: null,
      legacyPort: null,
      readToken: null,
      publishToken: null,
    });
    for (const k of ['fps', 'legacyPort', 'readToken', 'publishToken'])
      expect(ok(`streamDefaults:\n  ${k}:\n${S}`).streamDefaults).toEqual({ [k]: null });
    expect(fails(`streamDefaults:\n  width:\n${S}`)).toBe(
      'conf/f.yaml:2: streamDefaults.width: is empty: give a value or remove the line',
    );
    expect(fails('streams:\n  cam:\n    source: test\n    width:\n      ~\n')).toBe(
      'conf/f.yaml:5: streams.cam.width: is empty: give a value or remove the line',
    );
  });

  it('refuses a number that is not finite, naming it', () => {
    expect(fails('streams:\n  cam:\n    source: test\n    width: .nan\n')).toBe(
      'conf/f.yaml:4: streams.cam.width: must be a finite number, got NaN',
    );
    expect(fails(`streamDefaults:\n  width: .inf\n${S}`)).toBe(
      'conf/f.yaml:2: streamDefaults.width: must be a finite number, got Infinity',
    );
  });

  it('an empty streamDefaults is none; a bad default is reported at its value', () => {
    expect(ok(`streamDefaults:\n${S}`).streamDefaults).toEqual({});
    expect(fails(`streamDefaults:\n  quality: 50\n  width:\n    1\n${S}`)).toBe(
      'conf/f.yaml:4: streamDefaults.width: must be 0 or from 16 to 16384, got 1',
    );
  });

  it('streams must be a non-empty mapping', () => {
    expect(fails('streams:\n  ~\n')).toBe('conf/f.yaml:2: streams: at least one stream is required');
    expect(fails('streams: {}\n')).toBe('conf/f.yaml:1: streams: at least one stream is required');
    expect(fails('streams: 5\n')).toBe(
      'conf/f.yaml:1: streams: must be a mapping of stream names to settings, got 5',
    );
    expect(fails('streams:\n  - a\n')).toBe(
      'conf/f.yaml:2: streams: must be a mapping of stream names to settings, got a list',
    );
  });

  it('each stream must be a mapping with a string source', () => {
    const msg = (line: number, got: string) =>
      `conf/f.yaml:${line}: streams.cam: must be a mapping with at least a source, got ${got}`;
    expect(fails('streams:\n  cam: 5\n')).toBe(msg(2, '5'));
    expect(fails('streams:\n  cam:\n')).toBe(msg(2, 'nothing'));
    expect(fails('streams:\n  ? cam\n')).toBe(msg(2, 'nothing'));
    expect(fails('streams:\n  cam: [1]\n')).toBe(msg(2, 'a list'));
    expect(fails('streams:\n  cam:\n    source: 5\n')).toBe(
      'conf/f.yaml:3: streams.cam.source: must be a string (a file, URL, webcam, test or publisher), got 5',
    );
    expect(fails('streams:\n  cam:\n    width: 5\n')).toBe(
      'conf/f.yaml:2: streams.cam.source: required: a file, URL, webcam, test or publisher',
    );
  });

  it('names a key that is not a plain name', () => {
    expect(fails('streams:\n  cam:\n    source: test\n    ? [a]\n    : 1\n')).toBe(
      'conf/f.yaml:4: streams.cam.?: a key must be a plain name',
    );
  });
});

describe('legacy ports', () => {
  it('port 0 (any free port) may be asked for by several streams, even with port 0', () => {
    const c = ok(
      'port: 0\nstreams:\n  a:\n    source: test\n    legacyPort: 0\n  b:\n    source: test\n    legacyPort: 0\n',
    );
    expect(c.streams.map((s) => s.legacyPort)).toEqual([0, 0]);
  });

  it("refuses the server's port, its httpPort and another stream's port", () => {
    expect(fails('streams:\n  a:\n    source: test\n    legacyPort: 9999\n')).toBe(
      "conf/f.yaml:4: streams.a.legacyPort: 9999 is the server's port",
    );
    expect(fails('httpPort: 7000\nstreams:\n  a:\n    source: test\n    legacyPort: 7000\n')).toBe(
      "conf/f.yaml:5: streams.a.legacyPort: 7000 is the server's httpPort",
    );
    expect(
      fails(
        'streamDefaults:\n  legacyPort: 7000\nstreams:\n  a:\n    source: test\n  b:\n    source: test\n',
      ),
    ).toBe(
      'conf/f.yaml:2: streams.b.legacyPort: 7000 (from streamDefaults) is already the legacyPort of stream a',
    );
  });

  it('needs allowLegacy when the server or the stream has a token', () => {
    expect(fails('token: "0123456789abcdef"\nstreams:\n  a:\n    source: test\n    legacyPort: 0\n')).toBe(
      'conf/f.yaml:5: streams.a.legacyPort: serves seed clients, which cannot present a token: add allowLegacy: true',
    );
    expect(
      ok('token: "t"\nallowLegacy: true\nstreams:\n  a:\n    source: test\n    legacyPort: 0\n').streams[0]!
        .legacyPort,
    ).toBe(0);
  });
});

describe('ConfigError', () => {
  it('is one line, FILE:LINE: FIELD: problem, exit code 2, with its cause', () => {
    const cause = new Error('under');
    const e = new ConfigError('f.yaml', 3, 'x', 'one\ntwo \r\n  three', cause);
    expect(e.message).toBe('f.yaml:3: x: one two three');
    expect(e.name).toBe('ConfigError');
    expect(e.code).toBe('ERR_USAGE');
    expect(e.exitCode).toBe(2);
    expect(e.cause).toBe(cause);
    expect([e.file, e.line, e.field]).toEqual(['f.yaml', 3, 'x']);
    expect(new ConfigError('f.yaml', null, null, 'bad').message).toBe('f.yaml: bad');
  });
});
