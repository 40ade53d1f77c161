import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // e2e suites spawn real processes; keep the 2-core machines from oversubscribing.
    maxWorkers: 2,
  },
});
