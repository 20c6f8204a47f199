import { defineConfig } from 'vitest/config';

// Tests need the servers that `npm test` provisions (scripts/test.mjs); see test-kit/src/env.ts.
export default defineConfig({
  test: {
    include: [
      'schema/test/**/*.test.ts',
      'platform/test/**/*.test.ts',
      'subgraphs/*/test/**/*.test.ts',
      'gateway/test/**/*.test.ts',
      'tests/**/*.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
