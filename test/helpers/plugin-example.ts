/** Starts a gateway on a plugin's example configuration, with its listeners on port 0 and its pools on a test back-end. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startGateway, type TestGateway } from './gateway.js';
import type { TestBackend } from './backend.js';

export function startExample(exampleDir: string, backend: TestBackend): Promise<TestGateway> {
  const raw = parse(readFileSync(join(exampleDir, 'thinggate.yaml'), 'utf8')) as {
    listeners: Array<{ port: number }>;
    pools: Array<{ endpoints: Array<{ url: string }> }>;
  };
  for (const l of raw.listeners) l.port = 0;
  for (const p of raw.pools) for (const e of p.endpoints) e.url = backend.url;
  return startGateway(raw, { baseDir: exampleDir });
}
