/**
 * `framecast publish --meta-file FILE`: a JSON lines file whose line N is the metadata of the Nth frame
 * published (an empty line: none for that frame; after the last line: none). Read and checked before
 * anything is published, so a bad line is a usage error naming the file and the line.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { DEFAULT_MAX_META_BYTES, checkMetaValue } from '../meta/meta-json.js';
import type { MetaObject } from '../client/frame-meta.js';

/** The metadata of each frame in order (null: none for that frame). */
export function readMetaFile(path: string, maxBytes = DEFAULT_MAX_META_BYTES): (MetaObject | null)[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new UsageError(`cannot read --meta-file ${path}: ${why}`);
  }
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((line, i) => {
    if (line.trim() === '') return null;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new UsageError(`--meta-file ${path}:${i + 1}: not JSON (${(err as Error).message})`);
    }
    const checked = checkMetaValue(value, maxBytes);
    if ('problem' in checked) throw new UsageError(`--meta-file ${path}:${i + 1}: ${checked.problem}`);
    return value as MetaObject;
  });
}
