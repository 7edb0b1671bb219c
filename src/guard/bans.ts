/**
 * Bans by source address (one IP or a CIDR prefix), client id, principal,
 * client certificate, or TLS ClientHello fingerprint (JA4, JA3), each with
 * a reason and an optional expiry. Static bans come from the configuration
 * (`guard.bans`); dynamic ones from the admin API and from violation
 * scoring and flapping (scoring.ts). Dynamic bans are written
 * through a ban store (state/bans.ts): by default `<guard.stateDir>/bans.json`
 * (state/embedded/bans.ts), so a restart keeps them; with the Redis state
 * backend, a hash every node reads, so a ban made on one node holds on all.
 */
import { BlockList, isIP } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { BanStore, StoredBan } from '../state/bans.js';
import { FileBanStore } from '../state/embedded/bans.js';

export type BanKind = 'ip' | 'cidr' | 'clientId' | 'principal' | 'certFingerprint' | 'ja4' | 'ja3';
export const BAN_KINDS: readonly BanKind[] = ['ip', 'cidr', 'clientId', 'principal', 'certFingerprint', 'ja4', 'ja3'];

/**
 * A JA4 TLS client fingerprint (FoxIO): `t13d1516h2_8daaf6152771_e5627efa2ab1`
 * — transport (t, q or d), version, SNI (d/i), two counts, ALPN, then two
 * truncated SHA-256 hashes.
 */
const JA4 = /^[tqd][0-9a-z]{2}[di]\d{4}[0-9A-Za-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$/;
/** A JA3 fingerprint: the MD5 of the ClientHello's fields, 32 hex digits. */
const JA3 = /^[0-9a-f]{32}$/i;

export interface Ban {
  readonly id: string;
  readonly kind: BanKind;
  readonly value: string;
  readonly reason: string;
  /** 'config' (static), 'api' (admin API), 'scoring' or 'flapping'. */
  readonly source: string;
  readonly createdAt: number;
  /** Epoch ms; absent for a ban without end. */
  readonly expiresAt?: number;
}

export interface BanInput {
  readonly kind: BanKind;
  readonly value: string;
  readonly reason: string;
  readonly source: string;
  readonly ttlMs?: number;
}

/** What a connection is known by when a ban is checked. */
export interface BanSubject {
  readonly remoteAddress?: string;
  readonly clientId?: string;
  readonly principal?: string;
  /** SHA-256 fingerprint of the verified client certificate (TlsInfo.peer.fingerprint256). */
  readonly certFingerprint?: string;
  /** JA4 and JA3 of the TLS or DTLS ClientHello (security/client-hello.ts). */
  readonly ja4?: string;
  readonly ja3?: string;
}

/** Why a ban value is unusable, or undefined when it is fine. */
export function banValueProblem(kind: BanKind, value: string): string | undefined {
  if (value.length === 0) return 'value is empty';
  if (kind === 'ip' && isIP(value) === 0) return `'${value}' is not an IP address`;
  if (kind === 'certFingerprint' && !/^[0-9a-f]{64}$/i.test(value.replaceAll(':', '')))
    return `'${value}' is not a SHA-256 certificate fingerprint (64 hex digits, colons allowed)`;
  if (kind === 'ja4' && !JA4.test(value)) return `'${value}' is not a JA4 fingerprint (e.g. t13d1516h2_8daaf6152771_e5627efa2ab1)`;
  if (kind === 'ja3' && !JA3.test(value)) return `'${value}' is not a JA3 fingerprint (32 hex digits)`;
  if (kind === 'cidr') {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(value);
    const family = m ? isIP(m[1]!) : 0;
    if (!m || family === 0 || Number(m[2]) > (family === 4 ? 32 : 128)) return `'${value}' is not an address prefix (a.b.c.d/n or v6/n)`;
  }
  return undefined;
}

/** A ban's value as matched: a plain address for `ip`, a fingerprint as node prints it (`AB:CD:…`). */
function canonical(kind: BanKind, value: string): string {
  if (kind === 'ip') return plainAddress(value);
  if (kind === 'certFingerprint') return fingerprintOf(value);
  if (kind === 'ja3') return value.toLowerCase();
  return value;
}

/** Upper-case hex pairs joined by colons, as TLSSocket.getPeerCertificate().fingerprint256. */
function fingerprintOf(value: string): string {
  return (value.replaceAll(':', '').toUpperCase().match(/../g) ?? []).join(':');
}

/** `::ffff:a.b.c.d` (an IPv4 peer on a dual-stack socket) is a.b.c.d. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

export interface BanListOptions {
  /** Where dynamic bans are persisted (bans.json, when no `store` is given); undefined keeps them in memory only. */
  readonly stateDir?: string;
  /** Where dynamic bans are written through (default: the file in `stateDir`). */
  readonly store?: BanStore;
  /** Called after the bans were read again because another process changed them. */
  readonly onSync?: () => void;
  readonly now?: () => number;
  /** Called once per ban added and once per ban lifted or expired. */
  readonly onChange?: (change: 'ban' | 'unban', ban: Ban, why: string) => void;
  /** A ban could not be written through to the store (it holds in memory here). */
  readonly onStoreError?: (operation: 'put' | 'delete', err: unknown) => void;
}

