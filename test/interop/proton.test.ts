/**
 * Interop with Qpid Proton's Python binding (Debian python3-qpid-proton),
 * an unmodified standard client: SASL PLAIN, disposition counts, rejected
 * and released outcomes, pre-settled messages, reply-to, southbound.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { ScriptDir } from '../unit/scripting/support.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./python/proton_client.py', import.meta.url));

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** An onConnect script that verifies one user and returns its identity. */
const GATE = `
export function onConnect(client) {
  if (client.username !== 'admin' || client.password !== 'right') return reject('bad credentials', 401);
  return accept({ principal: 'admin' });
}
export function onMessage() { return route('ingest'); }
`;

async function setup(limits: object = {}, options: { gate?: boolean } = {}): Promise<{ gw: TestGateway; backend: TestBackend; port: number }> {
  const backend = await TestBackend.start();
  cleanups.push(() => backend.close());
  const dir = new ScriptDir();
  cleanups.push(async () => dir.remove());
  dir.write('gate.js', GATE);
  const gate = options.gate ? [{ match: { address: 'gated/#' }, script: 'gate.js', pool: 'ingest', request: { method: 'POST', path: '/g/{address}' } }] : [];
  const gw = await startGateway(
    {
      listeners: [{ name: 'amqp', protocol: 'amqp', host: '127.0.0.1', port: 0, limits: { maxInflight: 32, ...limits } }],
      pools: [{ name: 'ingest', endpoints: [{ url: backend.url }] }],
      routes: [
        ...gate,
        { match: { address: 'rpc/#' }, pool: 'ingest', request: { method: 'POST', path: '/rpc', reply: true } },
        { match: { address: 'devices/#' }, target: 'devices' },
        { match: { address: '#' }, pool: 'ingest', request: { method: 'POST', path: '/m/{address}' } },
      ],
      ...(options.gate && { scripts: { watch: false } }),
    },
    { baseDir: dir.path },
  );
  cleanups.push(() => gw.stop());
  return { gw, backend, port: gw.port('amqp') };
}

interface Run {
  readonly lines: AsyncIterableIterator<string>;
  readonly done: Promise<Record<string, unknown>>;
}

