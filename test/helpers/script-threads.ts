/**
 * The vitest project `scripts-inline` (vitest.config.ts) runs the scripting
 * suites a second time with the scripts on the event loop
 * (`scripts.threads: 0`); a test that sets `threads` itself keeps its own.
 */
export function threadsUnderTest(): { threads?: number } {
  const t = process.env.TG_TEST_SCRIPT_THREADS;
  return t === undefined ? {} : { threads: Number(t) };
}
