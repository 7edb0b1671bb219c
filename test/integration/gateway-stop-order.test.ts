/**
 * A stopping gateway closes its stores last: nothing it left running writes
 * to them afterwards. A parked session's expiry timer firing into a closed
 * durable store once ended the process with an unhandled rejection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, expect, it } from 'vitest';
import { startGateway } from '../helpers/gateway.js';
import { until } from '../helpers/run.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

it('a session parked when the gateway stops does not expire into the closed durable store', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tg-stop-order-'));
  dirs.push(dir);
  const gw = await startGateway({
    listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
    pools: [{ name: 'default', endpoints: [{ url: 'http://127.0.0.1:9' }] }],
    routes: [{ match: { address: '#' }, target: 'devices' }],
    state: { durable: true, directory: dir },
  });
  const rejections: unknown[] = [];
  const onRejection = (err: unknown): void => {
    rejections.push(err);
  };
  process.on('unhandledRejection', onRejection);
  try {
    const c = mqtt.connect(`mqtt://127.0.0.1:${gw.port('mqtt')}`, {
      clientId: 'parked-at-stop',
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 1 },
      reconnectPeriod: 0,
    });
    await new Promise<void>((resolve, reject) => c.once('connect', () => resolve()).once('error', reject));
    await c.subscribeAsync('cmd/#', { qos: 1 });
    const store = gw.gateway.sessions;
    let expiries = 0;
    const expire = store.expire.bind(store);
    store.expire = (now) => {
      expiries++;
      return expire(now);
    };
    // Closed by the gateway's stop: the session is parked with its one-second expiry.
    await gw.stop();
    c.end(true);
    await until(() => gw.logs.some((l) => l.msg === 'thinggate stopped'));
    await new Promise((r) => setTimeout(r, 1500));
    expect(rejections).toEqual([]);
    expect(expiries).toBe(0);
    expect(gw.logs.filter((l) => String(l.msg).includes('session store failed'))).toEqual([]);
  } finally {
    process.off('unhandledRejection', onRejection);
  }
});
