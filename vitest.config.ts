import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
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
    projects: [
      { extends: true, test: { name: 'thinggate', include: ['test/**/*.test.ts', 'scripts-examples/**/*.test.ts', 'plugins/**/*.test.ts'] } },
      {
        // The scripting suites again, with scripts on the event loop (scripts.threads: 0; test/helpers/script-threads.ts).
        extends: true,
        test: {
          name: 'scripts-inline',
          include: [
            'test/unit/scripting/{admission,batching,decisions,failures,reload,sandbox,shared-state}.test.ts',
            'test/integration/scripting-{mqtt,pipeline}.test.ts',
          ],
          env: { TG_TEST_SCRIPT_THREADS: '0' },
        },
      },
    ],
  },
});
