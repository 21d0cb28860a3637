import {
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
  lstatSync,
  readlinkSync,
  realpathSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeTempDir } from '../helpers/fixtures.js';

/** When set, opening a directory (the fsync after the rename) fails with this code (null: no code). */
let dirOpenFails: string | null | undefined;

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...real,
    open: async (...args: Parameters<typeof real.open>) => {
      if (dirOpenFails !== undefined && args[1] === 'r') {
        const err = new Error('refused by the test') as NodeJS.ErrnoException;
        if (dirOpenFails !== null) err.code = dirOpenFails;
        throw err;
      }
      return real.open(...args);
    },
  };
});

const { writeFileAtomic } = await import('../../src/config/atomic-write.js');

let tmp: ReturnType<typeof makeTempDir>;
let n = 0;
beforeAll(() => {
  tmp = makeTempDir('framecast-atomic-');
});
afterAll(() => tmp.cleanup());
afterEach(() => {
  dirOpenFails = undefined;
});

function dir(): string {
  const d = join(tmp.dir, `d${n++}`);
  mkdirSync(d);
  return d;
}

/** Open descriptors of this process on `dir` or a file in it (other tests may open files meanwhile). */
function openFdsIn(dir: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target === dir || target.startsWith(`${dir}/`);
    } catch {
      return false;
    }
  }).length;
}

describe('writeFileAtomic', () => {
  it('creates a missing file 0600 with the exact UTF-8 bytes and no temp file left', async () => {
    const d = dir();
    const p = join(d, 'new.yaml');
    await writeFileAtomic(p, 'name: café ✓\n');
    expect(readFileSync(p)).toEqual(Buffer.from('name: café ✓\n', 'utf8'));
    expect(statSync(p).mode & 0o7777).toBe(0o600);
    expect(readdirSync(d)).toEqual(['new.yaml']);
  });

  it('creates a missing file given by a path relative to the working directory', async () => {
    const d = dir();
    await writeFileAtomic(relative(process.cwd(), join(d, 'rel.yaml')), 'a: 1\n');
    expect(readFileSync(join(d, 'rel.yaml'), 'utf8')).toBe('a: 1\n');
    expect(readdirSync(d)).toEqual(['rel.yaml']);
  });

  it("keeps an existing file's permission bits and replaces a symlink's target", async () => {
    const d = dir();
    const target = join(d, 'real.yaml');
    writeFileSync(target, 'old\n');
    chmodSync(target, 0o640);
    const link = join(d, 'link.yaml');
    symlinkSync(target, link);
    await writeFileAtomic(link, 'new\n');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe('new\n');
    expect(statSync(target).mode & 0o7777).toBe(0o640);
    expect(readdirSync(d).sort()).toEqual(['link.yaml', 'real.yaml']);
  });

  it('closes every file it opened', async () => {
    const d = dir();
    const p = join(d, 'c.yaml');
    for (let i = 0; i < 5; i++) await writeFileAtomic(p, `x${i}\n`);
    expect(openFdsIn(realpathSync(d))).toBe(0);
  });

  it('removes its temp file and rethrows when the rename fails', async () => {
    const d = dir();
    const target = join(d, 'sub');
    mkdirSync(target);
    writeFileSync(join(target, 'inside'), 'x');
    await expect(writeFileAtomic(target, 'x\n')).rejects.toMatchObject({ code: expect.stringMatching(/^E/) });
    expect(readdirSync(d)).toEqual(['sub']);
  });

  it.each(['EISDIR', 'EPERM', 'EINVAL', 'EACCES', 'ENOTSUP', 'EBADF'])(
    'still succeeds when the directory cannot be fsynced (%s)',
    async (code) => {
      const d = dir();
      const p = join(d, 'f.yaml');
      dirOpenFails = code;
      await writeFileAtomic(p, 'ok\n');
      expect(readFileSync(p, 'utf8')).toBe('ok\n');
    },
  );

  it('fails on any other error fsyncing the directory, after the rename', async () => {
    const d = dir();
    const p = join(d, 'f.yaml');
    dirOpenFails = 'EIO';
    await expect(writeFileAtomic(p, 'ok\n')).rejects.toMatchObject({ code: 'EIO' });
    expect(readFileSync(p, 'utf8')).toBe('ok\n');
    dirOpenFails = null;
    await expect(writeFileAtomic(p, 'ok2\n')).rejects.toThrow('refused by the test');
  });
});
