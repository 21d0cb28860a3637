// Mutation testing of one folder at a time: run it through `npm run mutate -- src/FOLDER`
// (scripts/mutate.mjs), which sets the folder and the test files that import it.
const folder = process.env.FRAMECAST_MUTATE;
if (!folder) throw new Error('run mutation tests with: npm run mutate -- src/FOLDER');
/** `--files GLOB`: only those files of the folder (the report is then named apart). */
const files = JSON.parse(process.env.FRAMECAST_MUTATE_FILES ?? '[]');
const report = `reports/mutation/${folder.replaceAll('/', '-')}${files.length > 0 ? '--files' : ''}`;

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: files.length > 0 ? files : [`${folder}/**/*.ts`],
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts', related: false },
  coverageAnalysis: 'perTest',
  concurrency: 1,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `${report}.html` },
  jsonReporter: { fileName: `${report}.json` },
  // examples/ stays: the config tests load examples/framecast.yaml; native/build stays too, or the
  // sandbox would have no native encoder and its tests (renditions of raw frames) would be skipped.
  ignorePatterns: ['bench', 'python', 'docs', 'reports', 'dist'],
  timeoutMS: 10_000,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
