#!/usr/bin/env node
/**
 * Fails when the modules of src/ (TypeScript) or python/src/framecast (Python) import each other in
 * a circle, or when a room of src/ imports one it may not (RULES below). Every import counts, `import type` included: a circle of types is still two rooms that
 * cannot be understood one without the other. Prints each circle once, as a path of files.
 *
 *   node scripts/check-cycles.mjs          (run by `npm run lint`)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function files(dir, ext) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p, ext));
    else if (name.endsWith(ext) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** TypeScript: relative specifiers of import/export ... from '...' and import('...'). */
function tsEdges(file) {
  const text = readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+['"]([^'"]+)['"]/gms),
    ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
  ].map((m) => m[1]);
  return specs.filter((s) => s.startsWith('.')).map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

/** Python: `from .x import`, `from ..x import`, `from framecast.x import`, `import framecast.x`. */
function pyEdges(file, pkgDir) {
  const text = readFileSync(file, 'utf8');
  const out = [];
  for (const m of text.matchAll(/^\s*from\s+(\.+)([\w.]*)\s+import\s+([\w, ()]+)/gm)) {
    let base = dirname(file);
    for (let i = 1; i < m[1].length; i++) base = dirname(base);
    out.push(...pyTargets(base, m[2], m[3]));
  }
  for (const m of text.matchAll(/^\s*from\s+framecast((?:\.\w+)*)\s+import\s+([\w, ()]+)/gm))
    out.push(...pyTargets(pkgDir, m[1].slice(1), m[2]));
  return out;
}

function pyTargets(base, mod, names) {
  // `from . import x` names modules (the package's own __init__ is not a dependency of its modules).
  if (!mod)
    return names
      .replace(/[()]/g, '')
      .split(',')
      .map((n) => join(base, `${n.trim().split(/\s/)[0]}.py`));
  const path = join(base, ...mod.split('.'));
  return [`${path}.py`, join(path, '__init__.py')];
}

function cycles(graph) {
  const found = new Map();
  const state = new Map(); // 1 on the stack, 2 done
  const stack = [];
  const visit = (n) => {
    state.set(n, 1);
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (!graph.has(m)) continue;
      if (state.get(m) === 1) {
        const loop = stack.slice(stack.indexOf(m));
        // One report per circle, whichever node it was entered at.
        const key = [...loop].sort().join('|');
        if (!found.has(key)) found.set(key, [...loop, m]);
      } else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return [...found.values()];
}

const ts = files(join(root, 'src'), '.ts');
const tsGraph = new Map(ts.map((f) => [f, tsEdges(f)]));
const pkg = join(root, 'python', 'src', 'framecast');
const py = files(pkg, '.py');
const pyGraph = new Map(py.map((f) => [f, pyEdges(f, pkg).filter((t) => t !== f)]));

/**
 * The rooms' rules (docs/ARCHITECTURE.md): who may import whom. Each rule: files under `from` may not
 * import files under any of `not`.
 */
const RULES = [
  { from: 'src/config/', not: ['src/app/', 'src/transports/', 'src/bus/', 'src/cli/'] },
  { from: 'src/hub/', not: ['src/app/', 'src/transports/', 'src/bus/', 'src/cli/', 'src/streams/'] },
  // meta/ checks JSON and keeps annotations: pure, it imports nothing of the server's.
  {
    from: 'src/meta/',
    not: [
      'src/app/',
      'src/transports/',
      'src/bus/',
      'src/cli/',
      'src/streams/',
      'src/ingest/',
      'src/hub/',
      'src/protocol/',
      'src/encode/',
      'src/source/',
      'src/client/',
      'src/config/',
      'src/access/',
    ],
  },
  // access/ decides who may do what; it knows tokens, never a transport or a stream's machinery.
  {
    from: 'src/access/',
    not: ['src/app/', 'src/transports/', 'src/bus/', 'src/cli/', 'src/streams/', 'src/ingest/'],
  },
  { from: 'src/protocol/', not: ['src/app/', 'src/transports/', 'src/bus/', 'src/cli/'] },
  // record/ writes and reads recordings; transports serve them, never the other way round.
  { from: 'src/record/', not: ['src/app/', 'src/transports/', 'src/bus/', 'src/cli/', 'src/client/'] },
  // hooks/ turns streams' events into commands and requests; it never sees access, a transport or the bus.
  {
    from: 'src/hooks/',
    not: ['src/app/', 'src/transports/', 'src/bus/', 'src/cli/', 'src/access/', 'src/client/', 'src/config/'],
  },
  // app/ is the composition root: only the CLI and the package's entry point import it.
  ...[
    'access',
    'hooks',
    'meta',
    'record',
    'bus',
    'transports',
    'streams',
    'source',
    'encode',
    'ingest',
    'client',
    'config',
    'util',
  ].map((r) => ({
    from: `src/${r}/`,
    not: ['src/app/', 'src/cli/'],
  })),
];
const broken = [];
for (const [file, deps] of tsGraph) {
  const at = relative(root, file);
  for (const rule of RULES) {
    if (!at.startsWith(rule.from)) continue;
    for (const d of deps) {
      const to = relative(root, d);
      if (rule.not.some((n) => to.startsWith(n))) broken.push(`${at} imports ${to}`);
    }
  }
}
if (broken.length > 0) {
  console.error(`${broken.length} import(s) across the rooms' rules (docs/ARCHITECTURE.md):`);
  for (const b of broken) console.error(`  ${b}`);
  process.exitCode = 1;
}

const all = [...cycles(tsGraph), ...cycles(pyGraph)];
if (all.length === 0) {
  console.log(
    `no import circles (${ts.length} TypeScript and ${py.length} Python modules)${broken.length ? '' : ', rooms kept'}`,
  );
} else {
  console.error(`${all.length} import circle(s); break each (move what both need to a room below them):`);
  for (const c of all) console.error(`  ${c.map((f) => relative(root, f)).join(' -> ')}`);
  process.exitCode = 1;
}
