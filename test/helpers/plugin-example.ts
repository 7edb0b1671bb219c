/** Starts a gateway on a plugin's example configuration, with its listeners on port 0 and its pools on a test back-end. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startGateway, type TestGateway } from './gateway.js';
import { afterAll, beforeAll } from 'vitest';
import { TestBackend, type Responder } from './backend.js';

export function startExample(exampleDir: string, backend: TestBackend): Promise<TestGateway> {
  const raw = parse(readFileSync(join(exampleDir, 'thinggate.yaml'), 'utf8')) as {
    listeners: Array<{ port: number }>;
    pools: Array<{ endpoints: Array<{ url: string }> }>;
  };
  for (const l of raw.listeners) l.port = 0;
  for (const p of raw.pools) for (const e of p.endpoints) e.url = backend.url;
  return startGateway(raw, { baseDir: exampleDir });
}

/** Registers beforeAll/afterAll hooks running a test back-end and a gateway on the example; the getters are valid inside tests. */
export function useExample(exampleDir: string, responder?: Responder): { readonly gw: TestGateway; readonly backend: TestBackend } {
  let backend: TestBackend | undefined;
  let gw: TestGateway | undefined;
  beforeAll(async () => {
    backend = await TestBackend.start(responder);
    gw = await startExample(exampleDir, backend);
  });
  afterAll(async () => {
    await gw?.stop();
    await backend?.close();
  });
  return {
    get gw() {
      return gw!;
    },
    get backend() {
      return backend!;
    },
  };
}
