/**
 * Helpers for balancer integration tests: a plain node:http back-end that can
 * be stopped and started again on the same port, and a log capture whose
 * lines can be awaited (state changes are logged, so tests wait for them
 * instead of sleeping).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { afterEach } from 'vitest';
import { createBalancer } from '../../../src/balancer/index.js';
import type { Balancer } from '../../../src/balancer/types.js';
import type { Metrics } from '../../../src/observability/metrics.js';
import { TestBackend, type Responder } from '../../helpers/backend.js';
import { poolConfig } from './helpers.js';

export type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;

export class RestartableServer {
  private server: Server | undefined;
  port = 0;
  readonly seen: Array<{ url: string; headers: IncomingMessage['headers']; body: Buffer }> = [];

  constructor(public handler: Handler = (_req, _body, res) => res.end('ok')) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        this.seen.push({ url: req.url ?? '', headers: req.headers, body });
        this.handler(req, body, res);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and cuts every connection, in-flight requests included. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

export class LogWatch {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly logger: Logger;
  private waiters: Array<{ test: (l: Record<string, unknown>) => boolean; resolve: () => void }> = [];

  constructor() {
    const stream = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        for (const text of chunk.toString('utf8').split('\n')) {
          if (!text) continue;
          const line = JSON.parse(text) as Record<string, unknown>;
          this.lines.push(line);
          this.waiters = this.waiters.filter((w) => {
            if (!w.test(line)) return true;
            w.resolve();
            return false;
          });
        }
        cb();
      },
    });
    this.logger = pino({ level: 'debug' }, stream);
  }

  /** Resolves once a line with this message (and these fields) has been logged. */
  waitFor(msg: string | RegExp, fields: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<void> {
    const test = (l: Record<string, unknown>) =>
      (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg))) && Object.entries(fields).every(([k, v]) => l[k] === v);
    if (this.lines.some(test)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no log line '${String(msg)}' within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        test,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

/** Runs `count` tasks with at most `concurrency` at once, in order of index. */
export async function runConcurrently<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

/**
 * The set-up the balancer integration suites share: balancers and back-ends
 * made through it are closed after each test, in reverse order, with
 * whatever else a test adds to `cleanup`.
 */
export function balancerRig(): {
  readonly cleanup: Array<() => Promise<unknown>>;
  balancerFor(raw: Record<string, unknown>, options?: { log?: LogWatch; metrics?: Metrics }): Balancer;
  backend(responder?: Responder): Promise<TestBackend>;
} {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    while (cleanup.length) await cleanup.pop()!();
  });
  return {
    cleanup,
    balancerFor(raw, options = {}) {
      const b = createBalancer([poolConfig(raw)], { ...(options.log && { logger: options.log.logger }), ...(options.metrics && { metrics: options.metrics }) });
      cleanup.push(() => b.close(0));
      return b;
    },
    async backend(responder) {
      const b = await TestBackend.start(responder);
      cleanup.push(() => b.close());
      return b;
    },
  };
}
