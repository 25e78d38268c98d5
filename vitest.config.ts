import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Two cores: engine suites are heavy; run files two at a time.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'default', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/router/**', 'test/cli/**'] },
      },
      // The CLI's end-to-end tests spawn the built dist/cli.js: their global setup builds it when a source is newer.
      { extends: true, test: { name: 'cli', include: ['test/cli/**/*.test.ts'], globalSetup: ['test/cli/global-setup.ts'] } },
      // The router files share one PostgreSQL primary + standby pair, and pg-router.test.ts kills and
      // promotes it: one file at a time, so the RouterDriver conformance suite never probes a drill.
      { extends: true, test: { name: 'router', include: ['test/router/**/*.test.ts'], fileParallelism: false } },
    ],
  },
});
