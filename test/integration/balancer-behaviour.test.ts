/**
 * Balancing behaviour against real back-ends: p2c-ewma avoiding a slow
 * endpoint, consistent hashing keeping a device on one endpoint, ordered
 * delivery, active health checks with panic mode, and stats and metrics.
 */
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/observability/metrics.js';
import { request } from '../unit/balancer/helpers.js';
import { LogWatch, RestartableServer, balancerRig, runConcurrently } from '../unit/balancer/servers.js';

const { cleanup, balancerFor, backend } = balancerRig();

/** Listens on a loopback port (closed after the test) and returns the server's URL. */
async function serve(server: NetServer): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * A raw back-end that holds every `POST /telemetry` until the test answers
 * it: `perConnection[i]` counts the requests connection i has received,
 * `held[i]` answers them one by one, in order.
 */
async function holdingBackend(): Promise<{ url: string; perConnection: number[]; held: Array<Array<() => void>> }> {
  const perConnection: number[] = [];
  const held: Array<Array<() => void>> = [];
  const server = createNetServer((socket) => {
    const index = perConnection.push(0) - 1;
    held.push([]);
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const total = text.match(/POST \/telemetry HTTP\/1\.1/g)?.length ?? 0;
      for (; perConnection[index]! < total; perConnection[index]!++) held[index]!.push(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    });
    socket.on('error', () => {});
  });
  return { url: await serve(server), perConnection, held };
}

/** Polls `ok` every 5 ms, for at most a second. */
async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
}

