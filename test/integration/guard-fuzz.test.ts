/**
 * Generated input over real sockets (fast-check, seeded): random bytes and
 * mutated valid frames for every listener (MQTT 3.1.1 and 5, AMQP, CoAP over
 * UDP, HTTP, the framed-tcp plugin), each on a fresh connection (CoAP: a
 * datagram) to one running gateway. Properties: every connection is
 * answered or closed by the gateway within a bound (the hello deadline,
 * AMQP's idle time-out and HTTP's request time-out are short here), the
 * process keeps running, and well-behaved clients of every protocol are
 * served afterwards. Bounded in count and time; a failure prints the seed
 * and path that replay it:
 *   FUZZ_SEED=<seed> npx vitest run test/integration/guard-fuzz.test.ts
 * FUZZ_RUNS raises the number of batches for a longer run (docs/guard.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { createSocket } from 'node:dgram';
import fc from 'fast-check';
import mqtt from 'mqtt';
import { generate } from 'mqtt-packet';
import rhea from 'rhea';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { run } from '../helpers/run.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261207);
const RUNS = Number(process.env.FUZZ_RUNS ?? 8);
/** Connections opened at once in one run of a property. */
const BATCH = 8;
/** Longest wait for an answer or a close: the deadlines below, with room for a loaded machine. */
const BOUND_MS = 4000;

let backend: TestBackend;
let gw: TestGateway;
const FRAMED_PLUGIN = join(import.meta.dirname, '../../plugins/framed-tcp');

beforeAll(async () => {
  backend = await TestBackend.start();
  const limits = { connectTimeoutMs: 300 };
  gw = await startGateway({
    plugins: [{ use: FRAMED_PLUGIN }],
    listeners: [
      { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0, limits },
      // A silent AMQP peer is closed after twice the idle time-out.
      { name: 'amqp', protocol: 'amqp', host: '127.0.0.1', port: 0, limits, amqp: { idleTimeoutMs: 500 } },
      { name: 'coap', protocol: 'coap', host: '127.0.0.1', port: 0 },
      { name: 'http', protocol: 'http', host: '127.0.0.1', port: 0, limits, http: { requestTimeoutMs: 1000, keepAliveTimeoutMs: 500 } },
      {
        name: 'framed',
        protocol: 'framed-tcp',
        host: '127.0.0.1',
        port: 0,
        limits,
        'framed-tcp': {
          framing: { type: 'length-prefixed', lengthBytes: 2 },
          header: { bytes: 4, deviceId: { offset: 0, length: 4, encoding: 'hex' } },
          address: 'f/{deviceId}',
        },
      },
    ],
    pools: [{ name: 'be', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 }, outlierDetection: { enabled: false } }],
    routes: [{ match: { address: '#' }, pool: 'be', request: { method: 'POST', path: '/m/{address}' } }],
    log: { level: 'warn' },
  });
}, 30_000);

afterAll(async () => {
  await gw?.stop();
  await backend?.close();
});

/** MQTT 3.1.1: CONNECT (keepalive 1 s), a QoS 1 PUBLISH and a SUBSCRIBE. */
const MQTT4_VALID = Buffer.concat([
  generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'f4', keepalive: 1, clean: true }),
  generate({ cmd: 'publish', topic: 't/a', payload: Buffer.from('x'), qos: 1, messageId: 1, retain: false, dup: false }),
  generate({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 't/#', qos: 1 }] }),
]);
/** MQTT 5: CONNECT with properties, a PUBLISH with a topic alias and user properties. */
const MQTT5_VALID = Buffer.concat([
  generate(
    {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clientId: 'f5',
      keepalive: 1,
      clean: true,
      properties: { sessionExpiryInterval: 0, receiveMaximum: 10, topicAliasMaximum: 4 },
    },
    { protocolVersion: 5 },
  ),
  generate(
    {
      cmd: 'publish',
      topic: 't/b',
      payload: Buffer.from('y'),
      qos: 1,
      messageId: 1,
      retain: false,
      dup: false,
      properties: { topicAlias: 1, userProperties: { k: 'v' } },
    },
    { protocolVersion: 5 },
  ),
]);

/** An AMQP frame on channel 0 around `body` (AMQP 1.0 §2.3.1). */
function amqpFrame(type: number, body: number[]): Buffer {
  const head = Buffer.from([0, 0, 0, 0, 2, type, 0, 0]);
  head.writeUInt32BE(8 + body.length, 0);
  return Buffer.concat([head, Buffer.from(body)]);
}
const AMQP_HEADER = [0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0];
const SASL_HEADER = [0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0];
/** open(container-id "x") and begin(next-outgoing-id 0, windows 256). */
const AMQP_OPEN_BEGIN = Buffer.concat([
  amqpFrame(0, [0x00, 0x53, 0x10, 0xc0, 0x04, 0x01, 0xa1, 0x01, 0x78]),
  amqpFrame(0, [0x00, 0x53, 0x11, 0xc0, 0x0d, 0x04, 0x40, 0x43, 0x70, 0, 0, 1, 0, 0x70, 0, 0, 1, 0]),
]);
const AMQP_VALID = Buffer.concat([Buffer.from(AMQP_HEADER), AMQP_OPEN_BEGIN]);
/** The SASL layer first: sasl-init ANONYMOUS (AMQP 1.0 §5.3.3.2), then the AMQP layer, pipelined. */
const AMQP_SASL_VALID = Buffer.concat([
  Buffer.from(SASL_HEADER),
  amqpFrame(1, [0x00, 0x53, 0x41, 0xc0, 0x0c, 0x01, 0xa3, 0x09, ...Buffer.from('ANONYMOUS')]),
  AMQP_VALID,
]);
/** CoAP CON POST /t with payload "x" (RFC 7252 §3). */
const COAP_VALID = Buffer.from([0x40, 0x02, 0x12, 0x34, 0xb1, 0x74, 0xff, 0x78]);
const HTTP_VALID = Buffer.from('POST /ingress/t/h HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\nx');
/** framed-tcp: 2-byte length, 4-byte header (the device id), a body. */
const FRAMED_VALID = Buffer.from([0, 6, 0xde, 0xad, 0xbe, 0xef, 0x7b, 0x7d]);

