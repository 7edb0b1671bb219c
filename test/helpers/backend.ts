/**
 * A real HTTP back-end for tests: node:http on 127.0.0.1 port 0, recording
 * every request. Its answer is programmable per request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  readonly at: number;
}

export interface Answer {
  status?: number;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Destroy the socket instead of answering. */
  destroy?: boolean;
}

export type Responder = (req: RecordedRequest) => Answer | Promise<Answer>;

export class TestBackend {
  readonly requests: RecordedRequest[] = [];
  responder: Responder = () => ({ status: 200, body: 'ok' });
  private server: Server;
  private waiters: Array<{ n: number; resolve: () => void }> = [];

  private constructor() {
    this.server = createServer((req, res) => void this.onRequest(req, res));
    this.server.keepAliveTimeout = 60_000;
  }

  static async start(responder?: Responder): Promise<TestBackend> {
    const b = new TestBackend();
    if (responder) b.responder = responder;
    await new Promise<void>((resolve) => b.server.listen(0, '127.0.0.1', resolve));
    return b;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Resolves once at least `n` requests have arrived (rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs = 10_000): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`backend saw ${this.requests.length} requests, expected ${n}`)), timeoutMs);
      this.waiters.push({
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rec: RecordedRequest = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks), at: Date.now() };
    this.requests.push(rec);
    this.waiters = this.waiters.filter((w) => {
      if (this.requests.length >= w.n) {
        w.resolve();
        return false;
      }
      return true;
    });
    const a = await this.responder(rec);
    if (a.delayMs) await new Promise((r) => setTimeout(r, a.delayMs));
    if (a.destroy) {
      res.socket?.destroy();
      return;
    }
    res.writeHead(a.status ?? 200, a.headers ?? { 'content-type': 'text/plain' });
    res.end(a.body ?? '');
  }
}
