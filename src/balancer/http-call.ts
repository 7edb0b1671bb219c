/**
 * One HTTP exchange on an undici dispatcher through its handler interface:
 * the response body is gathered into one Buffer without a stream, and the
 * attempt's timeout is our own (undici's headers timeout runs on a
 * one-second-resolution wheel, too coarse for per-attempt timeouts of a few
 * hundred milliseconds): a deadline on the shared 10 ms wheel of
 * deadlines.ts, not a timer per request.
 */
import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { ThinggateError } from '../errors.js';
import { attemptDeadlines, type DeadlineTicket, type Expiring } from './deadlines.js';

/** Response bodies beyond this are cut off: a back-end cannot make the gateway buffer without bound. */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export interface HttpCall {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
  readonly timeoutMs: number;
  /**
   * Lets undici pipeline: the request may share a connection with others in
   * flight (undici pipelines only requests it may treat as idempotent; every
   * attempt carries an Idempotency-Key, so a back-end can treat them so) and
   * does not hold the connection until its response headers arrive.
   */
  readonly pipelined?: boolean;
}

class Exchange implements Dispatcher.DispatchHandler, Expiring {
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private headers: Record<string, string> = {};
  private chunks: Buffer[] = [];
  private size = 0;
  private done = false;
  private readonly deadline: DeadlineTicket;

  constructor(
    private readonly timeoutMs: number,
    private readonly resolve: (a: HttpAnswer) => void,
    private readonly reject: (e: Error) => void,
  ) {
    this.deadline = attemptDeadlines.add(this, timeoutMs);
  }

  expire(): void {
    this.fail(new ThinggateError('TG_ERR_UPSTREAM_TIMEOUT', `no complete answer within ${this.timeoutMs} ms`));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.done) controller.abort(new ThinggateError('TG_ERR_UPSTREAM_TIMEOUT', 'timed out before it was sent'));
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.status = statusCode;
    const out: Record<string, string> = {};
    for (const k in headers) {
      const v = headers[k];
      if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
    }
    this.headers = out;
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > MAX_RESPONSE_BYTES) {
      this.fail(new ThinggateError('TG_ERR_UPSTREAM_TOO_LARGE', `response body larger than ${MAX_RESPONSE_BYTES} bytes`));
      return;
    }
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.done) return;
    this.done = true;
    attemptDeadlines.remove(this, this.deadline);
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    this.resolve({ status: this.status, headers: this.headers, body });
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.fail(err);
  }

  private fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    attemptDeadlines.remove(this, this.deadline);
    if (this.controller && !this.controller.aborted) this.controller.abort(err);
    this.reject(err);
  }
}

/** Sends one request; rejects on connection errors, resets and timeouts (the error's `code` tells which). */
export function httpCall(client: Pick<Dispatcher, 'dispatch'>, call: HttpCall): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve, reject) => {
    const handler = new Exchange(call.timeoutMs, resolve, reject);
    try {
      client.dispatch(
        {
          method: call.method as Dispatcher.HttpMethod,
          path: call.path,
          headers: call.headers,
          body: call.body ?? null,
          ...(call.pipelined === true && { blocking: false, idempotent: true }),
          // undici's own timers only back ours up.
          headersTimeout: call.timeoutMs + 1000,
          bodyTimeout: call.timeoutMs + 1000,
        },
        handler,
      );
    } catch (err) {
      handler.onResponseError(undefined as unknown as Dispatcher.DispatchController, err as Error);
    }
  });
}
