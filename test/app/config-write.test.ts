import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  editStream,
  fileStreams,
  loadEdgeConfig,
  parseConfig,
} from '../../src/config/config-file.js';
import type { StreamConfig } from '../../src/streams/stream-options.js';
import { makeTempDir } from '../helpers/fixtures.js';

let tmp: ReturnType<typeof makeTempDir>;
let n = 0;
beforeAll(() => {
  tmp = makeTempDir('framecast-config-write-');
});
afterAll(() => tmp.cleanup());

function file(text: string): string {
  const dir = join(tmp.dir, `w${n++}`);
  mkdirSync(dir);
  const path = join(dir, 'cams.yaml');
  writeFileSync(path, text);
  return path;
}

/** The ConfigError message editStream fails with, the file's path shown as F; the file is untouched. */
async function refused(text: string, name: string, config: unknown): Promise<string> {
  const path = file(text);
  const err: unknown = await editStream(path, name, config as StreamConfig).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  expect(readFileSync(path, 'utf8')).toBe(text);
  return (err as Error).message.replace(path, 'F');
}

describe('editStream refuses a change that would change more than its stream', () => {
  const why = (other: string) =>
    `F: streams.a: shares a YAML anchor with ${other}, which would change too: edit the file by hand`;

  it('another stream that aliases it', async () => {
    expect(
      await refused('streams:\n  a: &x\n    source: test\n  b: *x\n', 'a', { source: 'test', width: 640 }),
    ).toBe(why('stream b'));
  });

  it('the server settings', async () => {
    expect(
      await refused('streams:\n  a:\n    source: test\n    maxClients: &m 50\nmaxClientsPerIp: *m\n', 'a', {
        source: 'test',
        maxClients: 60,
      }),
    ).toBe(why('the server settings'));
  });

  it('the bus', async () => {
    expect(
      await refused('streams:\n  a:\n    source: &n test\nbus:\n  url: nats://h:1\n  name: *n\n', 'a', {
        source: 'test2',
      }),
    ).toBe(why('bus'));
  });

  it('streamDefaults', async () => {
    expect(
      await refused(
        'streams:\n  a:\n    source: test\n    quality: &q 50\nstreamDefaults:\n  quality: *q\n',
        'a',
        {
          source: 'test',
          quality: 60,
        },
      ),
    ).toBe(why('streamDefaults'));
  });

  it('removing a stream whose anchor is used elsewhere', async () => {
    expect(await refused('streams:\n  a: &x\n    source: test\n  b: *x\n', 'a', null)).toBe(
      'F: streams.a: holds a YAML anchor that other parts of the file use (*alias): edit the file by hand',
    );
  });
});

describe('editStream checks what it is given', () => {
  it('a config that is not an object is a TypeError', async () => {
    const path = file('streams:\n  a:\n    source: test\n');
    for (const bad of [5, 'x', [1]])
      await expect(editStream(path, 'a', bad as unknown as StreamConfig)).rejects.toThrow(
        new TypeError('config must be a StreamConfig object or null'),
      );
  });

  it('null only for the fields where it means something; undefined fields are left out', async () => {
    expect(await refused('streams:\n  a:\n    source: test\n', 'a', { source: 'test', width: null })).toBe(
      'F: streams.a.width: must not be null',
    );
    const edit = await editStream(file('streams:\n  a:\n    source: test\n'), 'a', {
      source: 'test',
      fps: null,
      width: undefined,
    });
    expect(edit.after.raw.streams).toEqual({ a: { source: 'test', fps: null } });
  });

  it('removing a stream the file does not have', async () => {
    expect(await refused('streams:\n  a:\n    source: test\n', 'b', null)).toBe(
      'F: streams.b: no such stream (nothing to remove)',
    );
  });

  it('a file that cannot be read', async () => {
    const path = join(tmp.dir, 'missing.yaml');
    await expect(editStream(path, 'a', null)).rejects.toThrow(`${path}: cannot read: no such file`);
  });
});

describe('write()', () => {
  it('refuses when the file changed since it was read, leaving the other change', async () => {
    const path = file('streams:\n  a:\n    source: test\n');
    const edit = await editStream(path, 'a', { source: 'test', width: 640 });
    writeFileSync(path, 'streams:\n  a:\n    source: test # theirs\n');
    await expect(edit.write()).rejects.toThrow(
      `${path}: the file changed while this change was made: try again`,
    );
    expect(readFileSync(path, 'utf8')).toBe('streams:\n  a:\n    source: test # theirs\n');
  });

  it('writes the edited text', async () => {
    const path = file('streams:\n  a:\n    source: test # mine\n');
    const edit = await editStream(path, 'a', { source: 'test', width: 640 });
    await edit.write();
    expect(readFileSync(path, 'utf8')).toBe('streams:\n  a:\n    source: test # mine\n    width: 640\n');
  });
});

describe('loadEdgeConfig', () => {
  it('reads the server settings and the bus; streams may be absent', () => {
    const path = file('port: 7000\nbus:\n  url: nats://h:4222\n');
    expect(loadEdgeConfig(path)).toEqual({ path, server: { port: 7000 }, bus: { url: 'nats://h:4222' } });
  });

  it('names why a file cannot be read', () => {
    const dir = join(tmp.dir, 'edge-dir');
    mkdirSync(dir);
    const plain = file('port: 1\n');
    expect(() => loadEdgeConfig(join(tmp.dir, 'nope.yaml'))).toThrow(
      `${join(tmp.dir, 'nope.yaml')}: cannot read: no such file`,
    );
    expect(() => loadEdgeConfig(dir)).toThrow(`${dir}: cannot read: is a directory`);
    expect(() => loadEdgeConfig(join(plain, 'x'))).toThrow(/: cannot read: ENOTDIR: not a directory/);
  });
});

describe('fileStreams', () => {
  it("puts the command line's settings over streamDefaults, and each stream's own over both", () => {
    const config = parseConfig(
      'streamDefaults:\n  quality: 50\n  width: 320\nstreams:\n  a:\n    source: test\n    width: 640\n  b:\n    source: test\n',
      'f.yaml',
    );
    const [a, b] = fileStreams(config, { quality: 70, fps: 5 });
    expect([a!.name, a!.width, a!.quality, a!.fps]).toEqual(['a', 640, 70, 5]);
    expect([b!.name, b!.width, b!.quality, b!.fps]).toEqual(['b', 320, 70, 5]);
  });
});
