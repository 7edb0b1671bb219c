/**
 * Full handshakes per second, from the built dist/ (each server a separate
 * process on 127.0.0.1):
 *  - TLS with a client certificate (mTLS, ECDSA P-256) against thinggate's
 *    mqtts listener and against mosquitto with the same certificates, in the
 *    same run: each connection completes the handshake and is closed;
 *  - DTLS 1.2 PSK (TLS_PSK_WITH_AES_128_CCM_8) against thinggate's coaps
 *    listener: cookie exchange, full handshake, close_notify
 *    (dtls-client.mjs).
 * C concurrent clients loop for D seconds per target, R runs; the median
 * and range of the rates are printed.
 *
 *   npm run build && node bench/handshakes/run.mjs [--seconds 5] [--clients 8] [--runs 3] [--only tls|dtls]
 *
 * TG_EXTRA_NODE_ARGS adds node flags to the gateway (e.g. `--cpu-prof
 * --cpu-prof-dir=DIR` to profile its handshake path), as for bench/run.mjs.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createSecureContext } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSeconds, freePort, spawnSupervised, stopChild, waitForPort } from '../lib/proc.mjs';
import { GATEWAY_NODE_ARGS, ROOT } from '../lib/thinggate.mjs';

const extraNodeArgs = process.env.TG_EXTRA_NODE_ARGS ? process.env.TG_EXTRA_NODE_ARGS.split(' ') : [];
import { DtlsPskClient } from './dtls-client.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    clients: { type: 'string', default: '8' },
    runs: { type: 'string', default: '3' },
    only: { type: 'string' },
  },
});
const TLS = values.only !== 'dtls';
const DTLS = values.only !== 'tls';
const SECONDS = Number(values.seconds);
const CLIENTS = Number(values.clients);
const RUNS = Number(values.runs);
const MOSQUITTO = '/usr/sbin/mosquitto';

const dir = mkdtempSync(join(tmpdir(), 'thinggate-handshakes-'));
const openssl = (args) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=bench CA']);
for (const [name, cn] of [
  ['server', 'localhost'],
  ['client', 'device-1'],
]) {
  openssl([
    'req',
    '-new',
    ...ec,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${cn}`,
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]);
  openssl([
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '1',
    '-copy_extensions',
    'copy',
  ]);
}
const file = (n) => readFileSync(join(dir, n));
// One client context for every connection: building it per connection would measure the client.
const clientTls = { secureContext: createSecureContext({ cert: file('client.crt'), key: file('client.key'), ca: file('ca.crt') }), servername: 'localhost' };

/** Handshakes per second, and the server's CPU µs per handshake when its pid is given. */
async function tlsRate(port, pid) {
  const cpu0 = pid ? await cpuSeconds(pid) : 0;
  let n = 0;
  const until = Date.now() + SECONDS * 1000;
  const loop = async () => {
    while (Date.now() < until) {
      await new Promise((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, ...clientTls }, () => {
          n++;
          s.destroy();
          resolve();
        });
        s.on('error', reject);
      });
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, loop));
  const cpu = pid ? ((await cpuSeconds(pid)) - cpu0) * 1e6 : 0;
  return { rate: n / SECONDS, cpuPer: n > 0 ? cpu / n : 0 };
}

async function dtlsRate(port) {
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const c = new DtlsPskClient(port, 'bench', 'bench-key');
      await c.open();
      return c;
    }),
  );
  let n = 0;
  const until = Date.now() + SECONDS * 1000;
  await Promise.all(
    clients.map(async (c) => {
      while (Date.now() < until) {
        await c.handshake();
        n++;
      }
    }),
  );
  for (const c of clients) c.close();
  return n / SECONDS;
}

