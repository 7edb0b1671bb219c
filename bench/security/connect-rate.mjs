/**
 * Connection rate with password authentication (issue 21): MQTT CONNECT →
 * CONNACK → DISCONNECT cycles per second against
 *   - thinggate, `password` authenticator, verified cache off (`cacheTtlMs: 0`:
 *     every CONNECT runs scrypt N=2^17 r=8 p=1, as `thinggate passwd` writes);
 *   - thinggate, verified cache on (warmed: every CONNECT is a cache hit);
 *   - thinggate without authentication (the cost of the connection itself);
 *   - mosquitto 2 with a password file for the same users (`mosquitto_passwd`:
 *     PBKDF2-SHA512, its own cost, no cache).
 * Each client worker uses its own user and a fresh client id per connection,
 * so concurrent scrypts are not shared. Rounds are interleaved (every server
 * once per round) so a change in the machine's load hits all of them alike;
 * the figures are medians over rounds. Loopback only, bounded in time.
 *
 *   npm run build && node bench/security/connect-rate.mjs [--rounds 3] [--seconds 8] [--workers 8]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import mqttPacket from 'mqtt-packet';
import { hashPassword } from '../../dist/security/scrypt.js';
import { startThinggate } from '../lib/thinggate.mjs';
import { MOSQUITTO } from '../peers/mosquitto.mjs';
import { freePort, spawnSupervised, stopChild, waitForPort } from '../lib/proc.mjs';
import { mmm } from '../lib/stats.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const ROUNDS = arg('rounds', 3);
const SECONDS = arg('seconds', 8);
const WORKERS = arg('workers', 8);
const users = Array.from({ length: WORKERS }, (_, i) => ({ name: `dev-${i}`, password: `bench-password-${i}` }));

/** One CONNECT/CONNACK/DISCONNECT cycle; resolves with the CONNACK return code. */
function connectOnce(port, clientId, user) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const timer = setTimeout(() => socket.destroy(new Error('no CONNACK within 30 s')), 30_000);
    socket.setNoDelay(true);
    socket.on('connect', () =>
      socket.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clean: true,
          keepalive: 30,
          clientId,
          username: user.name,
          password: Buffer.from(user.password),
        }),
      ),
    );
    parser.on('packet', (p) => {
      if (p.cmd !== 'connack') return;
      clearTimeout(timer);
      socket.end(mqttPacket.generate({ cmd: 'disconnect' }));
      resolve(p.returnCode);
    });
    socket.on('data', (d) => parser.parse(d));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** CONNECTs per second over `seconds`, WORKERS cycles in parallel; a refused CONNECT aborts the run. */
async function measure(port, seconds, label) {
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();
  let done = 0;
  const worker = async (w) => {
    for (let n = 0; Date.now() < deadline; n++) {
      const code = await connectOnce(port, `${label}-${w}-${n}`, users[w]);
      if (code !== 0) throw new Error(`${label}: CONNACK ${code}`);
      done++;
    }
  };
  await Promise.all(users.map((_, w) => worker(w)));
  return done / ((Date.now() - started) / 1000);
}

async function startMosquittoWithPasswords(dir) {
  const file = join(dir, 'passwd');
  writeFileSync(file, '');
  for (const u of users) execFileSync('mosquitto_passwd', ['-b', file, u.name, u.password]);
  const port = await freePort();
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    // `user`: mosquitto started as root otherwise drops to the `mosquitto` user, which cannot read our temporary folder.
    [
      `user ${userInfo().username}`,
      `listener ${port} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${file}`,
      'persistence false',
      'log_dest stderr',
      'log_type error',
      '',
    ].join('\n'),
  );
  const child = await spawnSupervised(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], { name: 'mosquitto', logFile: join(dir, 'mosquitto.log') });
  await waitForPort(port, { child });
  return { port, stop: () => stopChild(child) };
}

const dir = mkdtempSync(join(tmpdir(), 'tg-connect-rate-'));
const backend = { url: 'http://127.0.0.1:9' }; // no message is published
/** Accept-rate limits and flapping detection off: this load is one address connecting in a loop on purpose. */
const guard = { limits: { connectionsPerSecond: 0 }, flapping: { enabled: false }, scoring: { enabled: false } };
try {
  const credentials = { users: {} };
  const hashes = await Promise.all(users.map((u) => hashPassword(u.password)));
  users.forEach((u, i) => (credentials.users[u.name] = { password: hashes[i] }));
  const files = { 'users.json': JSON.stringify(credentials) };
  const servers = {
    'thinggate, password, cache off (scrypt per CONNECT)': () =>
      startThinggate(backend, { guard, files, listener: { auth: [{ type: 'password', file: 'users.json', cacheTtlMs: 0, watch: false }] }, label: 'cold' }),
    'thinggate, password, cache warm': () =>
      startThinggate(backend, { guard, files, listener: { auth: [{ type: 'password', file: 'users.json', watch: false }] }, label: 'warm' }),
    'thinggate, no authentication': () => startThinggate(backend, { guard, label: 'open' }),
    'mosquitto 2, password_file': () => startMosquittoWithPasswords(dir),
  };
  const rates = Object.fromEntries(Object.keys(servers).map((k) => [k, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, start] of Object.entries(servers)) {
      const server = await start();
      try {
        // Warm-up: one cycle per user (fills the verified cache where there is one; JIT either way).
        await Promise.all(users.map((u, w) => connectOnce(server.port, `warm${round}-${w}`, u)));
        const rate = await measure(server.port, label.includes('cache off') ? SECONDS * 2 : SECONDS, `r${round}`);
        rates[label].push(rate);
        console.error(`round ${round + 1}: ${label}: ${rate.toFixed(1)} CONNECT/s`);
      } finally {
        await server.stop();
      }
    }
  }
  const out = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, mmm(v)]));
  console.log(JSON.stringify({ rounds: ROUNDS, seconds: SECONDS, workers: WORKERS, connectsPerSecond: out }, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
