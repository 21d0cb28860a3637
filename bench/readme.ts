/**
 * The README's generated parts: each lies between `<!-- bench:start NAME -->` and
 * `<!-- bench:end NAME -->` and is rewritten from bench/results/latest.json, so no figure there can
 * differ from the results file. `npm run bench:readme` rewrites them (and `npm run bench` does at its
 * end); `npm run bench:readme -- --check` only compares, for a lint.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { markdown, type BenchResults } from './report.js';
import { targetsTable } from './targets.js';

/** The repository's README. */
export const README = fileURLToPath(new URL('../README.md', import.meta.url));
/** The results its generated parts come from. */
export const LATEST = fileURLToPath(new URL('./results/latest.json', import.meta.url));

/** Every generated part, by marker name. */
export function readmeBlocks(r: BenchResults): Record<string, string> {
  return { results: markdown(r), targets: targetsTable(r) };
}

/** A generated part's markers. */
const START = (name: string): string => `<!-- bench:start ${name} -->`;
const END = (name: string): string => `<!-- bench:end ${name} -->`;

/**
 * `text` with every block's markers refilled (a blank line either side of the content, as Markdown
 * needs around a table). Throws when a block's markers are missing or out of order, or when the text
 * has markers for a block that is not generated.
 */
export function fillBlocks(text: string, blocks: Record<string, string>): string {
  for (const m of text.matchAll(/<!-- bench:start (\S+) -->/g))
    if (!((m[1] as string) in blocks)) throw new Error(`README has markers for an unknown block '${m[1]}'`);
  let out = text;
  for (const [name, body] of Object.entries(blocks)) {
    const a = out.indexOf(START(name));
    const b = out.indexOf(END(name));
    if (a < 0 || b < a) throw new Error(`README lacks '${START(name)}' ... '${END(name)}'`);
    out = out.slice(0, a) + `${START(name)}\n\n${body.trim()}\n\n` + out.slice(b);
  }
  return out;
}

/**
 * Rewrites the README from latest.json, or with `check` only compares. `upToDate`: the README was
 * already what latest.json gives; `changed`: the blocks that were (or would be) rewritten.
 */
export function updateReadme(opts: { check: boolean; readme?: string; latest?: string }): {
  upToDate: boolean;
  changed: string[];
} {
  const readme = opts.readme ?? README;
  const r = JSON.parse(readFileSync(opts.latest ?? LATEST, 'utf8')) as BenchResults;
  const before = readFileSync(readme, 'utf8');
  const blocks = readmeBlocks(r);
  const after = fillBlocks(before, blocks);
  const changed = Object.keys(blocks).filter((name) => section(before, name) !== section(after, name));
  if (!opts.check && after !== before) writeFileSync(readme, after);
  return { upToDate: after === before, changed };
}

/** The text between one block's markers. */
function section(text: string, name: string): string {
  return text.slice(text.indexOf(START(name)), text.indexOf(END(name)));
}
