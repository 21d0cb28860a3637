import { constants } from 'node:fs';
import { open, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/*
 * The files of a stream's recordings are opened only by names framecast made, inside the stream's
 * folder, and never through a symbolic link (a link planted there would otherwise let a recording
 * read or overwrite any file the server can reach).
 */

/** Opens `name` inside `dir` for reading, refusing a symbolic link. */
export function openSafe(dir: string, name: string): ReturnType<typeof open> {
  return open(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW);
}

/** Appends to a file (made when missing), refusing a symbolic link. */
export const APPEND_NOFOLLOW =
  constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW;

/**
 * Writes `path` as a new file (to be renamed into place): whatever is there is removed first (a
 * link itself, never its target), and the file is created exclusively, so no link is followed.
 */
export async function writeNew(path: string, data: Buffer): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await writeFile(path, data, { flag: 'wx' });
}

export async function readSafe(dir: string, name: string): Promise<Buffer> {
  const fh = await openSafe(dir, name);
  try {
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}
