/**
 * A gateway with the `commands` section (its mailbox in a temporary
 * folder), an `mqtt` listener and the admin server on port 0, in front of a
 * TestBackend that also takes `async` callbacks; helpers for the command API.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { TestBackend } from '../helpers/backend.js';

export interface CommandBed {
  readonly gw: TestGateway;
  readonly backend: TestBackend;
  readonly mqttPort: number;
  readonly dir: string;
  /** POST a command for `clientId`; resolves to the status and the JSON body. */
  send(clientId: string, body: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }>;
  /** GET (or DELETE) under /api/v1/devices/{clientId}/commands. */
  call(method: 'GET' | 'DELETE', clientId: string, rest?: string): Promise<{ status: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function startCommandBed(commands: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<CommandBed> {
  const backend = await TestBackend.start();
  const dir = mkdtempSync(join(tmpdir(), 'tg-commands-'));
  const gw = await startGateway({
    listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
    pools: [{ name: 'default', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 }, outlierDetection: { enabled: false } }],
    routes: [{ name: 'all', match: { address: '#' }, pool: 'default' }],
    admin: { host: '127.0.0.1', port: 0 },
    commands: { directory: dir, sweepIntervalMs: 50, ...commands },
    ...extra,
  });
  const base = `http://127.0.0.1:${gw.gateway.adminAddress()!.port}/api/v1/devices`;
  const json = async (res: Response): Promise<{ status: number; body: Record<string, unknown> }> => ({
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
  });
  return {
    gw,
    backend,
    dir,
    mqttPort: gw.port('mqtt'),
    async send(clientId, body) {
      return json(
        await fetch(`${base}/${encodeURIComponent(clientId)}/commands`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }),
      );
    },
    async call(method, clientId, rest = '') {
      return json(await fetch(`${base}/${encodeURIComponent(clientId)}/commands${rest}`, { method }));
    },
    async close() {
      await gw.stop();
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
