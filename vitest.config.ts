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
  },
});
