/**
 * A DTLS 1.2 server over one datagram socket (RFC 6347), owned by its user
 * (the coaps listener), which feeds it datagrams and sends what it returns.
 * Stateless until the cookie exchange (§4.2.1); half-open handshakes are
 * bounded in number and time; established associations in number and idle
 * time. One association per client endpoint (address:port); a new
 * ClientHello with a valid cookie from the same endpoint replaces it
 * (§4.2.8).
 */
import { verifyChain } from './cert.js';
import { SUITES, type CipherSuite } from './cipher.js';
import { CookieJar } from './cookie.js';
import { HS, Reassembler, encodeHandshake, parseFragments } from './handshake.js';
import { fingerprint, parseDtlsClientHello, type ClientHelloFingerprint } from '../client-hello.js';
import { EXT, helloVerifyRequest, offersDtls12, offersEcdsaSha256, offersNullCompression, offersP256, parseClientHello, type ClientHello } from './hello.js';
import { ALERT, CONTENT, DTLS10, alertBody, encodeRecord, parseRecords, seqNumOf, type DtlsRecord } from './record.js';
import { DtlsSession, type SessionHost } from './session.js';
import { SessionCache, type ResumableSession } from './session-cache.js';
import type { DtlsServerConfig } from './types.js';
import { DtlsDecodeError } from './wire.js';

/** What the server tells its user (the coaps listener). */
export interface DtlsEvents {
  send(address: string, port: number, datagram: Buffer): void;
  /** A ClientHello was answered with a HelloVerifyRequest (no state kept). */
  helloVerify(): void;
  established(session: DtlsSession): void;
  data(session: DtlsSession, plaintext: Buffer): void;
  closed(session: DtlsSession, reason: string): void;
  /**
   * Asked once a ClientHello passed the cookie exchange, with its JA4 / JA3:
   * true refuses it (a fingerprint ban) with a fatal access_denied alert; the
   * refusal is the user's to report.
   */
  refuseHello?(address: string, port: number, hello: ClientHelloFingerprint): boolean;
  /** A refused handshake or datagram, for the security log: `flood` for the bounds, `handshake` for failures. */
  refused(address: string, port: number, kind: 'handshake' | 'flood' | 'malformed', reason: string): void;
}

/** ClientHellos being reassembled at once, at most (the oldest is forgotten first). */
const MAX_PARTIAL_HELLOS = 64;
/** Largest ClientHello reassembled; a real one is a few hundred bytes. */
const MAX_HELLO_BYTES = 4096;
/** A ClientHello whose fragments do not all arrive within this is forgotten. */
const PARTIAL_HELLO_MS = 2000;

export class DtlsServer {
  private readonly sessions = new Map<string, DtlsSession>();
  /**
   * ClientHellos split across handshake fragments (RFC 6347 §4.2.3: a client
   * with a small MTU, e.g. `openssl s_client -mtu`), by endpoint. This is the
   * only state kept before the cookie exchange, so it is bounded in number,
   * size and time.
   */
  private readonly partialHellos = new Map<string, { seq: number; at: number; parts: Reassembler }>();
  private readonly cookies: CookieJar;
  private readonly host: SessionHost;
  private handshaking = 0;
  private readonly deadlines = new Map<DtlsSession, NodeJS.Timeout>();
  /** ClientHellos answered with a HelloVerifyRequest (no state kept). */
  helloVerifyRequests = 0;
  /** Sessions that may resume (RFC 5246 §7.3); absent with `sessionCacheSize: 0`. */
  private readonly cache?: SessionCache;

  constructor(
    private config: DtlsServerConfig,
    private readonly events: DtlsEvents,
    private readonly now: () => number = Date.now,
  ) {
    this.cookies = new CookieJar(config.cookieRotateMs, now);
    this.host = {
      now,
      send: (a, p, d) => events.send(a, p, d),
      established: (s) => {
        this.handshakeOver(s);
        events.established(s);
      },
      data: (s, d) => events.data(s, d),
      closed: (s, reason, failure) => this.forget(s, reason, failure),
    };
    if (config.sessionCacheSize > 0) {
      const cache = new SessionCache(config.sessionCacheSize, config.sessionLifetimeMs, now);
      this.cache = cache;
      this.host.remember = (id, session) => cache.put(id, session);
    }
  }

  /**
   * New material (PSK table, certificate, CAs, CRLs) for handshakes from now
   * on. Established associations keep their keys; a cached session resumes
   * only if it still passes the new material (see {@link resumable}).
   */
  reconfigure(next: DtlsServerConfig): void {
    this.config = next;
  }

  /** Associations, established or in their handshake. */
  get size(): number {
    return this.sessions.size;
  }

  /** Handshakes past the cookie exchange and not yet finished. */
  get halfOpen(): number {
    return this.handshaking;
  }

  session(key: string): DtlsSession | undefined {
    return this.sessions.get(key);
  }

