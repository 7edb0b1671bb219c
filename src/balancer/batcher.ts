/**
 * Batching: up to `maxMessages` requests, or whatever arrived within
 * `maxDelayMs`, go to the back-end in one request whose body is a JSON array
 * (docs/balancer.md, "Batching"):
 *
 *   [{"id","method","path","headers","contentType","encoding":"utf8"|"base64","body"}]
 *
 * A 2xx answer of the form {"results":[{"id","status","body"?}]} gives each
 * message its own outcome; any other answer applies to every message of the
 * batch (all-or-nothing).
 */
import type { BatchConfig } from '../config/types.js';
import type { UpstreamRequest, UpstreamResult } from './types.js';

interface Item {
  readonly request: UpstreamRequest;
  readonly resolve: (r: UpstreamResult) => void;
}

/** One message inside a batch body. */
export interface BatchItem {
  readonly id: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly contentType?: string;
  readonly encoding: 'utf8' | 'base64';
  readonly body: string;
}

/** Sends one batch request (through the pool's attempt loop). */
export type SendBatch = (request: UpstreamRequest) => Promise<UpstreamResult>;

export class Batcher {
  private items: Item[] = [];
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;

  constructor(
    private readonly pool: string,
    private readonly config: BatchConfig,
    private readonly send: SendBatch,
  ) {}

  /** Messages waiting for their batch to leave. */
  get size(): number {
    return this.items.length;
  }

  add(request: UpstreamRequest): Promise<UpstreamResult> {
    return new Promise((resolve) => {
      this.items.push({ request, resolve });
      if (this.items.length >= this.config.maxMessages) this.flush();
      else if (this.timer === undefined) this.timer = setTimeout(() => this.flush(), this.config.maxDelayMs);
    });
  }

  /** Sends what is waiting now. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const items = this.items;
    this.items = [];
    if (items.length === 0) return;
    void this.deliver(items);
  }

  private async deliver(items: Item[]): Promise<void> {
    const body = Buffer.from(JSON.stringify(items.map((i) => toBatchItem(i.request))));
    let expiresAt: number | undefined;
    for (const i of items) if (i.request.expiresAt !== undefined) expiresAt = Math.min(expiresAt ?? Infinity, i.request.expiresAt);
    const first = items[0]!.request;
    const request: UpstreamRequest = {
      pool: this.pool,
      method: this.config.method,
      path: this.config.path,
      headers: { 'content-type': 'application/json', 'x-thinggate-batch-size': String(items.length) },
      body,
      // The batch's own key: stable across its attempts, distinct from every message id.
      idempotencyKey: `batch-${first.idempotencyKey}-${items.length}-${++this.seq}`,
      key: first.key,
      ...(expiresAt !== undefined && { expiresAt }),
    };
    let result: UpstreamResult;
    try {
      result = await this.send(request);
    } catch (err) {
      result = { kind: 'unavailable', code: 'TG_ERR_UPSTREAM_UNAVAILABLE', reason: `batch failed: ${(err as Error).message}` };
    }
    const perMessage = result.kind === 'response' && result.status >= 200 && result.status < 300 ? parseResults(result.body) : undefined;
    for (const item of items) {
      const r = perMessage?.get(item.request.idempotencyKey);
      if (r && result.kind === 'response') {
        item.resolve({ ...result, status: r.status, body: r.body, headers: r.contentType ? { 'content-type': r.contentType } : {} });
      } else item.resolve(result);
    }
  }
}

function toBatchItem(r: UpstreamRequest): BatchItem {
  const ct = r.headers['content-type'];
  const text = isText(ct) ? r.body.toString('utf8') : undefined;
  const utf8 = text !== undefined && Buffer.byteLength(text) === r.body.length && !text.includes('\ufffd');
  return {
    id: r.idempotencyKey,
    method: r.method,
    path: r.path,
    headers: r.headers,
    ...(ct !== undefined && { contentType: ct }),
    encoding: utf8 ? 'utf8' : 'base64',
    body: utf8 ? text : r.body.toString('base64'),
  };
}

function isText(ct: string | undefined): boolean {
  return ct !== undefined && /^(text\/|application\/([a-z0-9.+-]*\+)?(json|xml)|application\/x-www-form-urlencoded)/i.test(ct);
}

interface ItemResult {
  readonly status: number;
  readonly body: Buffer;
  readonly contentType?: string;
}

/** Reads {"results":[{"id","status","body"?,"contentType"?}]}; undefined when the body is not of that form. */
export function parseResults(body: Buffer): Map<string, ItemResult> | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  const results = (doc as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) return undefined;
  const out = new Map<string, ItemResult>();
  for (const r of results as unknown[]) {
    const { id, status, body: b, contentType } = (r ?? {}) as { id?: unknown; status?: unknown; body?: unknown; contentType?: unknown };
    if (typeof id !== 'string' || typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) continue;
    const bytes = typeof b === 'string' ? Buffer.from(b) : b === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(b));
    out.set(id, { status, body: bytes, ...(typeof contentType === 'string' && { contentType }) });
  }
  return out;
}
