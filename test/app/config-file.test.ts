import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  loadConfig,
  loadEdgeConfig,
  parseConfig,
  writeStream,
  type LoadedConfig,
} from '../../src/config/config-file.js';
import { STREAM_FIELDS } from '../../src/streams/stream-options.js';
import { makeTempDir } from '../helpers/fixtures.js';
import { resolvedDefaults } from '../helpers/stream-config.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/framecast.yaml', import.meta.url));

let tmp: ReturnType<typeof makeTempDir>;
let n = 0;
beforeAll(() => {
  tmp = makeTempDir('framecast-config-');
});
afterAll(() => tmp.cleanup());

/** A config file in a directory of its own (so a leftover temp file is easy to spot). */
function file(text: string): string {
  const dir = join(tmp.dir, `c${n++}`);
  mkdirSync(dir);
  const path = join(dir, 'cams.yaml');
  writeFileSync(path, text);
  return path;
}

function configError(f: () => unknown): ConfigError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.code).toBe('ERR_USAGE');
    expect(e.exitCode).toBe(2);
    expect(e.message).not.toMatch(/[\r\n]/);
    return e;
  }
  throw new Error('expected a ConfigError');
}

async function rejected(p: Promise<unknown>): Promise<ConfigError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  return configError(() => {
    throw err ?? new Error('expected a rejection');
  });
}

describe('loadConfig', () => {
  it('loads every setting, applying streamDefaults then the built-in defaults', () => {
    const path = file(`host: 0.0.0.0
port: 9000
httpPort: 8081
token: s3cret-token
adminToken: adm1n-token
allowLegacy: true
allowOrigin: https://example.com:8443
maxClientsPerIp: 20
stallTimeout: 2.5
tls: { cert: certs/cert.pem, key: /etc/framecast/key.pem }
streamDefaults:
  width: 640
  quality: 75
  preload: true
streams:
  cam1:
    source: rtsp://10.0.0.5/stream
    fps: 15
    quality: 90
    readToken: viewer-one
  lobby:
    source: test
    legacyPort: 9998
    encoder: ffmpeg
    pace: false
    loop: true
    retryDelayMs: 0
    maxClients: 5
    maxWaiting: 0
    width: 0
`);
    const dir = join(path, '..');
    expect(loadConfig(path)).toEqual({
      path,
      server: {
        host: '0.0.0.0',
        port: 9000,
        httpPort: 8081,
        token: 's3cret-token',
        adminToken: 'adm1n-token',
        allowLegacy: true,
        allowOrigin: 'https://example.com:8443',
        maxClientsPerIp: 20,
        stallTimeoutMs: 2500,
        tls: { certPath: join(dir, 'certs/cert.pem'), keyPath: '/etc/framecast/key.pem' },
      },
      bus: null,
      hooks: [],
      streamDefaults: { width: 640, quality: 75, preload: true },
      streams: [
        resolvedDefaults('cam1', 'rtsp://10.0.0.5/stream', {
          width: 640,
          quality: 90,
          preload: true,
          fps: 15,
          readToken: 'viewer-one',
        }),
        resolvedDefaults('lobby', 'test', {
          width: 0,
          quality: 75,
          preload: true,
          legacyPort: 9998,
          encoder: 'ffmpeg',
          pace: false,
          loop: true,
          retryDelayMs: 0,
          maxClients: 5,
          maxWaiting: 0,
        }),
      ],
      defaultStream: 'cam1',
      raw: {
        streams: {
          cam1: { source: 'rtsp://10.0.0.5/stream', fps: 15, quality: 90, readToken: 'viewer-one' },
          lobby: {
            source: 'test',
            legacyPort: 9998,
            encoder: 'ffmpeg',
            pace: false,
            loop: true,
            retryDelayMs: 0,
            maxClients: 5,
            maxWaiting: 0,
            width: 0,
          },
        },
      },
    } satisfies LoadedConfig);
  });

  it('leaves absent server settings undefined, reads httpPort: off as null', () => {
    const c = parseConfig('httpPort: off\nstreams:\n  a: { source: test }\n', 'cams.yaml');
    expect(c.server).toEqual({ httpPort: null });
    expect(c.streamDefaults).toEqual({});
    expect(c.streams).toEqual([resolvedDefaults('a', 'test')]);
  });

  it('takes the first stream in file order as the default, even before a numeric name', () => {
    const c = parseConfig('streams:\n  zeta: { source: test }\n  2: { source: test }\n', 'cams.yaml');
    expect(c.streams.map((s) => s.name)).toEqual(['zeta', '2']);
    expect(c.defaultStream).toBe('zeta');
  });

  it('loads examples/framecast.yaml', () => {
    const c = loadConfig(EXAMPLE);
    expect(c.streams.map((s) => s.name)).toEqual(['lobby', 'clip']);
    expect(c.streams[0]).toMatchObject({ width: 640, quality: 75, fps: 15, legacyPort: 9998 });
  });
});