  established(): DtlsSession[] {
    return [...this.sessions.values()].filter((s) => s.state === 'established');
  }

  /** One datagram from `address:port`. Never throws on what the datagram holds. */
  handle(datagram: Buffer, address: string, port: number, key: string): void {
    const records = parseRecords(datagram);
    if (records.length === 0) {
      this.events.refused(address, port, 'malformed', 'not a DTLS record (plain CoAP on the DTLS port?)');
      return;
    }
    for (const rec of records) {
      const existing = this.sessions.get(key);
      if (rec.type === CONTENT.handshake && rec.epoch === 0 && rec.fragment[0] === HS.clientHello) {
        this.onClientHello(rec, address, port, key, existing);
        continue;
      }
      existing?.onRecord(rec);
    }
  }

  /** Encrypts `data` for the endpoint's association; false when there is none established. */
  send(key: string, data: Buffer): boolean {
    const s = this.sessions.get(key);
    return s ? s.send(data) : false;
  }

  /** Closes the endpoint's association (close_notify). */
  close(key: string, reason: string): void {
    const s = this.sessions.get(key);
    if (!s) return;
    s.close(true);
    this.forget(s, reason, false);
  }

  /** Closes associations idle past `sessionIdleMs`. */
  sweep(): void {
    const now = this.now();
    for (const s of this.sessions.values()) {
      if (s.state === 'established' && now - s.lastSeen > this.config.sessionIdleMs) this.close(s.key, 'idle');
    }
  }

  closeAll(): void {
    for (const s of [...this.sessions.values()]) this.close(s.key, 'listener stopped');
  }

  private onClientHello(rec: DtlsRecord, address: string, port: number, key: string, existing: DtlsSession | undefined): void {
    let hello: ClientHello;
    let seq: number;
    let body: Buffer;
    let reassembled: boolean;
    try {
      const whole = this.wholeHello(rec, key);
      if (!whole) return;
      ({ seq, body, reassembled } = whole);
      hello = parseClientHello(body);
    } catch (err) {
      this.partialHellos.delete(key);
      this.events.refused(address, port, 'malformed', `malformed ClientHello: ${(err as Error).message}`);
      return;
    }
    // Past here the hello is handled as if it had come in one fragment (the transcript takes it so, RFC 6347 §4.2.6).
    if (reassembled) rec = { ...rec, fragment: encodeHandshake(HS.clientHello, seq, body) };
    // A repeated ClientHello of this association (same random): during the handshake the
    // session resends its flight; afterwards it is a late duplicate and must not replace the
    // association (RFC 6347 §4.2.8 is about a new random).
    if (existing?.clientRandom.equals(hello.random)) {
      if (existing.state === 'handshake') existing.onRecord(rec);
      return;
    }
    if (hello.cookie.length === 0 || !this.cookies.verify(address, port, hello)) {
      this.helloVerifyRequests++;
      this.events.helloVerify();
      const hvr = encodeHandshake(HS.helloVerifyRequest, seq, helloVerifyRequest(this.cookies.make(address, port, hello)));
      // RFC 6347 §4.2.1: the HelloVerifyRequest reuses the ClientHello's record sequence number.
      this.events.send(address, port, encodeRecord(CONTENT.handshake, DTLS10, rec.seqNum, hvr));
      return;
    }
    if (this.handshaking >= this.config.maxHandshakes) {
      this.events.refused(address, port, 'flood', `${this.handshaking} handshakes in progress (maxHandshakes); ClientHello dropped`);
      return;
    }
    if (!existing && this.sessions.size - this.handshaking >= this.config.maxSessions) {
      this.events.refused(address, port, 'flood', `${this.sessions.size - this.handshaking} DTLS associations (limits.maxConnections); ClientHello dropped`);
      return;
    }
    // Fingerprinted only past the cookie exchange: a spoofed flood costs no hashing.
    const raw = parseDtlsClientHello(body);
    const fp = raw ? fingerprint(raw, 'd') : undefined;
    if (fp && this.events.refuseHello?.(address, port, fp)) {
      this.events.send(address, port, encodeRecord(CONTENT.alert, DTLS10, seqNumOf(0, rec.seq), alertBody(true, ALERT.accessDenied)));
      return;
    }
    const refusal = this.refusalOf(hello);
    const cached = refusal === undefined ? this.resumable(hello) : undefined;
    const suite = cached ? SUITES.find((x) => x.id === cached.suite) : refusal === undefined ? this.choose(hello) : undefined;
    if (!suite) {
      const reason = refusal ?? 'no shared cipher suite';
      this.events.send(
        address,
        port,
        encodeRecord(CONTENT.alert, DTLS10, seqNumOf(0, rec.seq), alertBody(true, refusal ? ALERT.protocolVersion : ALERT.handshakeFailure)),
      );
      this.events.refused(address, port, 'handshake', reason);
      return;
    }
    if (existing) {
      existing.close(false);
      this.forget(existing, 'new handshake from the same endpoint', false);
    }
    const s = new DtlsSession(this.host, this.config, key, address, port, hello, { type: HS.clientHello, seq, body }, suite);
    if (fp) s.fingerprint = fp;
    this.sessions.set(key, s);
    this.handshaking++;
    const deadline = setTimeout(() => {
      if (s.state !== 'handshake') return;
      s.close(false);
      this.forget(s, 'handshake time-out', true);
    }, this.config.handshakeTimeoutMs);
    deadline.unref();
    this.deadlines.set(s, deadline);
    if (cached) s.resume(cached);
    else s.start();
  }

