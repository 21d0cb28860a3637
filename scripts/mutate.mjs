#!/usr/bin/env node
/**
 * `npm run mutate -- src/FOLDER [--tests PATH]...`: Stryker mutation testing of one source folder,
 * running only the test files that import a module of that folder directly (with --tests, only
 * those of them under PATH, e.g. `--tests test/protocol` for the folder's own unit tests; --tests may
 * be given several times, each a folder or one file: the files under any of them are run, e.g.
 * `--tests test/bus/bus-units.test.ts --tests test/bus/announcement.test.ts`). Test files that start the CLI or a server
 * process are left out: those run the built dist/, which never holds a mutant, so they could only
 * slow the run down. One mutant at a time (concurrency 1): the CI machine has two shared cores.
 *
 * `--files GLOB` (may be given several times) mutates only the folder's files matching GLOB (Stryker's
 * `mutate` patterns, relative to the repository, e.g. `--files src/transports/http/auth.ts` or
 * `--files 'src/transports/http/ws*.ts'`), to iterate on one file's tests; the test files are chosen as
 * without it. The report then goes to `reports/mutation/src-FOLDER--files.html` (and `.json`), leaving
 * the whole folder's report alone.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [arg, ...rest] = process.argv.slice(2);
/** The values given to `--NAME` (the options come in pairs: `--tests PATH`, `--files GLOB`). */
const values = (name) => rest.filter((_, i) => i % 2 === 1 && rest[i - 1] === name);
/** The --tests paths (none: every test file that imports the folder). */
const only = values('--tests');
/** The --files globs (none: every file of the folder). */
const files = values('--files');
if (
  !arg ||
  rest.some((a, i) => (i % 2 === 0 ? a !== '--tests' && a !== '--files' : !a)) ||
  rest.length % 2 === 1
) {
  console.error(
    'usage: npm run mutate -- src/FOLDER [--tests PATH]... [--files GLOB]...   (e.g. src/protocol --tests test/protocol)',
  );
  process.exit(2);
}
const under = only.map((p) => resolve(root, p));
for (const [i, p] of under.entries())
  if (!existsSync(p)) {
    console.error(`mutate: --tests ${only[i]} does not exist`);
    process.exit(2);
  }
const folder = resolve(root, arg);
if (!existsSync(folder) || !statSync(folder).isDirectory() || !folder.startsWith(join(root, 'src') + sep)) {
  console.error(`mutate: ${arg} is not a folder under src/`);
  process.exit(2);
}

/** Every *.test.ts under test/. */
function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return testFiles(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}

const IMPORT = /(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g;
/** Test code that runs dist/ (the CLI, a server child process) instead of src/. */
const RUNS_DIST = /helpers\/cli\.js|server-process\.js|server-child\.mjs/;

const tests = testFiles(join(root, 'test')).filter((file) => {
  if (under.length > 0 && !under.some((u) => file === u || file.startsWith(u + sep))) return false;
  const text = readFileSync(file, 'utf8');
  if (RUNS_DIST.test(text)) return false;
  for (const m of text.matchAll(IMPORT)) {
    const target = resolve(dirname(file), m[1]);
    if (target.startsWith(folder + sep)) return true;
  }
  return false;
});
const folderRel = relative(root, folder).split(sep).join('/');
for (const f of files)
  if (!f.replace(/^\.\//, '').startsWith(folderRel + '/')) {
    console.error(`mutate: --files ${f} is not under ${folderRel}/`);
    process.exit(2);
  }
if (tests.length === 0) {
  console.error(`mutate: no test file imports ${arg} directly`);
  process.exit(1);
}
const rel = folderRel;
const list = tests.map((t) => relative(root, t).split(sep).join('/'));
console.log(
  `mutating ${files.length > 0 ? files.join(' ') : rel + '/'} with ${list.length} test files:\n  ${list.join('\n  ')}`,
);

const r = spawnSync(join(root, 'node_modules', '.bin', 'stryker'), ['run', 'stryker.config.mjs'], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    FRAMECAST_MUTATE: rel,
    FRAMECAST_MUTATE_TESTS: JSON.stringify(list),
    FRAMECAST_MUTATE_FILES: JSON.stringify(files.map((f) => f.replace(/^\.\//, ''))),
  },
});
process.exit(r.status ?? 1);
