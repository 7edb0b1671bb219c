/**
 * thinggate scenarios: MQTT 5 at QoS 0/1/2, QoS 1 with a batching pool,
 * CoAP confirmable and AMQP 1.0, each POSTing to the bench back-end.
 */
import { scryptSync, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startThinggate } from '../lib/thinggate.mjs';

/** 50 clients, 10 in flight each, 200-byte JSON payloads (issue 6, scenario 1). */
export const CLIENTS = 50;
export const WINDOW = 10;

/** Batching used by `mqtt-qos1-batch`: up to 100 messages or 5 ms per back-end request. */
export const BATCH = { maxMessages: 100, maxDelayMs: 5 };

/** thinggate's pool default (16 connections, up to 16 requests in flight each), which `egress-limit-pipelined` gives undici too. */
export const PIPELINED = { connections: 16, pipelining: 16 };

/** The pool of `mqtt-qos1-unpipelined`: one request per connection at a time. */
const UNPIPELINED = { pipelining: 1 };

/** The scripts section of `mqtt-qos1-batch-inline`: the trivial script on the event loop, not in a script thread. */
const INLINE_SCRIPTS = { threads: 0 };

/**
 * `mqtt-qos1-rest-auth`: every client logs in with a password (one scrypt
 * hash, N=2^17 as `thinggate passwd` writes) and each PUBLISH passes five ACL
 * rules, the fourth matching, so the cost of identity shows against `mqtt-qos1-rest`.
 */
const AUTH_PASSWORD = 'bench-password';
/** @type {import('../../dist/config/sections/security.js').AclRuleConfig[]} */
export const AUTH_ACL = [
  { deny: ['publish'], address: 'admin/#' },
  { allow: ['subscribe'], address: 'commands/{clientId}/#' },
  { allow: ['publish'], address: 'telemetry/{principal}/#' },
  { allow: ['publish'], address: 'bench/+/data' },
  { deny: ['publish', 'subscribe', 'receive'], address: '#' },
];

function credentialsFile() {
  const salt = randomBytes(16);
  const hash = scryptSync(AUTH_PASSWORD, salt, 32, { N: 131072, r: 8, p: 1, maxmem: 256 * 1024 * 1024 });
  return JSON.stringify({ users: { bench: { password: `scrypt$131072$8$1$${salt.toString('base64')}$${hash.toString('base64')}` } } });
}

/** Accepts the bench payload (bench/lib/payload.mjs): what `mqtt-qos1-schema` validates every message against. */
export const BENCH_SCHEMA = {
  type: 'object',
  required: ['r', 'c', 's', 't', 'd'],
  properties: { r: { type: 'integer' }, c: { type: 'integer' }, s: { type: 'integer' }, t: { type: 'number' }, d: { type: 'string', maxLength: 4096 } },
  additionalProperties: false,
};