describe('balancer behaviour', () => {
  it('p2c-ewma sends little traffic to a slow endpoint', async () => {
    const fast = await Promise.all([backend(), backend()]);
    const slow = await backend(() => ({ status: 200, delayMs: 300 }));
    const balancer = balancerFor({ strategy: 'p2c-ewma', endpoints: [...fast, slow].map((b) => ({ url: b.url })) });
    const results = await runConcurrently(400, 8, () => balancer.dispatch(request()));
    for (const r of results) expect(r).toMatchObject({ kind: 'response', status: 200 });
    // Round-robin would give it a third (133); p2c-ewma only probes it now and then.
    expect(slow.requests.length).toBeLessThan(40);
    const ewma = balancer.stats()[0]!.endpoints.map((e) => e.ewmaMs);
    expect(ewma[2]).toBeGreaterThan(ewma[0]!);
  });

  it('consistent-hash keeps each device on one endpoint, hashing a header when configured', async () => {
    const backends = await Promise.all([backend(), backend(), backend()]);
    const balancer = balancerFor({ strategy: 'consistent-hash', hashOn: 'header', hashHeader: 'X-Device', endpoints: backends.map((b) => ({ url: b.url })) });
    const home = new Map<string, string>();
    for (let i = 0; i < 90; i++) {
      const device = `dev-${i % 15}`;
      const r = await balancer.dispatch(request({ key: 'ignored', headers: { 'x-device': device } }));
      expect(r.kind).toBe('response');
      if (r.kind !== 'response') continue;
      if (home.has(device)) expect(r.endpoint).toBe(home.get(device));
      home.set(device, r.endpoint);
    }
    expect(new Set(home.values()).size).toBeGreaterThan(1);
  });

  it('consistent-hash on the address keeps one address on one endpoint whatever the client', async () => {
    const backends = await Promise.all([backend(), backend(), backend()]);
    const balancer = balancerFor({ strategy: 'consistent-hash', hashOn: 'address', endpoints: backends.map((b) => ({ url: b.url })) });
    const home = new Map<string, string>();
    for (let i = 0; i < 60; i++) {
      const address = `sensors/${i % 12}`;
      const r = await balancer.dispatch(request({ key: `client-${i}`, headers: { 'x-thinggate-address': address } }));
      if (r.kind !== 'response') throw new Error(r.kind);
      if (home.has(address)) expect(r.endpoint).toBe(home.get(address));
      home.set(address, r.endpoint);
    }
    expect(new Set(home.values()).size).toBeGreaterThan(1);
  });

  it('dispatches one key at a time, in arrival order, with ordered delivery', async () => {
    let inflight = 0;
    let maxInflight = 0;
    const b = await backend(async () => {
      inflight++;
      maxInflight = Math.max(maxInflight, inflight);
      await new Promise((r) => setTimeout(r, Math.random() * 5));
      inflight--;
      return { status: 200 };
    });
    const balancer = balancerFor({ endpoints: [{ url: b.url }], orderedDelivery: true, connections: 8 });
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => balancer.dispatch(request({ key: 'dev-a', body: Buffer.from(String(i)) }))));
    for (const r of results) expect(r.kind).toBe('response');
    expect(maxInflight).toBe(1);
    expect(b.requests.map((q) => Number(q.body.toString()))).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('marks endpoints unhealthy by active checks, enters panic mode and recovers', async () => {
    const healthy = [true, true, true, true];
    const servers = healthy.map(
      (_, i) =>
        new RestartableServer((req, _body, res) => {
          if (req.url === '/ready') {
            res.statusCode = healthy[i] ? 204 : 503;
            res.end();
          } else res.end('ok');
        }),
    );
    for (const s of servers) await s.start();
    cleanup.push(() => Promise.all(servers.map((s) => s.stop())));
    const log = new LogWatch();
    const balancer = balancerFor(
      {
        endpoints: servers.map((s) => ({ url: s.url })),
        healthCheck: { path: '/ready', intervalMs: 100, jitterMs: 10, healthyThreshold: 1, unhealthyThreshold: 1, expectedStatuses: [204] },
        panicThreshold: 50,
      },
      { log },
    );
    healthy[0] = false;
    await log.waitFor('endpoint unhealthy', { endpoint: servers[0]!.url });
    expect(balancer.stats()[0]!.endpoints[0]).toMatchObject({ healthy: false, state: 'unhealthy' });
    for (let i = 0; i < 12; i++) {
      const r = await balancer.dispatch(request());
      expect(r).toMatchObject({ kind: 'response' });
      if (r.kind === 'response') expect(r.endpoint).not.toBe(servers[0]!.url);
    }
    healthy[1] = false;
    healthy[2] = false;
    await log.waitFor(/^panic mode: too few healthy/);
    expect(balancer.stats()[0]!.panic).toBe(true);
    // In panic mode every endpoint takes traffic again.
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const r = await balancer.dispatch(request());
      if (r.kind === 'response') seen.add(r.endpoint);
    }
    expect(seen.size).toBe(4);
    healthy.fill(true);
    await log.waitFor('panic mode over');
    await log.waitFor('endpoint healthy', { endpoint: servers[0]!.url });
    expect(balancer.stats()[0]!.panic).toBe(false);
  });

  it('reports stats per pool and endpoint and exports thinggate_upstream_ metrics', async () => {
    const b = await backend(() => ({ status: 202, delayMs: 3 }));
    const metrics = new Metrics();
    const balancer = balancerFor(
      { endpoints: [{ url: b.url }, { url: 'http://127.0.0.1:9' }], outlierDetection: { consecutiveFailures: 1 }, retries: { backoffBaseMs: 1 } },
      { metrics },
    );
    for (let i = 0; i < 10; i++) expect(await balancer.dispatch(request())).toMatchObject({ kind: 'response', status: 202 });
    const s = balancer.stats()[0]!;
    expect(s).toMatchObject({ name: 'p', strategy: 'round-robin', inflight: 0, pending: 0, requests: 10 });
    expect(s.retries).toBeGreaterThanOrEqual(1);
    expect(s.endpoints[0]!.requests).toBe(10);
    expect(s.endpoints[0]!.latency.counts.reduce((a, c) => a + c, 0)).toBe(10);
    expect(s.endpoints[1]).toMatchObject({ ejected: true, state: 'ejected', ejections: 1 });
    const text = await metrics.text();
    expect(text).toMatch(/thinggate_upstream_attempts_total\{pool="p",endpoint="http:\/\/127.0.0.1:\d+",outcome="2xx"\} 10/);
    expect(text).toMatch(/thinggate_upstream_attempts_total\{pool="p",endpoint="http:\/\/127.0.0.1:9",outcome="connect-failure"\} 1/);
    expect(text).toContain('thinggate_upstream_ejections_total{pool="p",endpoint="http://127.0.0.1:9"} 1');
    expect(text).toContain('thinggate_upstream_endpoint_healthy{pool="p",endpoint="http://127.0.0.1:9"} 0');
    expect(text).toContain('thinggate_upstream_attempt_duration_seconds_bucket');
  });

  it('puts the endpoint URL path in front of the request path and drops connection-level headers', async () => {
    const b = await backend();
    const balancer = balancerFor({ endpoints: [{ url: `${b.url}/api/v1/` }], healthCheck: { path: '/ready', intervalMs: 100, jitterMs: 0 } });
    const r = await balancer.dispatch(
      request({ path: '/telemetry?x=1', headers: { connection: 'close', 'transfer-encoding': 'chunked', host: 'device.example', 'x-custom': 'kept' } }),
    );
    expect(r).toMatchObject({ kind: 'response', status: 200 });
    expect(b.requests[0]!.url).toBe('/api/v1/telemetry?x=1');
    expect(b.requests[0]!.headers['x-custom']).toBe('kept');
    expect(b.requests[0]!.headers.host).toBe(`127.0.0.1:${b.port}`);
    await b.waitFor(2);
    expect(b.requests[1]!.url).toBe('/api/v1/ready');
  });

  it('keeps connections alive and sends the Idempotency-Key on every request', async () => {
    const b = await backend();
    const balancer = balancerFor({ endpoints: [{ url: b.url }], connections: 1 });
    for (let i = 0; i < 5; i++) await balancer.dispatch(request({ idempotencyKey: `id-${i}` }));
    expect(b.requests.map((q) => q.headers['idempotency-key'])).toEqual(['id-0', 'id-1', 'id-2', 'id-3', 'id-4']);
    expect(b.requests.every((q) => q.headers.connection !== 'close')).toBe(true);
  });

  it('pipelines requests on one connection when configured', async () => {
    // node:http answers pipelined requests one by one, so a raw socket shows what arrives before any answer.
    let connections = 0;
    let unanswered = 0;
    let maxUnanswered = 0;
    const server = createNetServer((socket) => {
      connections++;
      let text = '';
      let counted = 0;
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        const total = text.match(/PUT \/telemetry HTTP\/1\.1/g)?.length ?? 0;
        const arrived = total - counted;
        counted = total;
        unanswered += arrived;
        maxUnanswered = Math.max(maxUnanswered, unanswered);
        for (let i = 0; i < arrived; i++) {
          setTimeout(() => {
            unanswered--;
            socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
          }, 30);
        }
      });
      socket.on('error', () => {});
    });
    const url = await serve(server);
    const balancer = balancerFor({ endpoints: [{ url }], connections: 1, pipelining: 4 });
    const results = await Promise.all(Array.from({ length: 8 }, () => balancer.dispatch(request({ method: 'PUT' }))));
    for (const r of results) expect(r).toMatchObject({ kind: 'response', status: 200 });
    expect(connections).toBe(1);
    expect(maxUnanswered).toBeGreaterThan(1);
  });
  it("gives every connection a request before it pipelines, then keeps one turn's requests on one connection", async () => {
    const { url, perConnection, held } = await holdingBackend();
    const balancer = balancerFor({ endpoints: [{ url }], connections: 3, pipelining: 8 });
    const received = () => perConnection.reduce((a, b) => a + b, 0);
    // Dispatched in one turn, below saturation: one connection each.
    const first = Array.from({ length: 3 }, () => balancer.dispatch(request()));
    await until(() => received() >= 3);
    expect(perConnection).toEqual([1, 1, 1]);
    const second = Array.from({ length: 3 }, () => balancer.dispatch(request()));
    await until(() => received() >= 6);
    // All three connections busy: the turn's requests share the first one (SLACK = 4 more than the least busy).
    expect(perConnection).toEqual([4, 1, 1]);
    for (const h of held) for (const release of h) release();
    for (const r of await Promise.all([...first, ...second])) expect(r).toMatchObject({ kind: 'response', status: 200 });
  });

  it('a request that finds every connection full waits for the first connection to free a place', async () => {
    const { url, perConnection, held } = await holdingBackend();
    const balancer = balancerFor({ endpoints: [{ url }], connections: 2, pipelining: 1 });
    const results = Array.from({ length: 3 }, () => balancer.dispatch(request()));
    await until(() => perConnection.length === 2 && perConnection[0] === 1 && perConnection[1] === 1);
    expect(perConnection).toEqual([1, 1]);
    // The second connection answers first: the third request goes there, not behind the first connection's.
    held[1]!.shift()!();
    await until(() => perConnection[1] === 2);
    expect(perConnection).toEqual([1, 2]);
    for (const h of held) for (const release of h) release();
    for (const r of await Promise.all(results)) expect(r).toMatchObject({ kind: 'response', status: 200 });
  });

  it('requests waiting for a connection fail cleanly when the back-end goes away', async () => {
    // undici fails every queued request of a client whose reconnect is refused and then asserts its queue is
    // empty: a waiting request put on that client from inside the failure must not reach it before undici is done.
    const sockets: Socket[] = [];
    const server = createNetServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
    });
    const url = await serve(server);
    const balancer = balancerFor({ endpoints: [{ url }], connections: 1, pipelining: 1 });
    const results = Array.from({ length: 4 }, () => balancer.dispatch(request()));
    await until(() => sockets.length === 1);
    server.close();
    sockets[0]!.destroy();
    for (const r of await Promise.all(results)) expect(r).toMatchObject({ kind: 'unavailable' });
  });

  it('pipelined requests lost with their connection are sent again with the same Idempotency-Key', async () => {
    // The first connection answers its first request and then drops, with the other pipelined requests unanswered.
    const arrivals: string[] = [];
    let connections = 0;
    const server = createNetServer((socket) => {
      const first = ++connections === 1;
      let buffered = '';
      let answered = 0;
      socket.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('latin1');
        for (;;) {
          const end = buffered.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buffered.slice(0, end);
          const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (buffered.length < end + 4 + length) return;
          buffered = buffered.slice(end + 4 + length);
          arrivals.push(/idempotency-key: *([^\r]+)/i.exec(head)?.[1] ?? '');
          if (first && answered === 1) {
            socket.destroy();
            return;
          }
          answered++;
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        }
      });
      socket.on('error', () => {});
    });
    const url = await serve(server);
    const balancer = balancerFor({ endpoints: [{ url }], connections: 1, pipelining: 8, retries: { budgetPercent: 100 } });
    const requests = Array.from({ length: 8 }, () => request());
    const results = await Promise.all(requests.map((r) => balancer.dispatch(r)));
    for (const r of results) expect(r).toMatchObject({ kind: 'response', status: 200 });
    expect(connections).toBeGreaterThan(1);
    // Every request arrived under its own key, some twice (sent again after the drop), none under a new key.
    expect(new Set(arrivals)).toEqual(new Set(requests.map((r) => r.idempotencyKey)));
    expect(arrivals.length).toBeGreaterThan(requests.length);
  });
});
