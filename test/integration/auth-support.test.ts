/**
 * The test clients' runner (auth-support.ts run()): a command that closes
 * its standard input unread (mosquitto_pub -m ending at once on a refused
 * CONNECT) must not fail the test file with an uncaught EPIPE.
 */
import { expect, it } from 'vitest';
import { run } from './auth-support.js';

it('runs a command that closes its standard input before reading it', async () => {
  for (let i = 0; i < 5; i++) {
    const r = await run('sh', ['-c', 'exec 0<&-; sleep 0.1'], 'x'.repeat(1 << 20));
    expect(r.code).toBe(0);
  }
});