describe('config errors name the file, the line and the field, on one line', () => {
  const known = STREAM_FIELDS.join(', ');
  const cases: [what: string, text: string, message: string][] = [
    [
      'a stream value of the wrong type',
      'streams:\n  cam1:\n    source: test\n    loop: "yes"\n',
      'cams.yaml:4: streams.cam1.loop: must be true or false, got "yes"',
    ],
    [
      'a server value of the wrong type',
      'port: "9999"\nstreams:\n  a: { source: test }\n',
      'cams.yaml:1: port: must be an integer from 0 to 65535, got "9999"',
    ],
    [
      'an out-of-range value (at the line of the value)',
      'streams:\n  cam1:\n    source: test\n    fps:\n      0\n',
      'cams.yaml:5: streams.cam1.fps: must be from 0.1 to 1000 (or null), got 0',
    ],
    [
      'an out-of-range stream default',
      'streamDefaults:\n  quality: 101\nstreams:\n  a: { source: test }\n',
      'cams.yaml:2: streamDefaults.quality: must be an integer from 1 to 100, got 101',
    ],
    [
      'an unknown stream key (at the line of the key)',
      'streams:\n  cam1:\n    source: test\n    fsp:\n      15\n',
      `cams.yaml:4: streams.cam1.fsp: unknown stream setting (known: ${known})`,
    ],
    [
      'an unknown server key',
      'streams:\n  a: { source: test }\nprot: 9999\n',
      'cams.yaml:3: prot: unknown setting (known: host, port, httpPort, token, adminToken, allowLegacy, ' +
        'allowOrigin, maxClientsPerIp, stallTimeout, tls, sourcePaths, recordMaxBytes, auth, bus, hooks, streamDefaults, streams)',
    ],
    [
      'a missing source (at the stream)',
      'port: 9999\nstreams:\n  cam1:\n    fps: 5\n',
      'cams.yaml:3: streams.cam1.source: required: a file, URL, webcam, test or publisher',
    ],
    [
      'a source in streamDefaults',
      'streamDefaults:\n  source: test\nstreams:\n  a: { source: test }\n',
      'cams.yaml:2: streamDefaults.source: each stream has its own source: move it under streams',
    ],
    [
      'a bad stream name',
      'streams:\n  "cam 1":\n    source: test\n',
      `cams.yaml:2: streams."cam 1": must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit, got "cam 1"`,
    ],
    [
      'an empty value that would silently mean the default',
      'streams:\n  a:\n    source: test\n    width:\n',
      'cams.yaml:4: streams.a.width: is empty: give a value or remove the line',
    ],
    [
      'a duplicate legacyPort (at the second)',
      'streams:\n  a:\n    source: test\n    legacyPort: 9000\n  b:\n    source: test\n    legacyPort: 9000\n',
      'cams.yaml:7: streams.b.legacyPort: 9000 is already the legacyPort of stream a',
    ],
    [
      "a legacyPort equal to the server's port",
      'port: 9100\nstreams:\n  a:\n    source: test\n    legacyPort: 9100\n',
      "cams.yaml:5: streams.a.legacyPort: 9100 is the server's port",
    ],
    [
      'a legacyPort with a token but no allowLegacy',
      'token: s3cret\nstreams:\n  a:\n    source: test\n    legacyPort: 9998\n',
      'cams.yaml:5: streams.a.legacyPort: serves seed clients, which cannot present a token: add allowLegacy: true',
    ],
    [
      'a YAML syntax error (at its line)',
      'streams:\n  cam1:\n    source: test\n   quality: 80\n',
      'cams.yaml:4: All mapping items must start at the same column',
    ],
    [
      'a duplicate stream name',
      'streams:\n  cam1:\n    source: test\n  cam1:\n    source: test\n',
      'cams.yaml:4: Map keys must be unique',
    ],
    [
      'an empty streams mapping',
      'port: 9999\nstreams: {}\n',
      'cams.yaml:2: streams: at least one stream is required',
    ],
    [
      'a streams key with nothing',
      'streams:\n# none yet\n',
      'cams.yaml:1: streams: at least one stream is required',
    ],
    [
      'no streams key',
      '# nothing\nport: 9999\n',
      'cams.yaml:2: streams: required: a mapping of stream names to settings',
    ],
    [
      'an empty file',
      '# only a comment\n',
      'cams.yaml:1: streams: at least one stream is required (the file is empty)',
    ],
    [
      'a stallTimeout under a second',
      'stallTimeout: 0.5\nstreams:\n  a: { source: test }\n',
      'cams.yaml:1: stallTimeout: must be 0 or from 1 to 86400 seconds, got 0.5',
    ],
    [
      'tls without a key',
      'streams:\n  a: { source: test }\ntls:\n  cert: cert.pem\n',
      "cams.yaml:4: tls.key: required: the private key's PEM file",
    ],
    [
      'a plain password in auth.users (at its line, not echoed)',
      'streams:\n  a: { source: test }\nauth:\n  users:\n    alice:\n      password: hunter2\n',
      'cams.yaml:6: auth.users.alice.password: must be a hash printed by `framecast hash-password` ($scrypt$ln=..,r=..,p=..$SALT$HASH)',
    ],
    [
      'an unknown action in a permission (at its line)',
      'auth:\n  anonymous:\n    permissions:\n      - action: read\n      - action: watch\nstreams:\n  a: { source: test }\n',
      'cams.yaml:5: auth.anonymous.permissions[1].action: must be one of read, playback, publish, annotate, record, api, metrics',
    ],
    [
      'a bad address range',
      'auth:\n  anonymous:\n    ips: [10.0.0.0/40]\nstreams:\n  a: { source: test }\n',
      'cams.yaml:3: auth.anonymous.ips[0]: must be an IPv4 or IPv6 address or ADDRESS/BITS, got "10.0.0.0/40"',
    ],
  ];

  it.each(cases)('%s', (_what, text, message) => {
    expect(configError(() => parseConfig(text, 'cams.yaml')).message).toBe(message);
  });

  it('never echoes a token, even a mistyped one', () => {
    const e = configError(() =>
      parseConfig('token: 31415926\nstreams:\n  a: { source: test }\n', 'cams.yaml'),
    );
    expect(e.message).toBe('cams.yaml:1: token: must be a string (quote it)');
  });

  it('an unreadable file: missing, or a directory', () => {
    const missing = join(tmp.dir, 'nope.yaml');
    expect(configError(() => loadConfig(missing)).message).toBe(`${missing}: cannot read: no such file`);
    expect(configError(() => loadConfig(tmp.dir)).message).toBe(`${tmp.dir}: cannot read: is a directory`);
  });
});

