import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    // e2e tests run a dozen CLI processes in sequence; on a loaded 2-core runner that can
    // take well over 30 s. The limit only guards against hangs, so it is generous.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // e2e suites spawn real processes; keep the 2-core machines from oversubscribing.
    maxWorkers: 2,
    // One throwaway PostgreSQL cluster per run for the postgres state backend's tests (started in the
    // background, only where the server binaries are; test/support/postgres.ts hands it to the tests).
    globalSetup: ['test/support/postgres-global.ts'],
  },
});
