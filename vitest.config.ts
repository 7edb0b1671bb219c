import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'scripts-examples/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    poolOptions: {
      // isolated-vm on Node >= 20 needs the startup snapshot disabled.
      forks: { execArgv: ['--no-node-snapshot'] },
    },
    // Suites bind real sockets and spawn real clients; two at a time suits a 2-core machine.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
