/**
 * CPU cost of device identity on the message path and at connect, from the
 * built dist/: the ACL decision per PUBLISH (cached per connection and
 * address, and uncached), and a password check (scrypt, and the verified
 * cache). CPU time (process.cpuUsage), not wall time, so a busy machine
 * slows the run without skewing the figures much.
 *
 *   npm run build && node bench/security/run.mjs
 */
import pino from 'pino';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Acl } from '../../dist/security/acl.js';
import { SecurityGate } from '../../dist/security/gate.js';
import { PasswordAuthenticator } from '../../dist/security/password.js';
import { hashPassword } from '../../dist/security/scrypt.js';
import { parseConfig } from '../../dist/config/load.js';
/** The five rules of the `mqtt-qos1-rest-auth` scenario; the 4th matches. */
import { AUTH_ACL as ACL } from '../scenarios/thinggate.mjs';

function cpuMicros(fn, n) {
  const t0 = process.cpuUsage();
  fn(n);
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / n;
}

async function cpuMicrosAsync(fn, n) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn(i);
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / n;
}

const config = parseConfig({
  listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
  pools: [{ name: 'p', endpoints: [{ url: 'http://127.0.0.1:1' }] }],
  routes: [{ match: { address: '#' }, pool: 'p' }],
  acl: ACL,
});
const gate = new SecurityGate(config, { logger: pino({ level: 'silent' }), report: () => undefined });
/** @type {import('../../dist/envelope/index.js').Identity} */
const identity = { principal: 'bench', method: 'password', attributes: {}, groups: [] };
const sources = Array.from({ length: 50 }, (_, i) => Object.freeze({ clientId: `bench-${i}`, remoteAddress: '127.0.0.1', identity }));
const acl = new Acl(ACL);

const out = {};
out.aclCachedMicros = cpuMicros((n) => {
  for (let i = 0; i < n; i++) gate.authorize('mqtt', sources[i % 50], 'publish', `bench/c${i % 50}/data`);
}, 2_000_000);
out.aclUncachedMicros = cpuMicros((n) => {
  for (let i = 0; i < n; i++) acl.decide(sources[i % 50], 'publish', `bench/c${i % 50}/data`);
}, 500_000);

const dir = mkdtempSync(join(tmpdir(), 'tg-bench-sec-'));
try {
  const file = join(dir, 'users.json');
  writeFileSync(file, JSON.stringify({ users: { bench: { password: await hashPassword('bench-password') } } }));
  const logger = pino({ level: 'silent' });
  const cold = new PasswordAuthenticator({ file, cacheTtlMs: 0, cacheMaxEntries: 0, watch: false }, logger);
  const warm = new PasswordAuthenticator({ file, cacheTtlMs: 60_000, cacheMaxEntries: 1000, watch: false }, logger);
  /** @type {import('../../dist/envelope/index.js').ClientInfo} */
  const client = { protocol: 'mqtt', listener: 'mqtt', clientId: 'c', remoteAddress: '127.0.0.1', username: 'bench', password: Buffer.from('bench-password') };
  // scrypt runs on the libuv pool: CPU time of the process covers it.
  out.passwordScryptMicros = await cpuMicrosAsync(() => cold.authenticate(client), 20);
  await warm.authenticate(client);
  out.passwordCachedMicros = await cpuMicrosAsync(() => warm.authenticate(client), 200_000);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
for (const [k, v] of Object.entries(out)) out[k] = Number(v.toFixed(3));
console.log(JSON.stringify(out));