const children = [];
try {
  const [mqttsPort, coapsPort, mosqPort] = [await freePort(), await freePort(), await freePort()];
  const config = {
    listeners: [
      {
        name: 'coaps',
        protocol: 'coap',
        host: '127.0.0.1',
        port: coapsPort,
        dtls: { psk: [{ identity: 'bench', key: 'bench-key' }] },
        coap: { requestsPerSecond: 0 },
      },
      {
        name: 'mqtts',
        protocol: 'mqtt',
        host: '127.0.0.1',
        port: mqttsPort,
        tls: { cert: 'server.crt', key: 'server.key', ca: 'ca.crt', clientCert: 'required' },
      },
    ],
    pools: [{ name: 'default', endpoints: [{ url: 'http://127.0.0.1:9' }] }],
    routes: [{ match: { address: '#' }, pool: 'default' }],
    log: { level: 'error' },
  };
  writeFileSync(join(dir, 'thinggate.json'), JSON.stringify(config));
  const cli = join(ROOT, 'dist', 'cli.js');
  children.push(
    await spawnSupervised(process.execPath, [...GATEWAY_NODE_ARGS, ...extraNodeArgs, cli, 'start', '-c', join(dir, 'thinggate.json')], {
      cwd: dir,
      name: 'thinggate',
      logFile: join(dir, 'thinggate.log'),
    }),
  );
  await waitForPort(mqttsPort, { child: children[0] });
  let mosquitto = false;
  if (TLS && existsSync(MOSQUITTO)) {
    writeFileSync(
      join(dir, 'mosquitto.conf'),
      [
        `listener ${mosqPort} 127.0.0.1`,
        `cafile ${join(dir, 'ca.crt')}`,
        `certfile ${join(dir, 'server.crt')}`,
        `keyfile ${join(dir, 'server.key')}`,
        'require_certificate true',
        'allow_anonymous true',
        '',
      ].join('\n'),
    );
    // mosquitto started as root drops to its own user, which must read the files.
    chmodSync(dir, 0o755);
    for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
    children.push(await spawnSupervised(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], { cwd: dir, name: 'mosquitto', logFile: join(dir, 'mosquitto.log') }));
    await waitForPort(mosqPort, { child: children[1] });
    mosquitto = true;
  }
  let bare;
  if (TLS) {
    const barePort = await freePort();
    const child = await spawnSupervised(process.execPath, [join(ROOT, 'bench/handshakes/bare-tls.mjs'), dir, String(barePort)], { cwd: dir, name: 'bare-tls' });
    children.push(child);
    await waitForPort(barePort, { child });
    bare = { port: barePort, pid: child.targetPid };
  }
  const rows = { 'thinggate mqtts (TLS, mTLS)': [], 'mosquitto (TLS, mTLS)': [], 'node tls, bare (TLS, mTLS)': [], 'thinggate coaps (DTLS 1.2 PSK CCM_8)': [] };
  /** Server CPU µs per TLS handshake, by target. */
  const cpu = { 'thinggate mqtts (TLS, mTLS)': [], 'mosquitto (TLS, mTLS)': [], 'node tls, bare (TLS, mTLS)': [] };
  const tlsRun = async (name, port, pid) => {
    const r = await tlsRate(port, pid);
    rows[name].push(r.rate);
    cpu[name].push(r.cpuPer);
  };
  for (let r = 0; r < RUNS; r++) {
    // The two TLS servers alternate which goes first, so that a host changing speed touches both.
    const tls = [() => tlsRun('thinggate mqtts (TLS, mTLS)', mqttsPort, children[0].targetPid)];
    if (mosquitto) tls.push(() => tlsRun('mosquitto (TLS, mTLS)', mosqPort, children[1].targetPid));
    if (bare) tls.push(() => tlsRun('node tls, bare (TLS, mTLS)', bare.port, bare.pid));
    if (TLS) for (const run of r % 2 === 0 ? tls : tls.reverse()) await run();
    if (DTLS) rows['thinggate coaps (DTLS 1.2 PSK CCM_8)'].push(await dtlsRate(coapsPort));
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log(`| target | handshakes/s, median (min–max) over ${RUNS} runs of ${SECONDS} s, ${CLIENTS} clients |`);
  console.log('|---|---|');
  for (const [name, v] of Object.entries(rows)) {
    if (v.length === 0) continue;
    console.log(`| ${name} | ${Math.round(median(v))} (${Math.round(Math.min(...v))}–${Math.round(Math.max(...v))}) |`);
  }
  if (TLS) {
    console.log('\nserver CPU µs per TLS handshake, median (runs):');
    for (const [name, v] of Object.entries(cpu)) if (v.length > 0) console.log(`  ${name}: ${Math.round(median(v))} (${v.map(Math.round).join(', ')})`);
  }
  const tg = median(rows['thinggate mqtts (TLS, mTLS)']);
  if (TLS && mosquitto) {
    console.log(`\nthinggate / mosquitto (TLS): ${(tg / median(rows['mosquitto (TLS, mTLS)'])).toFixed(2)}× handshakes/s`);
    const c = median(cpu['mosquitto (TLS, mTLS)']) / median(cpu['thinggate mqtts (TLS, mTLS)']);
    console.log(`mosquitto / thinggate server CPU per handshake: ${c.toFixed(2)}× (above 1: thinggate spends less)`);
  }
} finally {
  for (const c of children) await stopChild(c);
  rmSync(dir, { recursive: true, force: true });
}
