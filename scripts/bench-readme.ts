/**
 * `npm run bench:readme`: rewrites the README's generated bench parts (between
 * `<!-- bench:start NAME -->` and `<!-- bench:end NAME -->`) from bench/results/latest.json.
 *
 *   npm run bench:readme              rewrite them
 *   npm run bench:readme -- --check   exit 1 when the README differs from what latest.json gives
 */
import { parseArgs } from 'node:util';
import { updateReadme } from '../bench/readme.js';

const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
const check = values.check ?? false;
try {
  const { upToDate, changed } = updateReadme({ check });
  if (check && !upToDate) {
    process.stderr.write(
      `README.md differs from bench/results/latest.json in: ${changed.join(', ') || 'markers'}; ` +
        'run npm run bench:readme\n',
    );
    process.exit(1);
  }
  process.stdout.write(
    check
      ? 'README.md matches bench/results/latest.json\n'
      : upToDate
        ? 'README.md already matched bench/results/latest.json\n'
        : `README.md: rewrote ${changed.join(', ')} from bench/results/latest.json\n`,
  );
} catch (err) {
  process.stderr.write(`bench:readme: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
