// Build step: the browser pages (src/web) are plain files, not TypeScript; copy them next to the
// compiled server so dist/ (and the published package) serves them.
import { cpSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(join(root, 'dist', 'web'), { recursive: true, force: true });
cpSync(join(root, 'src', 'web'), join(root, 'dist', 'web'), { recursive: true });