/** A throw-away ECDSA P-256 certificate for `mqtts-qos1-rest`, made with openssl. */
function benchCertificate() {
  const dir = mkdtempSync(join(tmpdir(), 'thinggate-bench-cert-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/** The PSK of `coaps-con-rest` (RFC 4279 identity and key, as libcoap's `-u`/`-k` take them). */
const BENCH_PSK = { identity: 'bench', key: 'bench-key' };

/**
 * CoAP CON POSTs from the light generator (bench/lib/transports/coap-raw.mjs),
 * over plain UDP or over DTLS 1.2 PSK: the same CoAP code either way, so the
 * pair shows what DTLS costs (target: coaps ≥ 0.6× plain, issue 22).
 */
function coapRaw(name, dtls) {
  return {
    name,
    group: 'thinggate',
    kind: 'throughput',
    description: dtls
      ? "CoAP over DTLS 1.2 PSK (TLS_PSK_WITH_AES_128_CCM_8) confirmable POST, light generator, response after the back-end's 2xx"
      : "CoAP confirmable POST, light generator (coaps-con-rest's, without DTLS), response after the back-end's 2xx",
    async start(backend, ctx) {
      const t = await startThinggate(backend, {
        protocol: 'coap',
        listener: { coap: { requestsPerSecond: 0 }, ...(dtls && { dtls: { psk: [BENCH_PSK] } }) },
        cpuProf: ctx.cpuProf,
        label: name,
      });
      t.notes.push('coap.requestsPerSecond: 0 (the per-source flood limit is off)');
      if (dtls) t.notes.push('DTLS 1.2 PSK, TLS_PSK_WITH_AES_128_CCM_8, one association per client (handshakes before the measurement)');
      return {
        ...t,
        transport: { kind: 'coap-raw', host: '127.0.0.1', port: t.port, clients: CLIENTS, window: WINDOW, ...(dtls && { dtls: BENCH_PSK }) },
      };
    },
  };
}

/** The MQTT options of `mqtt-qos1-rest-sessions-off`: persistent sessions and retained messages off. */
const SESSIONS_OFF = { sessions: { enabled: false }, retainAvailable: false };

/** The route mirror of `mqtt-qos1-mirror`: a tenth of the messages copied to a rotating JSON-lines file. */
const MIRROR = { file: 'mirror.jsonl', sample: '10%' };

function mqtt(
  name,
  qos,
  { batch = false, unpipelined = false, inline = false, auth = false, tls = false, schema = false, sessionsOff = false, mirror = false, description },
) {
  return {
    name,
    group: 'thinggate',
    kind: 'throughput',
    description,
    async start(backend, ctx) {
      const t = await startThinggate(backend, {
        protocol: 'mqtt',
        ...(tls && { listener: { tls: { ...benchCertificate(), minVersion: 'TLSv1.3' } } }),
        ...(sessionsOff && { listener: { mqtt: SESSIONS_OFF } }),
        ...(schema && { route: { schema: 'bench.schema.json' }, files: { 'bench.schema.json': JSON.stringify(BENCH_SCHEMA) } }),
        ...(mirror && { route: { mirror: MIRROR } }),
        pool: batch ? { batch: BATCH } : unpipelined ? UNPIPELINED : undefined,
        ...(inline && { scripts: INLINE_SCRIPTS }),
        ...(auth && { listener: { auth: [{ type: 'password', file: 'users.json' }] }, acl: AUTH_ACL, files: { 'users.json': credentialsFile() } }),
        cpuProf: ctx.cpuProf,
        label: name,
      });
      const notes = [...t.notes];
      if (batch) notes.push(`pool batch: ${JSON.stringify(BATCH)}`);
      if (unpipelined) notes.push('pool: pipelining 1 (no HTTP/1.1 pipelining)');
      if (inline) notes.push('scripts.threads: 0 (the script runs on the event loop)');
      if (auth) notes.push('listener auth: password (scrypt N=2^17, one user for all clients); acl: 5 rules, the 4th matches');
      if (tls) notes.push('TLS 1.3, ECDSA P-256 server certificate');
      if (schema) notes.push('route schema: every payload validated (ajv)');
      if (mirror) notes.push(`route mirror: ${JSON.stringify(MIRROR)}`);
      if (sessionsOff) notes.push(`listener mqtt: ${JSON.stringify(SESSIONS_OFF)}`);
      const creds = auth ? { username: 'bench', password: AUTH_PASSWORD } : {};
      return {
        ...t,
        notes,
        transport: { kind: 'mqtt', host: '127.0.0.1', port: t.port, clients: CLIENTS, qos, version: 5, window: WINDOW, ...creds, ...(tls && { tls: {} }) },
      };
    },
  };
}

/**
 * MQTT 5 QoS 1 through a static route: JSON as it is, or CBOR re-encoded as JSON by plugins/cbor (docs/plugins.md).
 * `base`: a folder inside the repository holding another build's `dist/` and `plugins/` (THINGGATE_BENCH_BASE),
 * measured as `mqtt-qos1-cbor-json-base` in the same invocation.
 */
function mqttCodec(name, cbor, base) {
  return {
    name,
    group: 'thinggate',
    kind: 'throughput',
    description: cbor
      ? `MQTT 5, QoS 1, CBOR payloads decoded and sent to the back-end as JSON (static route, plugins/cbor)${base ? `, build ${base}` : ''}`
      : 'MQTT 5, QoS 1, JSON payloads passed through (static route)',
    async start(backend, ctx) {
      const t = await startThinggate(backend, {
        protocol: 'mqtt',
        routing: 'static',
        ...(cbor && { plugins: ['cbor'], route: { decode: 'application/cbor', request: { encode: 'application/json' } } }),
        ...(base && { dist: `${base}/dist`, pluginsDir: `${base}/plugins` }),
        cpuProf: ctx.cpuProf,
        label: name,
      });
      const notes = [
        ...t.notes,
        cbor
          ? 'route: decode application/cbor, request.encode application/json (the generator encodes each message as CBOR)'
          : 'route: static, payload passed through',
      ];
      return {
        ...t,
        notes,
        transport: { kind: 'mqtt', host: '127.0.0.1', port: t.port, clients: CLIENTS, qos: 1, version: 5, window: WINDOW, ...(cbor && { encoding: 'cbor' }) },
      };
    },
  };
}

/** The framed-tcp listener (plugins/framed-tcp) with the worked example's framing, 64-byte frames, a static route to the back-end. */
export const FRAMED = {
  framing: { type: 'length-prefixed', lengthBytes: 2, byteOrder: 'big' },
  header: { bytes: 8, deviceId: { offset: 0, length: 6, encoding: 'hex' } },
  address: 'bench/{deviceId}',
  contentType: 'application/json',
  ack: { payload: '06' },
  nack: { payload: '15' },
};

/**
 * framed-tcp-rest; `base`: a folder inside the repository holding another build's `dist/`
 * and `plugins/` (THINGGATE_BENCH_BASE), measured as `framed-tcp-rest-base` in the same invocation.
 */
function framed(name, base) {
  return {
    name,
    group: 'thinggate',
    kind: 'throughput',
    description: `framed-tcp plugin, 64-byte length-prefixed frames, acknowledgement frame after the back-end's 2xx (static route)${base ? `, build ${base}` : ''}`,
    async start(backend, ctx) {
      const t = await startThinggate(backend, {
        protocol: 'framed-tcp',
        routing: 'static',
        plugins: ['framed-tcp'],
        listener: { 'framed-tcp': FRAMED },
        cpuProf: ctx.cpuProf,
        label: name,
        ...(base && { dist: `${base}/dist`, pluginsDir: `${base}/plugins` }),
      });
      const notes = [...t.notes, 'listener: framed-tcp, 64-byte frames (2-byte length, 8-byte header, 54-byte JSON body)'];
      return { ...t, notes, transport: { kind: 'framed', host: '127.0.0.1', port: t.port, clients: CLIENTS, window: WINDOW, frameBytes: 64 } };
    },
  };
}

export const scenarios = [
  mqttCodec('mqtt-qos1-json-static', false),
  mqttCodec('mqtt-qos1-cbor-json', true),
  ...(process.env.THINGGATE_BENCH_BASE ? [mqttCodec('mqtt-qos1-cbor-json-base', true, process.env.THINGGATE_BENCH_BASE)] : []),
  framed('framed-tcp-rest'),
  ...(process.env.THINGGATE_BENCH_BASE ? [framed('framed-tcp-rest-base', process.env.THINGGATE_BENCH_BASE)] : []),
  mqtt('mqtt-qos1-rest', 1, { description: "MQTT 5, QoS 1, PUBACK after the back-end's 2xx" }),
  mqtt('mqtt-qos1-rest-auth', 1, { auth: true, description: 'MQTT 5, QoS 1, as mqtt-qos1-rest with password authentication and 5 ACL rules' }),
  mqtt('mqtt-qos0-rest', 0, { description: 'MQTT 5, QoS 0 (no acknowledgement: loss = sent − received)' }),
  mqtt('mqtt-qos2-rest', 2, { description: "MQTT 5, QoS 2, PUBCOMP after the back-end's 2xx" }),
  mqtt('mqtt-qos1-batch', 1, { batch: true, description: 'MQTT 5, QoS 1, pool batching (JSON array bodies)' }),
  mqtt('mqtt-qos1-batch-inline', 1, {
    batch: true,
    inline: true,
    description: 'MQTT 5, QoS 1, pool batching, the script on the event loop (scripts.threads: 0)',
  }),
  mqtt('mqtts-qos1-rest', 1, { tls: true, description: "MQTT 5 over TLS 1.3 (ECDSA P-256), QoS 1, PUBACK after the back-end's 2xx" }),
  mqtt('mqtt-qos1-schema', 1, { schema: true, description: 'MQTT 5, QoS 1, the route validates every payload against a JSON Schema' }),
  mqtt('mqtt-qos1-mirror', 1, {
    mirror: true,
    description: 'mqtt-qos1-rest with a route mirror copying 10 % of the messages to a JSON-lines file: the cost of the tap on the message path',
  }),
  mqtt('mqtt-qos1-rest-sessions-off', 1, {
    sessionsOff: true,
    description: 'mqtt-qos1-rest with persistent sessions and retained messages off: the cost of the features on the message path',
  }),
  mqtt('mqtt-qos1-unpipelined', 1, { unpipelined: true, description: 'MQTT 5, QoS 1, pool without HTTP/1.1 pipelining (pipelining: 1)' }),
  {
    name: 'coap-con-rest',
    group: 'thinggate',
    kind: 'throughput',
    description: "CoAP confirmable POST (node-coap client), ACK/response after the back-end's 2xx",
    async start(backend, ctx) {
      // The 50 generator clients are 50 sources on one address: the per-source
      // flood limit (100 requests/s by default, answered 4.29) is off, as a
      // gateway in front of a known device fleet under load would be configured.
      const t = await startThinggate(backend, {
        protocol: 'coap',
        listener: { coap: { requestsPerSecond: 0 } },
        cpuProf: ctx.cpuProf,
        label: 'coap-con-rest',
      });
      t.notes.push('coap.requestsPerSecond: 0 (the per-source flood limit is off)');
      return { ...t, transport: { kind: 'coap', host: '127.0.0.1', port: t.port, clients: CLIENTS, window: WINDOW, confirmable: true } };
    },
  },
  coapRaw('coap-con-rest-raw', false),
  coapRaw('coaps-con-rest', true),
  {
    name: 'amqp-rest',
    group: 'thinggate',
    kind: 'throughput',
    description: "AMQP 1.0 (rhea), unsettled transfers, accepted after the back-end's 2xx",
    async start(backend, ctx) {
      const t = await startThinggate(backend, { protocol: 'amqp', cpuProf: ctx.cpuProf, label: 'amqp-rest' });
      return { ...t, transport: { kind: 'amqp', host: '127.0.0.1', port: t.port, clients: CLIENTS, window: WINDOW } };
    },
  },
];
