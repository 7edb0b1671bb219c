/**
 * Regression: one script decision aborted the whole gateway. A routing script
 * returning a 12 MiB body made V8 abort the process (heap out of memory in
 * the script's isolate, exit 134), on script threads and with
 * `scripts.threads: 0` alike. The gateway runs here as a real process: each
 * oversized decision must be refused for its own message only
 * (TG_ERR_SCRIPT_INVALID_DECISION, an MQTT 5 PUBACK error), and the same
 * process must go on routing ordinary messages to a real HTTP back-end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { TestBackend } from '../helpers/backend.js';
import { listenerPort, startCli, type Running } from '../helpers/cli-process.js';

const KiB = 1024;
const MiB = 1024 * KiB;

const SCRIPT = `
let grown = '';
export function onMessage(msg) {
  const kind = msg.address.split('/')[1];
  const mib = 'Z'.repeat(${MiB});
  const many = (make) => { const out = []; for (let i = 0; i < 64; i++) out.push(make(i)); return out; };
  switch (kind) {
    case 'huge': return route(undefined, { body: 'Z'.repeat(${12 * MiB}) });
    case 'huge-reply': return reply('Z'.repeat(${12 * MiB}));
    case 'huge-header': return route(undefined, { headers: { 'x-big': 'Z'.repeat(${12 * MiB}) } });
    case 'huge-bytes': return route(undefined, { body: new Uint8Array(${12 * MiB}) });
    case 'routes': return many(() => route(undefined, { body: mib }));
    case 'publishes': return many((i) => publish('fan/' + i, mib));
    case 'grow':
      // Kept across calls and flattened (charCodeAt makes V8 flatten it), so the isolate really holds it.
      grown += 'Z'.repeat(${500 * KiB});
      grown.charCodeAt(grown.length - 1);
      return route(undefined, { path: '/grow', body: grown });
    case 'large': return route(undefined, { path: '/large', body: 'L'.repeat(${900 * KiB}) });
    default: return route(undefined, { path: '/ok' });
  }
}
`;

const failCode = (p: Promise<unknown>): Promise<number> =>
  p.then(
    () => 0,
    (e: unknown) => (e as { code?: number }).code ?? -1,
  );

describe.each([
  { mode: 'inline (scripts.threads: 0)', threads: 0 },
  { mode: 'script thread (scripts.threads: 1)', threads: 1 },
])('oversized script decisions, $mode', ({ threads }) => {
  let dir: string;
  let backend: TestBackend;
  let gw: Running;
  let c: MqttClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tg-bounds-'));
    backend = await TestBackend.start(() => ({ status: 204 }));
    writeFileSync(join(dir, 'bounds.js'), SCRIPT);
    writeFileSync(
      join(dir, 'gw.yaml'),
      `
listeners:
  - { name: mqtt, protocol: mqtt, host: 127.0.0.1, port: 0 }
pools:
  - { name: p, endpoints: [{ url: "${backend.url}" }], retries: { maxAttempts: 1 } }
routes:
  - { match: { address: "b/#" }, pool: p, script: bounds.js }
scripts: { threads: ${threads}, timeoutMs: 2000, watch: false, throttle: { failures: 1000, addressFailures: 1000 } }
`,
    );
    gw = startCli(join(dir, 'gw.yaml'));
    const port = await listenerPort(gw);
    c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: `bounds-${threads}`, reconnectPeriod: 0 });
  }, 90_000); // a process start: many seconds on a loaded host

  afterAll(async () => {
    c?.end(true);
    if (gw?.child.exitCode === null) gw.child.kill('SIGKILL');
    await backend?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The PUBACK reason code; throws at once if the gateway process ends meanwhile. */
  const send = (kind: string): Promise<number> =>
    Promise.race([
      failCode(c.publishAsync(`b/${kind}`, 'x', { qos: 1 })),
      gw.exited.then((code) => {
        throw new Error(`gateway exited (${code}): ${gw.stderr().slice(0, 300)}`);
      }),
    ]);

  it('refuses a 12 MiB body, reply, header or byte array with a PUBACK error, and lives', async () => {
    for (const kind of ['huge', 'huge-reply', 'huge-header', 'huge-bytes']) expect(await send(kind), kind).toBe(0x80);
    const refused = await gw.waitLog((l) => l.code === 'TG_ERR_SCRIPT_INVALID_DECISION' && String(l.msg).includes('scripts.maxDecisionBytes'));
    expect(refused.level).toBe('warn');
    expect(gw.child.exitCode).toBeNull();
  }, 60_000);

  it('refuses 64 decisions of 1 MiB each (route and publish fan-out)', async () => {
    expect(await send('routes')).toBe(0x80);
    expect(await send('publishes')).toBe(0x80);
    expect(gw.child.exitCode).toBeNull();
  }, 60_000);

  it('a body the script grows on every call is routed while it fits, then refused', async () => {
    const before = backend.requests.filter((r) => r.url === '/grow').length;
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) codes.push(await send('grow'));
    // 500 and 1000 KiB (and the path) fit the default bound, 1 MiB; 1500 KiB and more do not.
    expect(codes).toEqual([0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80]);
    const grown = backend.requests.filter((r) => r.url === '/grow').slice(before);
    expect(grown.map((r) => r.body.length)).toEqual([500 * KiB, 1000 * KiB]);
  }, 60_000);

  it('large decisions of many messages cross in pieces; an oversized one fails alone in its batch', async () => {
    const before = backend.requests.length;
    const kinds = ['large', 'huge', 'ok', 'large', 'routes', 'large', 'ok', 'large', 'large', 'large'];
    const codes = await Promise.all(kinds.map(send));
    expect(codes).toEqual(kinds.map((k) => (k === 'huge' || k === 'routes' ? 0x80 : 0)));
    const got = backend.requests.slice(before);
    expect(got.filter((r) => r.url === '/large').map((r) => r.body.length)).toEqual(Array(6).fill(900 * KiB));
    expect(got.filter((r) => r.url === '/ok')).toHaveLength(2);
  }, 60_000);

  it('after all that the same process still routes an ordinary message to the back-end', async () => {
    const before = backend.requests.length;
    expect(await send('ok')).toBe(0);
    expect(backend.requests.slice(before).map((r) => r.url)).toEqual(['/ok']);
    expect(gw.child.exitCode).toBeNull();
    expect(gw.stderr()).not.toContain('out of memory');
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
  }, 60_000);
});
