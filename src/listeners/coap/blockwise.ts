/**
 * Block-wise transfers (RFC 7959). Block1: uploads are reassembled per
 * source, method, URI and Request-Tag (RFC 9175 §3), block by block in
 * order, within the maximum body size. Block2: a reply larger than one block
 * is kept for a while so later blocks are served without asking the
 * back-end again (RFC 7959 §2.4), with an ETag so a client notices a change.
 */
import { randomBytes } from 'node:crypto';
import { blockSize, type Block } from './options.js';
import { FifoMap } from '../../util/fifo-map.js';

interface Upload {
  readonly parts: Buffer[];
  size: number;
  nextNum: number;
  expiresAt: number;
}

export type Block1Result =
  /** More blocks expected: answer 2.31 Continue (RFC 7959 §2.3). */
  | { readonly kind: 'continue' }
  /** The body is whole. */
  | { readonly kind: 'complete'; readonly payload: Buffer }
  /** 4.08 Request Entity Incomplete (RFC 7959 §2.9.2) or 4.13 (§2.9.3) or 5.03 (no room). */
  | { readonly kind: 'incomplete' | 'too-large' | 'busy'; readonly reason: string };

/** Bytes held across all unfinished uploads of one listener; beyond it new uploads get 5.03. */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

export class Block1Assembler {
  /** Least recently extended first: each block pushes its upload's expiry out and makes it the newest. */
  private readonly uploads = new FifoMap<string, Upload>();
  private buffered = 0;

  constructor(
    private readonly maxBodyBytes: number,
    private readonly timeoutMs: number,
  ) {}

  /** Adds one block of the upload identified by `key`. */
  add(key: string, block: Block, data: Buffer, now: number): Block1Result {
    this.sweep(now);
    const size = blockSize(block.szx);
    // RFC 7959 §2.2: every block but the last carries exactly the block size.
    if (block.more && data.length !== size) return this.fail(key, 'incomplete', `block ${block.num} carries ${data.length} bytes, not ${size}`);
    let u = this.uploads.get(key);
    if (block.num === 0) {
      if (u) this.forget(key, u);
      u = undefined;
    }
    if (!u) {
      if (block.num !== 0) return { kind: 'incomplete', reason: `block ${block.num} arrived without block 0` };
      u = { parts: [], size: 0, nextNum: 0, expiresAt: 0 };
      this.uploads.set(key, u);
    }
    // Offsets count in the block size of this request (a client may lower the size mid-transfer, §2.3).
    if (block.num * size !== u.size) return this.fail(key, 'incomplete', `block ${block.num} (offset ${block.num * size}) does not follow byte ${u.size}`);
    if (u.size + data.length > this.maxBodyBytes) return this.fail(key, 'too-large', `body exceeds ${this.maxBodyBytes} bytes`);
    if (block.more && this.buffered + data.length > MAX_BUFFERED_BYTES) return this.fail(key, 'busy', 'too many uploads in progress');
    u.parts.push(data.length > 0 ? Buffer.from(data) : data); // copy: `data` is a view on a datagram
    u.size += data.length;
    this.buffered += data.length;
    u.nextNum = block.num + 1;
    u.expiresAt = now + this.timeoutMs;
    if (block.more) {
      this.uploads.set(key, u);
      return { kind: 'continue' };
    }
    this.forget(key, u);
    return { kind: 'complete', payload: Buffer.concat(u.parts, u.size) };
  }

  get active(): number {
    return this.uploads.size;
  }

  clear(): void {
    this.uploads.clear();
    this.buffered = 0;
  }

  private fail(key: string, kind: 'incomplete' | 'too-large' | 'busy', reason: string): Block1Result {
    const u = this.uploads.get(key);
    if (u) this.forget(key, u);
    return { kind, reason };
  }

  private forget(key: string, u: Upload): void {
    this.buffered -= u.size;
    this.uploads.delete(key);
  }

  private sweep(now: number): void {
    this.uploads.shiftWhile(
      (u) => u.expiresAt <= now,
      (_key, u) => {
        this.buffered -= u.size;
      },
    );
  }
}

/** A reply too large for one datagram, kept for follow-up Block2 requests. */
export interface HeldReply {
  readonly code: number;
  readonly payload: Buffer;
  readonly contentFormat?: number;
  readonly etag: Buffer;
  expiresAt: number;
}

export class Block2Store {
  /** Oldest first: every reply is held equally long, so this is also expiry order. */
  private readonly replies = new FifoMap<string, HeldReply>();

  constructor(
    private readonly timeoutMs: number,
    private readonly maxEntries: number,
  ) {}

  /** Keeps a reply under `key` (source + URI) and returns it with a fresh ETag. */
  hold(key: string, code: number, payload: Buffer, contentFormat: number | undefined, now: number): HeldReply {
    this.sweep(now);
    if (this.replies.size >= this.maxEntries && !this.replies.has(key)) this.replies.shift();
    const r: HeldReply = {
      code,
      payload,
      etag: randomBytes(4),
      expiresAt: now + this.timeoutMs,
      ...(contentFormat !== undefined && { contentFormat }),
    };
    this.replies.set(key, r); // (re)set makes it the newest: insertion order stays expiry order
    return r;
  }

  get(key: string, now: number): HeldReply | undefined {
    this.sweep(now);
    return this.replies.get(key);
  }

  clear(): void {
    this.replies.clear();
  }

  private sweep(now: number): void {
    this.replies.shiftWhile((r) => r.expiresAt <= now);
  }
}

/** The bytes of block `num` at size exponent `szx`, and whether more follow; undefined past the end. */
export function sliceBlock(payload: Buffer, num: number, szx: number): { data: Buffer; more: boolean } | undefined {
  const size = blockSize(szx);
  const start = num * size;
  if (start >= payload.length && !(start === 0 && payload.length === 0)) return undefined;
  const end = Math.min(start + size, payload.length);
  return { data: payload.subarray(start, end), more: end < payload.length };
}