export class BanList {
  private statics: Ban[] = [];
  private readonly dynamic = new Map<string, Ban>();
  private readonly now: () => number;
  /** Lookup by name, rebuilt after any change. */
  private index?: { exact: Map<string, Ban[]>; prefixes: Ban[]; hello: boolean };
  /** Earliest expiry among dynamic bans: the expiry sweep waits for it. */
  private nextExpiry = Infinity;

  private readonly store: BanStore;
  private readonly unwatch: () => void;

  constructor(private readonly options: BanListOptions = {}) {
    this.now = options.now ?? Date.now;
    this.store = options.store ?? new FileBanStore(options.stateDir);
    this.load();
    this.unwatch = this.store.watch(() => this.load(true));
  }

  /** Stops following the store's changes (gateway stop). */
  close(): void {
    this.unwatch();
  }

  /** Replaces the static bans (configuration load and reload). */
  setStatic(bans: readonly Omit<BanInput, 'source'>[]): void {
    const t = this.now();
    this.statics = bans.map((b, i) => ({
      id: `config-${i}`,
      kind: b.kind,
      value: canonical(b.kind, b.value),
      reason: b.reason,
      source: 'config',
      createdAt: t,
      ...(b.ttlMs !== undefined && { expiresAt: t + b.ttlMs }),
    }));
    this.changed();
  }

  add(input: BanInput): Ban {
    const t = this.now();
    const ban: Ban = {
      id: randomBytes(6).toString('hex'),
      kind: input.kind,
      value: canonical(input.kind, input.value),
      reason: input.reason,
      source: input.source,
      createdAt: t,
      ...(input.ttlMs !== undefined && { expiresAt: t + input.ttlMs }),
    };
    this.dynamic.set(ban.id, ban);
    this.changed();
    this.writeThrough('put', () => this.store.put(ban));
    this.options.onChange?.('ban', ban, ban.reason);
    return ban;
  }

  /** Lifts a dynamic ban; static bans are lifted by editing the configuration. */
  remove(id: string): Ban | undefined {
    const ban = this.dynamic.get(id);
    if (!ban) return undefined;
    this.dynamic.delete(id);
    this.changed();
    this.writeThrough('delete', () => this.store.delete(id));
    this.options.onChange?.('unban', ban, 'removed');
    return ban;
  }

  /** A store write, synchronous (a file) or not (Redis): its failure is reported, never thrown at the caller. */
  private writeThrough(operation: 'put' | 'delete', write: () => void | Promise<void>): void {
    const failed = (err: unknown): void => this.options.onStoreError?.(operation, err);
    try {
      void Promise.resolve(write()).catch(failed);
    } catch (err) {
      failed(err);
    }
  }

  /** Bans in force now, static first. */
  list(): Ban[] {
    this.expire();
    const t = this.now();
    return [...this.statics.filter((b) => !expired(b, t)), ...this.dynamic.values()];
  }

  /**
   * The first ban in force that matches any of the subject's names: exact
   * names through an index (this runs per accepted connection, and scoring
   * may ban many addresses), prefixes by a scan of the prefix bans only.
   */
  match(subject: BanSubject): Ban | undefined {
    if (this.statics.length === 0 && this.dynamic.size === 0) return undefined;
    this.expire();
    const t = this.now();
    const index = this.indexed();
    const address = subject.remoteAddress !== undefined ? plainAddress(subject.remoteAddress) : undefined;
    const names: Array<[BanKind, string | undefined]> = [
      ['ip', address],
      ['clientId', subject.clientId],
      ['principal', subject.principal],
      ['certFingerprint', subject.certFingerprint],
      ['ja4', subject.ja4],
      ['ja3', subject.ja3],
    ];
    for (const [kind, value] of names) {
      if (value === undefined) continue;
      const b = index.exact.get(`${kind}\u0000${value}`)?.find((x) => !expired(x, t));
      if (b) return b;
    }
    if (address === undefined || isIP(address) === 0) return undefined;
    return index.prefixes.find((b) => !expired(b, t) && inPrefixes(address, [b.value]));
  }

