/**
 * Password authentication on every listener with real clients: MQTT.js
 * (v5 and v3.1.1), mosquitto_pub -u/-P, curl Basic, Qpid Proton SASL PLAIN.
 * Right credentials become the identity the back-end sees; wrong ones get
 * each protocol's own refusal and an `auth-failure` security event; a
 * credentials file written by `thinggate passwd` is picked up while running.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { client } from './mqtt-support.js';
import { CLI, TempDir, connackCode, curlPost, protonSend, run, writeUsers } from './auth-support.js';
import { requestFor as backendRequest } from './auth-support.js';

const dir = new TempDir();
let backend: TestBackend;
let gw: TestGateway;

beforeAll(async () => {
  await writeUsers(dir.file('users.json'), { alice: { password: 'wonder-land', groups: ['sensors'], attributes: { tenant: 'acme' } } });
  backend = await TestBackend.start();
  const auth = [{ type: 'password', file: 'users.json' }];
  gw = await startGateway(
    {
      listeners: [
        { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0, auth },
        { name: 'web', protocol: 'http', host: '127.0.0.1', port: 0, auth },
        { name: 'amqp', protocol: 'amqp', host: '127.0.0.1', port: 0, auth },
      ],
      pools: [{ name: 'be', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
      routes: [{ match: { address: '#' }, pool: 'be', request: { path: '/{listener}/{address}' } }],
    },
    { baseDir: dir.path },
  );
});

afterAll(async () => {
  await gw?.stop();
  await backend?.close();
  dir.remove();
});

const requestFor = (path: string) => backendRequest(backend, path);

const refusal = (options: Record<string, unknown>) => connackCode(gw.port('mqtt'), options);

describe('password authentication', () => {
  it('MQTT.js v5 with the right password: the back-end sees the identity', async () => {
    const c = await client(gw.port('mqtt'), { protocolVersion: 5, clientId: 'a-1', username: 'alice', password: 'wonder-land' });
    await c.publishAsync('t/mqtt', 'x', { qos: 1 });
    await c.endAsync();
    expect((await requestFor('/mqtt/t/mqtt')).headers['x-thinggate-identity']).toBe('alice');
  });

  it('MQTT refuses a wrong password (v5 0x86, v3.1.1 0x04) and no credentials, as auth-failure events', async () => {
    const before = await gw.guardEvents('auth-failure', 'mqtt');
    expect(await refusal({ protocolVersion: 5, username: 'alice', password: 'wrong' })).toBe(0x86);
    expect(await refusal({ protocolVersion: 4, username: 'alice', password: 'wrong' })).toBe(0x04);
    expect(await refusal({ protocolVersion: 4 })).toBe(0x04);
    expect(await gw.guardEvents('auth-failure', 'mqtt')).toBe(before + 3);
    // The password appears nowhere in the log.
    expect(JSON.stringify(gw.logs)).not.toContain('wrong"');
  });

  it('mosquitto_pub -u/-P: right credentials deliver, wrong ones are refused', async () => {
    const port = String(gw.port('mqtt'));
    const ok = await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      port,
      '-V',
      'mqttv311',
      '-q',
      '1',
      '-u',
      'alice',
      '-P',
      'wonder-land',
      '-t',
      't/mosq',
      '-m',
      'hi',
    ]);
    expect(ok.code).toBe(0);
    expect((await requestFor('/mqtt/t/mosq')).headers['x-thinggate-identity']).toBe('alice');
    const bad = await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      port,
      '-V',
      'mqttv5',
      '-q',
      '1',
      '-u',
      'alice',
      '-P',
      'nope',
      '-t',
      't/mosq-bad',
      '-m',
      'hi',
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.toLowerCase()).toMatch(/bad user name or password|not authori/);
  });

  it('curl Basic: 202 with the right password, 401 with a challenge otherwise', async () => {
    const url = `http://127.0.0.1:${gw.port('web')}/ingress/t/http`;
    expect((await curlPost(url, ['-u', 'alice:wonder-land'])).status).toBe(202);
    expect((await requestFor('/web/t/http')).headers['x-thinggate-identity']).toBe('alice');
    const bad = await curlPost(url, ['-u', 'alice:nope']);
    expect(bad.status).toBe(401);
    expect(bad.headers).toContain('www-authenticate: basic realm="thinggate"');
    expect((await curlPost(url, [])).status).toBe(401);
  });

  it('Qpid Proton SASL PLAIN: right credentials deliver, wrong ones get amqp:unauthorized-access', async () => {
    const port = gw.port('amqp');
    const ok = await protonSend(`amqp://alice:wonder-land@127.0.0.1:${port}`, 't/amqp');
    expect(ok).toMatchObject({ accepted: 1 });
    expect((await requestFor('/amqp/t/amqp')).headers['x-thinggate-identity']).toBe('alice');
    const bad = await protonSend(`amqp://alice:nope@127.0.0.1:${port}`, 't/amqp-bad');
    expect(bad).toMatchObject({ accepted: 0 });
    expect(JSON.stringify(bad)).toMatch(/unauthorized-access|auth/);
    // ANONYMOUS is not offered where the listener needs credentials.
    const anon = await protonSend(`amqp://127.0.0.1:${port}`, 't/amqp-anon');
    expect(anon).toMatchObject({ accepted: 0 });
  });

  it('thinggate passwd writes a hash from standard input that the running gateway picks up', async () => {
    const r = await run(process.execPath, [CLI, 'passwd', dir.file('users.json'), 'bob'], 'builder-pw\n');
    expect(r.code).toBe(0);
    const text = readFileSync(dir.file('users.json'), 'utf8');
    expect(text).toMatch(/bob[\s\S]*scrypt\$131072\$8\$1\$/);
    expect(text).not.toContain('builder-pw');
    expect(text).toContain('alice'); // other users are kept
    let code: number | undefined;
    for (let i = 0; i < 400 && code !== 0; i++) {
      code = await refusal({ protocolVersion: 5, clientId: 'b-1', username: 'bob', password: 'builder-pw' });
      if (code !== 0) await new Promise((res) => setTimeout(res, 50));
    }
    expect(code).toBe(0);
    const usage = await run(process.execPath, [CLI, 'passwd', dir.file('users.json')], '');
    expect(usage.code).toBe(2);
    // Two node processes and two real-cost scrypt hashes: generous on a loaded machine.
  }, 90_000);
});
