/**
 * `thinggate start --workers N` (or `workers: N`): N worker processes on
 * the same sockets through node:cluster. node:cluster rather than
 * SO_REUSEPORT: the primary accepts and hands connections round-robin
 * (SCHED_RR, Node's default on Linux), which spreads devices evenly even when
 * they connect in bursts, works for every listener including UDP through
 * the same API, and needs no per-socket option in each listener; with
 * SO_REUSEPORT the kernel hashes by address and port, so a burst from few
 * addresses (a NAT, a test) can land on one worker. The price is one hop
 * through the primary at accept, never per message.
 *
 * Workers share device state only through the state backend: the
 * configuration check refuses `workers > 1` with the embedded backend.
 * The primary serves the one admin endpoint: `/metrics` aggregated over the
 * workers (prom-client's AggregatorRegistry over the cluster IPC channel),
 * `/api/v1/workers`, and every other path proxied to a live worker's admin
 * server (each worker's own listens on an ephemeral loopback port).
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import client from 'prom-client';
import type { AdminConfig, GatewayConfig } from '../config/types.js';
import type { Metrics } from '../observability/metrics.js';

/** What a worker tells the primary once its gateway runs. */
interface WorkerReport {
  readonly thinggate: 'worker-started';
  readonly admin?: string;
}

export function isWorker(): boolean {
  return cluster.isWorker;
}

/** The configuration a worker runs: its admin server on an ephemeral loopback port of its own (the primary serves the configured one). */
export function workerConfig(config: GatewayConfig): GatewayConfig {
  if (!config.admin) return config;
  return Object.freeze({ ...config, admin: Object.freeze({ ...config.admin, host: '127.0.0.1', port: 0 }) });
}

/** In a worker: lets the primary collect this worker's metrics, and tells it where its admin server is. */
export function joinPrimary(metrics: Metrics, admin: string | undefined): void {
  new client.AggregatorRegistry(); // installs the worker's answer to the primary's metric requests
  client.AggregatorRegistry.setRegistries([metrics.registry]);
  process.send?.({ thinggate: 'worker-started', ...(admin !== undefined && { admin }) } satisfies WorkerReport);
}

export interface PrimaryOptions {
  readonly config: GatewayConfig;
  readonly workers: number;
  readonly logger: Logger;
}

/** Runs the primary: forks the workers, replaces those that die, forwards signals; resolves with the exit code. */
export async function runPrimary(options: PrimaryOptions): Promise<number> {
  const { config, workers, logger } = options;
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const admins = new Map<Worker, string>();
  let stopping = false;
  const fork = (index: number): void => {
    const w = cluster.fork({ THINGGATE_NODE_ID: `${hostname()}-${process.pid}-w${index}`, THINGGATE_WORKER: String(index) });
    w.on('message', (m: Partial<WorkerReport>) => {
      if (m?.thinggate !== 'worker-started') return;
      if (m.admin !== undefined) admins.set(w, m.admin);
      logger.info({ worker: index, pid: w.process.pid }, `worker ${index} started`);
    });
    w.on('exit', (code, signal) => {
      admins.delete(w);
      if (stopping) return;
      logger.error({ worker: index, code, signal }, `worker ${index} exited unexpectedly: starting another`);
      setTimeout(() => fork(index), 500).unref();
    });
  };
  for (let i = 1; i <= workers; i++) fork(i);
  const admin = config.admin?.enabled ? await serveAdmin(config.admin, admins, logger) : undefined;
  logger.info({ workers, ...(admin && { admin }) }, `thinggate started with ${workers} workers`);
  process.on('SIGHUP', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
  });
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping the workers (each drains)');
      const live = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      let left = live.length;
      if (left === 0) resolve(0);
      for (const w of live) {
        w.once('exit', () => --left === 0 && resolve(0));
        w.process.kill('SIGTERM');
      }
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

/** The one admin endpoint: aggregated /metrics, the worker list, the rest proxied to a live worker. */
async function serveAdmin(config: AdminConfig, admins: Map<Worker, string>, logger: Logger): Promise<string> {
  const aggregator = new client.AggregatorRegistry();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics' || path === '/api/v1/workers') {
      if (!authorized(config, req)) return json(res, 401, { error: 'unauthorized', message: 'a bearer token is required' });
      if (path === '/api/v1/workers') {
        return json(res, 200, { workers: [...admins].map(([w, admin]) => ({ id: w.id, pid: w.process.pid, admin })) });
      }
      aggregator.clusterMetrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': aggregator.contentType });
          res.end(text);
        },
        (err: Error) => json(res, 503, { error: 'unavailable', message: `a worker did not answer: ${err.message}` }),
      );
      return;
    }
    proxy(req, res, [...admins.values()][0]);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  server.on('error', (err) => logger.error({ err }, 'admin server socket error'));
  const a = server.address() as { address: string; port: number };
  return `http://${a.address}:${a.port}/`;
}

function proxy(req: IncomingMessage, res: ServerResponse, target: string | undefined): void {
  if (target === undefined) return json(res, 503, { error: 'unavailable', message: 'no worker is running' });
  const up = request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    r.pipe(res);
  });
  up.on('error', (err) => json(res, 502, { error: 'bad_gateway', message: err.message }));
  req.pipe(up);
}

function authorized(config: AdminConfig, req: IncomingMessage): boolean {
  if (config.token === undefined) return true;
  const given = Buffer.from(req.headers.authorization ?? '');
  const wanted = Buffer.from(`Bearer ${config.token}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
