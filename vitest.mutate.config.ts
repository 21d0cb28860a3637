import { defineConfig } from 'vitest/config';

// The test files `npm run mutate` chose (those that import the mutated folder), one fork at a time.
const tests = JSON.parse(process.env['FRAMECAST_MUTATE_TESTS'] ?? '[]') as string[];

export default defineConfig({
  test: {
    include: tests,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // A few tests count frames per wall-clock interval; instrumented code on a loaded machine is slower.
    retry: 2,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
  },
});