  /**
   * The ClientHello of `rec` as one message: at once when it came in one
   * fragment, else once its last fragment arrived (undefined until then).
   */
  private wholeHello(rec: DtlsRecord, key: string): { seq: number; body: Buffer; reassembled: boolean } | undefined {
    const frags = parseFragments(rec.fragment);
    const f = frags[0]!;
    if (frags.length === 1 && f.offset === 0 && f.body.length === f.length) {
      this.partialHellos.delete(key);
      return { seq: f.seq, body: f.body, reassembled: false };
    }
    let whole: { seq: number; body: Buffer; reassembled: boolean } | undefined;
    for (const frag of frags) {
      if (frag.type !== HS.clientHello) throw new DtlsDecodeError('a ClientHello record holds another message');
      if (frag.length > MAX_HELLO_BYTES) throw new DtlsDecodeError(`fragmented ClientHello of ${frag.length} bytes (at most ${MAX_HELLO_BYTES})`);
      const now = this.now();
      let partial = this.partialHellos.get(key);
      if (!partial || partial.seq !== frag.seq || now - partial.at > PARTIAL_HELLO_MS) {
        this.partialHellos.delete(key);
        this.forgetStaleHellos(now);
        partial = { seq: frag.seq, at: now, parts: new Reassembler(frag.seq) };
        this.partialHellos.set(key, partial);
      }
      const [done] = partial.parts.add(frag);
      if (done) {
        this.partialHellos.delete(key);
        whole = { seq: done.seq, body: done.body, reassembled: true };
      }
    }
    return whole;
  }

  /** Drops reassemblies past their time, and the oldest while the table is full (Map order is insertion order). */
  private forgetStaleHellos(now: number): void {
    for (const [k, p] of this.partialHellos) {
      if (this.partialHellos.size < MAX_PARTIAL_HELLOS && now - p.at <= PARTIAL_HELLO_MS) break;
      this.partialHellos.delete(k);
    }
  }

  /**
   * The cached session the client asks to resume, when it may: still cached,
   * its suite offered again, the same extended-master-secret choice (RFC 7627
   * §5.3), for PSK the identity's key unchanged in the configuration, and
   * for a client certificate one that still verifies (trusted, unexpired,
   * not revoked). Anything else gets a full handshake.
   */
  private resumable(h: ClientHello): ResumableSession | undefined {
    if (!this.cache || h.sessionId.length === 0) return undefined;
    const c = this.cache.get(h.sessionId);
    if (!c || !h.suites.includes(c.suite) || c.ems !== h.extensions.has(EXT.extendedMasterSecret)) return undefined;
    if (c.pskIdentity !== undefined && !this.config.psk.get(c.pskIdentity)?.equals(c.psk ?? Buffer.alloc(0))) return undefined;
    // A client certificate is judged again by today's CAs, CRLs and clock: revoked since, it gets a full handshake and is refused there.
    if (c.clientCert && !verifyChain([c.clientCert.raw], this.config.ca, this.now(), this.config.crls).ok) return undefined;
    return c;
  }

  private refusalOf(h: ClientHello): string | undefined {
    if (!offersDtls12(h)) return 'client does not offer DTLS 1.2';
    if (!offersNullCompression(h)) return 'client does not offer null compression';
    return undefined;
  }

  /** The first suite in thinggate's order that the client offers and the configuration can serve. */
  private choose(h: ClientHello): CipherSuite | undefined {
    const ecdheOk = this.config.credential !== undefined && offersP256(h) && offersEcdsaSha256(h);
    return SUITES.find((s) => h.suites.includes(s.id) && (s.keyExchange === 'psk' ? this.config.psk.size > 0 : ecdheOk));
  }

  private handshakeOver(s: DtlsSession): void {
    const t = this.deadlines.get(s);
    if (!t) return;
    clearTimeout(t);
    this.deadlines.delete(s);
    this.handshaking--;
  }

  private forget(s: DtlsSession, reason: string, failure: boolean): void {
    if (this.sessions.get(s.key) !== s) return;
    const wasHandshake = this.deadlines.has(s);
    this.handshakeOver(s);
    this.sessions.delete(s.key);
    if (failure) this.events.refused(s.address, s.port, 'handshake', reason);
    if (!wasHandshake) this.events.closed(s, reason);
  }
}