  /** Whether a JA4 or JA3 ban is in the list (a ClientHello need not be fingerprinted otherwise). */
  hasHelloBans(): boolean {
    if (this.statics.length === 0 && this.dynamic.size === 0) return false;
    return this.indexed().hello;
  }

  private indexed(): { exact: Map<string, Ban[]>; prefixes: Ban[]; hello: boolean } {
    if (this.index) return this.index;
    const exact = new Map<string, Ban[]>();
    const prefixes: Ban[] = [];
    let hello = false;
    for (const b of this.all()) {
      if (b.kind === 'ja4' || b.kind === 'ja3') hello = true;
      if (b.kind === 'cidr') prefixes.push(b);
      else {
        const key = `${b.kind}\u0000${b.value}`;
        const list = exact.get(key);
        if (list) list.push(b);
        else exact.set(key, [b]);
      }
    }
    return (this.index = { exact, prefixes, hello });
  }

  /** Number of bans in force, without expiring any (the active-bans gauge). */
  count(): number {
    const t = this.now();
    let n = 0;
    for (const b of this.all()) if (!expired(b, t)) n++;
    return n;
  }

  private *all(): Iterable<Ban> {
    yield* this.statics;
    yield* this.dynamic.values();
  }

  private expire(): void {
    const t = this.now();
    if (t < this.nextExpiry) return;
    const gone: Ban[] = [];
    for (const [id, b] of this.dynamic) {
      if (!expired(b, t)) continue;
      this.dynamic.delete(id);
      gone.push(b);
    }
    this.changed();
    for (const b of gone) {
      this.writeThrough('delete', () => this.store.delete(b.id));
      this.options.onChange?.('unban', b, 'expired');
    }
  }

  /** Drops the index and recomputes the next expiry after a change of the dynamic bans. */
  private changed(): void {
    this.index = undefined;
    this.nextExpiry = Infinity;
    for (const b of this.dynamic.values()) if (b.expiresAt !== undefined && b.expiresAt < this.nextExpiry) this.nextExpiry = b.expiresAt;
  }

  /** Reads the stored bans (at start, and again when another process changed them). */
  private load(sync = false): void {
    const apply = (stored: readonly StoredBan[]): void => {
      const t = this.now();
      this.dynamic.clear();
      for (const b of stored) {
        if (typeof b?.id !== 'string' || !BAN_KINDS.includes(b.kind) || typeof b.value !== 'string' || banValueProblem(b.kind, b.value)) continue;
        if (!expired(b, t)) this.dynamic.set(b.id, b);
      }
      this.changed();
      if (sync) this.options.onSync?.();
    };
    let stored: ReturnType<BanStore['all']>;
    try {
      stored = this.store.all();
    } catch {
      return; // an unreadable store: keep the bans in memory
    }
    if (Array.isArray(stored)) apply(stored);
    else void (stored as Promise<readonly StoredBan[]>).then(apply, () => {});
  }
}

/** True when `address` lies in one of the prefixes (a.b.c.d/n, v6/n). */
export function inPrefixes(address: string, prefixes: readonly string[]): boolean {
  return prefixMatcher(prefixes)(address);
}

/** A test for "lies in one of the prefixes", the prefix list built once (hot paths: the exempt check per message). */
export function prefixMatcher(prefixes: readonly string[]): (address: string) => boolean {
  if (prefixes.length === 0) return () => false;
  const list = new BlockList();
  for (const p of prefixes) {
    const [net, bits] = p.split('/') as [string, string];
    list.addSubnet(net, Number(bits), isIP(net) === 4 ? 'ipv4' : 'ipv6');
  }
  return (address) => {
    const a = plainAddress(address);
    const family = isIP(a);
    return family !== 0 && list.check(a, family === 4 ? 'ipv4' : 'ipv6');
  };
}

function expired(b: Ban, t: number): boolean {
  return b.expiresAt !== undefined && b.expiresAt <= t;
}