/** Runs the Proton client; `done` resolves with its last JSON line. */
function proton(args: string[], timeoutMs = 20_000): Run {
  const child = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const rl = createInterface({ input: child.stdout });
  const lines = rl[Symbol.asyncIterator]();
  const all: string[] = [];
  const done = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`proton client timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => all.push(d.toString()));
    child.on('close', (code) => {
      clearTimeout(timer);
      const last = all.join('').trim().split('\n').at(-1) ?? '';
      if (code !== 0) return reject(new Error(`proton client exited ${code}: ${stderr}`));
      resolve(JSON.parse(last) as Record<string, unknown>);
    });
  });
  cleanups.push(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return { lines, done };
}

describe('amqp listener with Qpid Proton (python)', () => {
  it('counts N accepted dispositions over SASL PLAIN', async () => {
    const { backend, port } = await setup();
    const n = 300;
    const r = await proton(['send', '--url', `amqp://dev-py:pw@127.0.0.1:${port}`, '--address', 'telemetry/py', '--count', String(n)]).done;
    expect(r).toMatchObject({ sent: n, accepted: n, rejected: 0, released: 0, modified: 0 });
    expect(backend.requests).toHaveLength(n);
    // Nothing verified the PLAIN user: the connection is anonymous.
    expect(backend.requests[0]!.headers['x-thinggate-identity']).toBeUndefined();
    expect(backend.requests[0]!.headers['x-thinggate-client-id']).toBe('proton-interop');
    expect(r.max_credit as number).toBeLessThanOrEqual(32);
  });

  it('sends no identity for SASL PLAIN admin with a wrong password and no admission step', async () => {
    const { backend, port } = await setup();
    const r = await proton(['send', '--url', `amqp://admin:wrong@127.0.0.1:${port}`, '--address', 'telemetry/admin', '--count', '1']).done;
    expect(r).toMatchObject({ sent: 1, accepted: 1 });
    expect(backend.requests[0]!.headers['x-thinggate-identity']).toBeUndefined();
  });

  it('sends the identity an onConnect script verified, and refuses a wrong password there', async () => {
    const { backend, port } = await setup({}, { gate: true });
    const ok = await proton(['send', '--url', `amqp://admin:right@127.0.0.1:${port}`, '--address', 'gated/admin', '--count', '1']).done;
    expect(ok).toMatchObject({ sent: 1, accepted: 1 });
    expect(backend.requests[0]!.url).toBe('/g/gated/admin');
    expect(backend.requests[0]!.headers['x-thinggate-identity']).toBe('admin');
    const bad = await proton(['send', '--url', `amqp://admin:wrong@127.0.0.1:${port}`, '--address', 'gated/admin', '--count', '1']).done;
    expect(bad).toMatchObject({ connection_error: 'amqp:unauthorized-access', accepted: 0 });
    expect(backend.requests).toHaveLength(1);
  });

  it('sees rejected with an amqp: condition on 4xx and released on 503', async () => {
    const { backend, port } = await setup();
    backend.responder = (req) => (req.url.includes('denied') ? { status: 403, body: 'no' } : { status: 503 });
    const url = `amqp://dev:pw@127.0.0.1:${port}`;
    const rej = await proton(['send', '--url', url, '--address', 'telemetry/denied', '--count', '4']).done;
    expect(rej).toMatchObject({ rejected: 4, accepted: 0 });
    expect(rej.conditions).toEqual(Array(4).fill('amqp:unauthorized-access'));
    const rel = await proton(['send', '--url', url, '--address', 'telemetry/down', '--count', '4']).done;
    expect(rel).toMatchObject({ released: 4, accepted: 0, rejected: 0 });
  });

  it('delivers pre-settled messages to the back-end', async () => {
    const { backend, port } = await setup();
    const r = await proton(['send', '--url', `amqp://127.0.0.1:${port}`, '--address', 'telemetry/fast', '--count', '25', '--presettled']).done;
    expect(r).toMatchObject({ sent: 25, accepted: 0 });
    await backend.waitFor(25);
    expect(backend.requests.every((q) => q.url === '/m/telemetry/fast')).toBe(true);
  });

  it('returns the back-end response on the reply-to link with the request correlation-id', async () => {
    const { backend, port } = await setup();
    backend.responder = (req) => ({ status: 200, body: `pong for ${req.body.toString()}` });
    const r = await proton(['request', '--url', `amqp://dev:pw@127.0.0.1:${port}`, '--address', 'rpc/ping', '--reply-to', 'replies/py']).done;
    expect(r).toEqual({ body: 'pong for ping', correlation_id: 'corr-42', status: 200 });
  });

  it('receives a target: devices message and a Listener.deliver message on a receiver link', async () => {
    const { gw, port } = await setup();
    const rx = proton(['receive', '--url', `amqp://127.0.0.1:${port}`, '--address', 'devices/py/cmd', '--count', '2', '--container-id', 'py-device']);
    expect(JSON.parse((await rx.lines.next()).value as string)).toEqual({ ready: true });
    const tx = await proton(['send', '--url', `amqp://127.0.0.1:${port}`, '--address', 'devices/py/cmd', '--count', '1', '--container-id', 'py-app']).done;
    expect(tx).toMatchObject({ accepted: 1 });
    // The AMQP client id is the container-id from the device's open frame.
    const listener = gw.gateway.listener('amqp')!;
    expect(listener.deliver('py-device', { topic: 'devices/py/cmd', payload: Buffer.from('direct'), qos: 1, retain: false })).toBe(true);
    expect(listener.deliver('nobody', { topic: 'devices/py/cmd', payload: Buffer.from('x'), qos: 1, retain: false })).toBe(false);
    expect(await rx.done).toEqual({ messages: ['m0', 'direct'] });
  });
});
