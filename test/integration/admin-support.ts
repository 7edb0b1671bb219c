/**
 * Shared pieces of the admin tests: a gateway with an `mqtt` listener and the
 * admin server on 127.0.0.1 port 0 in front of a TestBackend, and a fetch
 * helper for the admin API.
 */
import { startGateway, type StartOptions, type TestGateway } from '../helpers/gateway.js';
import { TestBackend } from '../helpers/backend.js';

export interface AdminBed {
  readonly gw: TestGateway;
  readonly backend: TestBackend;
  /** The MQTT listener's port. */
  readonly mqttPort: number;
  /** http://127.0.0.1:PORT */
  readonly base: string;
  /** fetch against the admin server, with the bed's token unless `token` is given (null: none). */
  api(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  close(): Promise<void>;
}

export interface AdminBedOptions {
  readonly token?: string;
  readonly admin?: Record<string, unknown>;
  /** Pools, given the bed back-end's URL. */
  readonly pools?: (backendUrl: string) => unknown[];
  readonly routes?: unknown[];
  readonly log?: Record<string, unknown>;
  /** Listeners beside `mqtt`. */
  readonly listeners?: unknown[];
  readonly configLoader?: StartOptions['configLoader'];
}

export async function startAdminBed(options: AdminBedOptions = {}): Promise<AdminBed> {
  const backend = await TestBackend.start();
  let gw: TestGateway;
  try {
    gw = await startGateway(
      {
        listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }, ...(options.listeners ?? [])],
        pools: options.pools?.(backend.url) ?? [
          { name: 'default', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 }, outlierDetection: { enabled: false } },
        ],
        routes: options.routes ?? [{ name: 'all', match: { address: '#' }, pool: 'default' }],
        ...(options.log && { log: options.log }),
        admin: { host: '127.0.0.1', port: 0, ...(options.token !== undefined && { token: options.token }), ...options.admin },
      },
      options.configLoader ? { configLoader: options.configLoader } : {},
    );
  } catch (err) {
    await backend.close();
    throw err;
  }
  const base = `http://127.0.0.1:${gw.gateway.adminAddress()!.port}`;
  return {
    gw,
    backend,
    mqttPort: gw.port('mqtt'),
    base,
    api(path, init = {}) {
      const { token, ...rest } = init;
      const t = token === undefined ? options.token : token;
      const headers = new Headers(rest.headers);
      if (t) headers.set('authorization', `Bearer ${t}`);
      return fetch(base + path, { ...rest, headers });
    },
    async close() {
      await gw.stop();
      await backend.close();
    },
  };
}
