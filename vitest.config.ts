import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests spawn ffmpeg and servers; the CI machine has 2 cores.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // Fails the run if any process a test started (ffmpeg, a server, a browser) outlives the tests.
    globalSetup: ['test/global-orphans.ts'],
    // CI runs on a shared, noisy 2-core machine where a timing bound can miss once: a failed test is
    // run once more there, and the retried reporter names every test that needed it.
    retry: process.env.CI ? 1 : 0,
    reporters: ['default', './test/retried-reporter.ts'],
  },
});