describe('bus:', () => {
  const STREAMS = 'streams:\n  a: { source: test }\n';
  /** A config file whose directory also holds ca.pem, client.pem, client.key, nats.creds and nkey.seed. */
  function withFiles(bus: string): string {
    const path = file(bus + STREAMS);
    for (const f of ['ca.pem', 'client.pem', 'client.key', 'nats.creds', 'nkey.seed'])
      writeFileSync(join(path, '..', f), 'x\n');
    return path;
  }

  it('reads url (one or a list), prefix, name, a login and TLS files relative to the file', () => {
    const path = withFiles(
      [
        'bus:',
        '  url: [nats://10.0.0.1:4222, "tls://nats.example.com:4443"]',
        '  prefix: site1.video',
        '  name: origin-1',
        '  user: framecast',
        '  password: "s3cret-pass"',
        '  tls: { ca: ca.pem, cert: client.pem, key: /dev/null }',
        '',
      ].join('\n'),
    );
    const dir = join(path, '..');
    expect(loadConfig(path).bus).toEqual({
      url: 'nats://10.0.0.1:4222,tls://nats.example.com:4443',
      prefix: 'site1.video',
      name: 'origin-1',
      user: 'framecast',
      password: 's3cret-pass',
      tls: { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'client.pem'), keyFile: '/dev/null' },
    });
    const creds = withFiles('bus:\n  url: nats://127.0.0.1:4222\n  creds: nats.creds\n  tls: true\n');
    expect(loadConfig(creds).bus).toEqual({
      url: 'nats://127.0.0.1:4222',
      credsFile: join(creds, '..', 'nats.creds'),
      tls: true,
    });
    // The password may stay out of the file ($FRAMECAST_BUS_PASSWORD).
    expect(parseConfig(`bus: { url: "nats://a:1", user: me }\n${STREAMS}`, 'cams.yaml').bus).toEqual({
      url: 'nats://a:1',
      user: 'me',
    });
    expect(parseConfig(`bus: null\n${STREAMS}`, 'cams.yaml').bus).toBeNull();
    expect(parseConfig(STREAMS, 'cams.yaml').bus).toBeNull();
  });

  const cases: [what: string, bus: string, message: string][] = [
    [
      'no url',
      'bus:\n  prefix: x\n',
      'cams.yaml:2: bus.url: required: the NATS server, nats://HOST:PORT (or a list)',
    ],
    [
      'a url of the wrong type',
      'bus:\n  url: 4222\n',
      'cams.yaml:2: bus.url: must be nats://HOST:PORT (or a list of them), got 4222',
    ],
    [
      'a url that is not nats://',
      'bus:\n  url: [nats://a:4222, "http://b:80"]\n',
      'cams.yaml:2: bus.url: must be nats://HOST:PORT (or a list of them), got "http://b:80"',
    ],
    [
      'credentials in a url (masked: NATS would not use them)',
      'bus:\n  url: [nats://a:4222, "http://u:pw@b:80"]\n',
      'cams.yaml:2: bus.url: credentials in the URL are not used ("http://***@b:80"); give them as bus.user and bus.password',
    ],
    ['an empty url list', 'bus:\n  url: []\n', 'cams.yaml:2: bus.url: must name at least one NATS server'],
    [
      'a prefix that is not subject tokens',
      'bus:\n  url: nats://a:4222\n  prefix: "cams.*"\n',
      "cams.yaml:3: bus.prefix: must be NATS subject tokens (letters, digits, _ -, dots between; at most 128 characters), got 'cams.*'",
    ],
    [
      'an unknown key',
      'bus:\n  url: nats://a:4222\n  pasword: x\n',
      'cams.yaml:3: bus.pasword: unknown bus setting (known: url, prefix, name, user, password, token, creds, nkey, tls, secret)',
    ],
    [
      'a password without a user',
      'bus:\n  url: nats://a:4222\n  password: pw\n',
      'cams.yaml:3: bus.user: required with bus.password',
    ],
    [
      'two logins',
      'bus:\n  url: nats://a:4222\n  user: me\n  password: pw\n  token: tok\n',
      'cams.yaml:5: bus: give one way to log in, not user/password and token',
    ],
    [
      'a password that is not a string (not echoed)',
      'bus:\n  url: nats://a:4222\n  user: me\n  password: 123456\n',
      'cams.yaml:4: bus.password: must be a string (quote it)',
    ],
    [
      'a missing creds file',
      'bus:\n  url: nats://a:4222\n  creds: missing.creds\n',
      'cams.yaml:3: bus.creds: DIR/missing.creds: no such file',
    ],
    [
      'a TLS cert without its key',
      'bus:\n  url: nats://a:4222\n  tls:\n    cert: client.pem\n',
      'cams.yaml:4: bus.tls.key: required: cert and key go together',
    ],
    [
      'a TLS file that is a directory',
      'bus:\n  url: nats://a:4222\n  tls: { ca: . }\n',
      'cams.yaml:3: bus.tls.ca: DIR: is a directory',
    ],
    [
      'tls of the wrong type',
      'bus:\n  url: nats://a:4222\n  tls: yes please\n',
      'cams.yaml:3: bus.tls: must be true, false or a mapping of ca, cert, key files, got "yes please"',
    ],
    [
      'bus of the wrong type',
      'bus: nats://a:4222\n',
      'cams.yaml:1: bus: must be a mapping, got "nats://a:4222"',
    ],
  ];

  it.each(cases)('%s', (_what, bus, message) => {
    const path = withFiles(bus);
    const dir = join(path, '..');
    const e = configError(() => loadConfig(path));
    expect(e.message).toBe(message.replace('cams.yaml', path).replace('DIR', dir));
  });

  // '@' in a password once showed its tail, '/' made the URL unparsable (echoed whole), ',' split it.
  it.each(['Xqj@Zkw@Wv9', 'Xqj/Zkw/Wv9', 'Xqj,Zkw,Wv9', 'Xqj@Zkw/Wv9,Tyu'])(
    'a bus url with the password %s: refused, the password never shown',
    (pw) => {
      const path = withFiles(`bus:\n  url: "nats://user:${pw}@nats.example:4222"\n`);
      const e = configError(() => loadConfig(path));
      expect(e.message).toContain('credentials in the URL are not used');
      expect(e.message).toContain('nats://***@nats.example:4222');
      for (const part of pw.split(/[@/,:]/)) expect(e.message).not.toContain(part);
    },
  );

  it('an edge reads bus: and the server settings from a file without streams', () => {
    const path = file('port: 9100\nhttpPort: off\ntoken: edge-token\nbus:\n  url: nats://127.0.0.1:4222\n');
    expect(loadEdgeConfig(path)).toEqual({
      path,
      server: { port: 9100, httpPort: null, token: 'edge-token' },
      bus: { url: 'nats://127.0.0.1:4222' },
    });
    // serve still needs its streams.
    expect(configError(() => loadConfig(path)).message).toMatch(/streams: required/);
  });
});