/** Random bytes, or a valid input with a few bytes replaced, cut short and given a random tail. */
function inputs(...valid: Buffer[]): fc.Arbitrary<Buffer> {
  const mutated = fc.constantFrom(...valid).chain((v) =>
    fc
      .tuple(fc.array(fc.tuple(fc.nat(v.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(v.length), fc.uint8Array({ maxLength: 24 }))
      .map(([edits, cut, tail]) => {
        const b = Buffer.from(v);
        for (const [at, byte] of edits) b[at] = byte;
        return Buffer.concat([b.subarray(0, Math.max(1, cut)), Buffer.from(tail)]);
      }),
  );
  const random = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a));
  return fc.oneof({ arbitrary: mutated, weight: 3 }, { arbitrary: random, weight: 1 });
}

type Outcome = 'answered' | 'closed' | 'silent';
/** Writes `bytes` on a fresh connection: answered (a byte came back), closed (by the gateway, silently), or silent for `ms`. */
function session(port: number, bytes: Buffer, ms: number, needClose: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    let answered = false;
    const done = (o: Outcome): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => done('silent'), ms);
    s.on('connect', () => s.write(bytes));
    s.on('data', () => {
      answered = true;
      if (!needClose) done('answered');
    });
    s.on('error', () => undefined);
    s.on('close', () => done(answered ? 'answered' : 'closed'));
  });
}

const params = (): fc.Parameters<[Buffer[]]> => ({ seed: SEED, numRuns: RUNS, endOnFailure: true, verbose: 1 });

/**
 * Every input in a batch, sent at once on its own connection, must be answered
 * or closed within BOUND_MS; with `needClose`, closed (a byte back is not enough).
 */
async function fuzzStream(listener: string, arb: fc.Arbitrary<Buffer>, needClose = false): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.array(arb, { minLength: 1, maxLength: BATCH }), async (batch) => {
      const outcomes = await Promise.all(batch.map((b) => session(gw.port(listener), b, BOUND_MS, needClose)));
      expect(outcomes).not.toContain('silent');
    }),
    params(),
  );
}

async function mqttServes(version: 4 | 5): Promise<void> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.port('mqtt')}`, { clientId: `after-${version}`, protocolVersion: version, reconnectPeriod: 0 });
  await c.publishAsync(`ok/mqtt${version}`, 'x', { qos: 1 });
  await c.endAsync();
  expect(backend.requests.some((q) => q.url === `/m/ok/mqtt${version}`)).toBe(true);
}

describe('fuzzing every listener over real sockets', { timeout: 30_000 }, () => {
  it('MQTT 3.1.1: every generated session is answered or closed', async () => {
    await fuzzStream('mqtt', inputs(MQTT4_VALID));
    await mqttServes(4);
  });

  it('MQTT 5: every generated session is answered or closed', async () => {
    await fuzzStream('mqtt', inputs(MQTT5_VALID));
    await mqttServes(5);
  });

  it('AMQP: every generated session is closed (hello deadline, idle time-out or the protocol error)', async () => {
    await fuzzStream('amqp', inputs(AMQP_VALID, AMQP_SASL_VALID), true);
    const c = rhea.create_container({ id: 'after-fuzz' });
    const conn = c.connect({ host: '127.0.0.1', port: gw.port('amqp'), reconnect: false });
    const outcome = await new Promise<string>((resolve, reject) => {
      conn.on('sendable', (x) => x.sender?.sendable() && x.sender.send({ body: 'x' }) && undefined);
      conn.on('accepted', () => resolve('accepted'));
      conn.on('rejected', () => resolve('rejected'));
      conn.on('disconnected', (x) => reject(x.error ?? new Error('disconnected')));
      conn.open_sender('ok/amqp');
    }).finally(() => conn.close());
    expect(outcome).toBe('accepted');
  });

  it('HTTP: every generated request is answered or closed', async () => {
    await fuzzStream('http', inputs(HTTP_VALID));
    const r = await fetch(`http://127.0.0.1:${gw.port('http')}/ingress/ok/http`, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } });
    expect(r.status).toBeLessThan(300);
  });

  it('framed-tcp: every generated session is answered or closed', async () => {
    await fuzzStream('framed', inputs(FRAMED_VALID));
    expect(await session(gw.port('framed'), FRAMED_VALID, BOUND_MS, false)).toBe('answered');
  });

  it('CoAP: generated datagrams never stop the listener from answering', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(inputs(COAP_VALID), { minLength: 1, maxLength: 4 * BATCH }), async (batch) => {
          for (const b of batch) await new Promise<void>((r) => sock.send(b, gw.port('coap'), '127.0.0.1', () => r()));
        }),
        params(),
      );
    } finally {
      sock.close();
    }
    const r = await run('/usr/bin/coap-client-notls', ['-m', 'post', '-e', 'x', '-B', '5', `coap://127.0.0.1:${gw.port('coap')}/ok/coap`], 15_000);
    expect(r.out).not.toMatch(/[45]\.\d\d|timeout/i);
    expect(backend.requests.some((q) => q.url === '/m/ok/coap')).toBe(true);
  });
});
