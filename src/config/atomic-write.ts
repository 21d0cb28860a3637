import { randomBytes } from 'node:crypto';
import { open, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** Codes of platforms and filesystems that cannot fsync a directory (the rename itself is still atomic). */
const DIR_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EPERM', 'EINVAL', 'EACCES', 'ENOTSUP', 'EBADF']);

/**
 * Replaces the file at `path` with `data` so that a reader (or a crash) sees the old file or the new
 * one, never a mix or an empty file: a temp file in the same directory is written and fsynced, renamed
 * over the target, and the directory fsynced so the rename survives a power cut. A symlink is followed
 * (its target is replaced, the link stays) and the old file's permission bits are kept, since a config
 * file with tokens in it is often 0600; the temp file is created 0600 so they are never exposed.
 */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const target = await realpath(path).catch(() => resolve(path));
  const mode = await stat(target).then(
    (s) => s.mode & 0o7777,
    () => 0o600,
  );
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    try {
      await fh.writeFile(data, 'utf8');
      await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (err) {
    if (!DIR_SYNC_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    await fh?.close();
  }
}