const BASE = `# framecast test config
port: 9999        # native port
httpPort: off

streamDefaults:
  quality: 70   # everywhere

streams:
  # the first camera
  cam1:   # entrance
    source: rtsp://10.0.0.5/stream   # main feed
    fps: 15
    # readToken: later
  lobby:
    source: test
    legacyPort: 9998
# end of file
`;

const LOBBY = '  lobby:\n    source: test\n    legacyPort: 9998\n';

describe('writeStream', () => {
  it('adds a stream after the last one, every other byte kept', async () => {
    const path = file(BASE);
    const c = await writeStream(path, 'cam2', { source: 'rtsp://cam/2?a=b', readToken: 'viewer-two' });
    const added = '  cam2:\n    source: rtsp://cam/2?a=b\n    readToken: viewer-two\n';
    expect(readFileSync(path, 'utf8')).toBe(BASE.replace(LOBBY, LOBBY + added));
    expect(c.streams.map((s) => s.name)).toEqual(['cam1', 'lobby', 'cam2']);
    expect(c.streams[2]).toEqual(
      resolvedDefaults('cam2', 'rtsp://cam/2?a=b', { quality: 70, readToken: 'viewer-two' }),
    );
  });

  it('replaces a stream in place: key, comments around it, unchanged lines and inline comments kept', async () => {
    const path = file(BASE);
    const c = await writeStream(path, 'cam1', { source: 'rtsp://10.0.0.5/stream', fps: 10, width: 320 });
    const expected = BASE.replace('    fps: 15\n', '    fps: 10\n    width: 320\n');
    expect(readFileSync(path, 'utf8')).toBe(expected);
    expect(c.defaultStream).toBe('cam1');
    expect(c.raw.streams.cam1).toEqual({ source: 'rtsp://10.0.0.5/stream', fps: 10, width: 320 });
  });

  it('replaces a value and drops a field that the new config leaves out', async () => {
    const path = file(BASE);
    await writeStream(path, 'lobby', { source: 'clip.mp4' });
    expect(readFileSync(path, 'utf8')).toBe(BASE.replace(LOBBY, '  lobby:\n    source: clip.mp4\n'));
  });

  it('deletes a stream: its lines go, the comments of the others stay', async () => {
    const path = file(BASE);
    const c = await writeStream(path, 'lobby', null);
    expect(readFileSync(path, 'utf8')).toBe(BASE.replace(LOBBY, ''));
    expect(c.streams.map((s) => s.name)).toEqual(['cam1']);
  });

  it('deleting the first stream makes the next the default; comments above it stay', async () => {
    const path = file(BASE);
    const c = await writeStream(path, 'cam1', null);
    const cam1 = '  cam1:   # entrance\n    source: rtsp://10.0.0.5/stream   # main feed\n    fps: 15\n';
    expect(readFileSync(path, 'utf8')).toBe(BASE.replace(cam1, ''));
    expect(c.defaultStream).toBe('lobby');
  });

  it('writes an odd string so that it reads back the same', async () => {
    const path = file(BASE);
    const source = 'http://cam/x.mjpg?a=b #frag: "q"';
    const c = await writeStream(path, '1.50', { source, fps: 2.5 });
    expect(c.raw.streams['1.50']).toEqual({ source, fps: 2.5 });
    expect(loadConfig(path).streams[2]).toMatchObject({ name: '1.50', source, fps: 2.5 });
  });

  it('edits flow-style streams too', async () => {
    const text = 'streams: { a: { source: test }, b: { source: test, fps: 5 } }  # flow\n';
    const path = file(text);
    await writeStream(path, 'c', { source: 'test' });
    await writeStream(path, 'b', { source: 'test', fps: 6 });
    expect(loadConfig(path).raw.streams).toEqual({
      a: { source: 'test' },
      b: { source: 'test', fps: 6 },
      c: { source: 'test' },
    });
  });

  it('replaces a one-line stream on its line', async () => {
    const text = 'streams:\n  a: { source: test }   # keep\n  b: { source: test }\n';
    const path = file(text);
    await writeStream(path, 'a', { source: 'clip.mp4', loop: true });
    expect(readFileSync(path, 'utf8')).toBe(
      'streams:\n  a: { source: clip.mp4, loop: true }   # keep\n  b: { source: test }\n',
    );
  });

  it('gives a file without streams its first one', async () => {
    const noKey = file('# settings\nport: 9999');
    await writeStream(noKey, 'a', { source: 'test' });
    expect(readFileSync(noKey, 'utf8')).toBe('# settings\nport: 9999\nstreams:\n  a:\n    source: test\n');
    const emptyKey = file('port: 9999\nstreams:\n');
    const c = await writeStream(emptyKey, 'a', { source: 'test' });
    expect(c.streams.map((s) => s.name)).toEqual(['a']);
  });

  it('an invalid stream leaves the file untouched', async () => {
    const path = file(BASE);
    const before = readFileSync(path);
    const ino = statSync(path).ino;
    const e = await rejected(writeStream(path, 'cam1', { source: 'test', fps: 0 }));
    expect(e.message).toBe(`${path}: streams.cam1.fps: must be from 0.1 to 1000 (or null), got 0`);
    const unknown = await rejected(writeStream(path, 'cam1', { source: 'test', fsp: 5 } as never));
    expect(unknown.message).toMatch(/^.*: streams\.cam1\.fsp: unknown setting/);
    const name = await rejected(writeStream(path, 'bad name', { source: 'test' }));
    expect(name.message).toMatch(/: streams\."bad name": must be 1-64 letters/);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(statSync(path).ino).toBe(ino);
  });

  it('a result that would be invalid leaves the file untouched', async () => {
    const path = file(BASE);
    const before = readFileSync(path);
    const dup = await rejected(writeStream(path, 'cam2', { source: 'test', legacyPort: 9998 }));
    // The line is the one the stream would have had.
    expect(dup.message).toBe(
      `${path}:19: streams.cam2.legacyPort: 9998 is already the legacyPort of stream lobby`,
    );
    await writeStream(path, 'lobby', null);
    const written = readFileSync(path);
    const last = await rejected(writeStream(path, 'cam1', null));
    expect(last.message).toBe(`${path}:8: streams: at least one stream is required`);
    const none = await rejected(writeStream(path, 'nope', null));
    expect(none.message).toBe(`${path}: streams.nope: no such stream (nothing to remove)`);
    expect(readFileSync(path).equals(written)).toBe(true);
    expect(before.equals(written)).toBe(false);
  });

  it('replaces the file atomically: a new inode, no temp file left, permissions kept', async () => {
    const path = file(BASE);
    chmodSync(path, 0o640);
    const ino = statSync(path).ino;
    await writeStream(path, 'cam2', { source: 'test' });
    const after = statSync(path);
    expect(after.ino).not.toBe(ino);
    expect(after.mode & 0o777).toBe(0o640);
    expect(readdirSync(join(path, '..'))).toEqual(['cams.yaml']);
  });

  it('does not rewrite a file when nothing changes', async () => {
    const path = file(BASE);
    const ino = statSync(path).ino;
    await writeStream(path, 'lobby', { source: 'test', legacyPort: 9998 });
    expect(statSync(path).ino).toBe(ino);
  });

  it('serializes concurrent writes to one file, and a reader never sees it empty or partial', async () => {
    const path = file(BASE);
    let reads = 0;
    let bad: string | null = null;
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const text = readFileSync(path, 'utf8');
        reads++;
        if (!text.endsWith('# end of file\n')) bad = text;
        await new Promise((r) => setImmediate(r));
      }
    })();
    const names = Array.from({ length: 8 }, (_, i) => `s${i}`);
    const results = await Promise.all(names.map((name) => writeStream(path, name, { source: 'test' })));
    writing = false;
    await reader;
    expect(loadConfig(path).streams.map((s) => s.name)).toEqual(['cam1', 'lobby', ...names]);
    expect(results[7]!.streams).toHaveLength(10);
    expect(bad).toBeNull();
    expect(reads).toBeGreaterThan(0);
  });
});
