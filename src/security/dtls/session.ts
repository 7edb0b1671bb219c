/**
 * One DTLS 1.2 association with a client endpoint, server side (RFC 6347 over
 * RFC 5246): created only once the client returned a valid cookie
 * (cookie.ts), it sends the server flight, processes the client's
 * ClientKeyExchange / Certificate / CertificateVerify / Finished, answers with
 * ChangeCipherSpec and Finished, then carries application data.
 */
import type { ResumableSession } from './session-cache.js';
import type { ClientHelloFingerprint } from '../client-hello.js';
import { createECDH, randomBytes, timingSafeEqual, type ECDH, type X509Certificate } from 'node:crypto';
import type { TlsInfo } from '../../envelope/index.js';
import { deriveCiphers, type CipherSuite, type RecordCipher } from './cipher.js';
import {
  certificateMessage,
  certificateRequest,
  commonName,
  ecdheServerKeyExchange,
  parseCertificateMessage,
  peerFacts,
  verifyCertificateVerify,
  verifyChain,
} from './cert.js';
import { encodeFlight, FlightTimer, type FlightItem } from './flight.js';
import { HS, Reassembler, encodeHandshake, parseFragments, type HandshakeMessage } from './handshake.js';
import { EXT, serverHello, serverRandom, wantsRenegotiationInfo, type ClientHello } from './hello.js';
import { finishedData, masterSecret, pskPreMaster, sha256 } from './prf.js';
import { ALERT, CONTENT, DTLS12, HEADER_LENGTH, ReplayWindow, alertBody, encodeRecord, seqNumOf, writeHeader, type DtlsRecord } from './record.js';
import type { DtlsServerConfig } from './types.js';
import { DtlsDecodeError, Reader } from './wire.js';

/** What a session needs of its server. */
export interface SessionHost {
  now(): number;
  send(address: string, port: number, datagram: Buffer): void;
  established(session: DtlsSession): void;
  data(session: DtlsSession, plaintext: Buffer): void;
  /** The association ended; `handshakeFailure` when it never got established (a security event). */
  closed(session: DtlsSession, reason: string, handshakeFailure: boolean): void;
  /** Stores a finished full handshake for resumption; absent when the server caches no sessions. */
  remember?(sessionId: Buffer, session: ResumableSession): void;
}

/** A handshake failure: the alert sent and the reason reported. */
export class HandshakeFailure extends Error {
  constructor(
    readonly alert: number,
    reason: string,
  ) {
    super(reason);
  }
}

/** The alert for each way a client chain fails (RFC 5246 §7.2.2). */
const CHAIN_ALERT = { 'unknown-ca': ALERT.unknownCa, expired: ALERT.certificateExpired, revoked: ALERT.certificateRevoked, bad: ALERT.badCertificate } as const;

type Expect = 'certificate' | 'client-key-exchange' | 'certificate-verify' | 'finished' | 'done';

export class DtlsSession {
  state: 'handshake' | 'established' | 'closed' = 'handshake';
  lastSeen: number;
  /** Handshake facts once established (envelope `tls`). */
  facts?: TlsInfo;
  /** JA4/JA3 of the client's ClientHello (set by the server). */
  fingerprint?: ClientHelloFingerprint;
  /** An abbreviated handshake resuming a cached session (RFC 5246 §7.3). */
  private resumed = false;
  private sessionId: Buffer;
  private readonly writeSeq = [0, 0];
  private readonly reassembler: Reassembler;
  private readonly transcript: Buffer[] = [];
  private readonly random = serverRandom();
  private readonly ems: boolean;
  private readonly flight: FlightTimer;
  private readonly replay = new ReplayWindow();
  private nextServerSeq: number;
  private expect: Expect;
  private client?: RecordCipher;
  private server?: RecordCipher;
  private master?: Buffer;
  private ecdh?: ECDH;
  private clientCert?: X509Certificate;
  private pskIdentity?: string;
  /** Set when the identity was unknown: the handshake goes on with a random key and fails at Finished (RFC 4279 §2). */
  private unknownIdentity = false;

  constructor(
    private readonly host: SessionHost,
    private readonly config: DtlsServerConfig,
    readonly key: string,
    readonly address: string,
    readonly port: number,
    private readonly hello: ClientHello,
    helloMessage: HandshakeMessage,
    readonly suite: CipherSuite,
  ) {
    this.lastSeen = host.now();
    this.ems = hello.extensions.has(EXT.extendedMasterSecret);
    this.reassembler = new Reassembler(helloMessage.seq + 1);
    this.nextServerSeq = helloMessage.seq;
    this.transcript.push(encodeHandshake(HS.clientHello, helloMessage.seq, helloMessage.body));
    this.flight = new FlightTimer(config.retransmitMs, (items) => this.transmit(items));
    const requestCert = suite.keyExchange === 'ecdhe_ecdsa' && config.ca.length > 0;
    this.expect = requestCert ? 'certificate' : 'client-key-exchange';
    this.sessionId = host.remember ? randomBytes(32) : Buffer.alloc(0);
  }

  get clientRandom(): Buffer {
    return this.hello.random;
  }

  /** The server flight: ServerHello … ServerHelloDone (RFC 5246 §7.3). */
  start(): void {
    const ecc = this.suite.keyExchange === 'ecdhe_ecdsa';
    const items: FlightItem[] = [
      this.message(
        HS.serverHello,
        serverHello(this.random, this.suite.id, { renegotiation: wantsRenegotiationInfo(this.hello), ems: this.ems, ecc }, this.sessionId),
      ),
    ];
    if (ecc) {
      const cred = this.config.credential!;
      this.ecdh = createECDH('prime256v1');
      this.ecdh.generateKeys();
      items.push(this.message(HS.certificate, certificateMessage(cred.chain)));
      items.push(this.message(HS.serverKeyExchange, ecdheServerKeyExchange(cred, this.ecdh.getPublicKey(), this.hello.random, this.random)));
      if (this.expect === 'certificate') items.push(this.message(HS.certificateRequest, certificateRequest()));
    }
    items.push(this.message(HS.serverHelloDone, Buffer.alloc(0)));
    this.flight.send(items, true);
  }

  /**
   * The abbreviated handshake (RFC 5246 §7.3): ServerHello with the client's
   * session id, ChangeCipherSpec and Finished, keys from the cached master
   * secret and the new randoms; the client's Finished completes it.
   */
  resume(cached: ResumableSession): void {
    this.resumed = true;
    this.sessionId = this.hello.sessionId;
    this.master = cached.master;
    if (cached.pskIdentity !== undefined) this.pskIdentity = cached.pskIdentity;
    if (cached.clientCert) this.clientCert = cached.clientCert;
    const keys = deriveCiphers(this.suite, this.master, this.hello.random, this.random);
    this.client = keys.client;
    this.server = keys.server;
    const hello = this.message(
      HS.serverHello,
      serverHello(
        this.random,
        this.suite.id,
        { renegotiation: wantsRenegotiationInfo(this.hello), ems: this.ems, ecc: this.suite.keyExchange === 'ecdhe_ecdsa' },
        this.sessionId,
      ),
    );
    const verify = finishedData(this.master, 'server', sha256(Buffer.concat(this.transcript)));
    const seq = this.nextServerSeq++;
    this.transcript.push(encodeHandshake(HS.finished, seq, verify));
    this.expect = 'finished';
    this.flight.send([hello, { kind: 'ccs' }, { kind: 'handshake', type: HS.finished, seq, body: verify, epoch: 1 }], true);
  }

  /** A record from the client (the server routed it here by endpoint). */
  onRecord(rec: DtlsRecord): void {
    if (this.state === 'closed') return;
    const type = rec.type;
    let payload = rec.fragment;
    if (rec.epoch === 1) {
      if (!this.client || !this.replay.check(rec.seq)) return;
      const plain = this.client.open(rec.seqNum, rec.type, rec.version, rec.fragment);
      if (!plain) {
        // The client's Finished does not authenticate: its key differs from ours.
        if (this.state === 'handshake' && this.expect === 'finished') this.fail(new HandshakeFailure(ALERT.badRecordMac, this.keyMismatch()));
        return;
      }
      this.replay.accept(rec.seq);
      payload = plain;
    } else if (rec.epoch !== 0) return;
    this.lastSeen = this.host.now();
    try {
      this.dispatch(type, rec.epoch, payload);
    } catch (err) {
      if (err instanceof HandshakeFailure) this.fail(err);
      else if (err instanceof DtlsDecodeError) this.fail(new HandshakeFailure(ALERT.decodeError, `malformed handshake message: ${err.message}`));
      else throw err;
    }
  }

  /** Encrypts and sends application data; false before the handshake is done. */
  send(data: Buffer): boolean {
    if (this.state !== 'established' || !this.server) return false;
    this.host.send(this.address, this.port, this.record(CONTENT.applicationData, 1, data));
    return true;
  }

  /** Ends the association: close_notify when established (RFC 5246 §7.2.1), timers stopped. */
  close(notify: boolean): void {
    if (this.state === 'closed') return;
    if (notify && this.state === 'established') this.host.send(this.address, this.port, this.record(CONTENT.alert, 1, alertBody(false, ALERT.closeNotify)));
    this.state = 'closed';
    this.flight.cancel();
  }

  private dispatch(type: number, epoch: number, payload: Buffer): void {
    switch (type) {
      case CONTENT.handshake:
        return this.onHandshake(payload);
      case CONTENT.changeCipherSpec:
        return; // The epoch of each record says which keys apply; CCS itself carries nothing to act on.
      case CONTENT.alert:
        return this.onAlert(payload);
      case CONTENT.applicationData:
        if (epoch === 1 && this.state === 'established') this.host.data(this, payload);
        return;
    }
  }

  private onAlert(payload: Buffer): void {
    if (payload.length < 2) return;
    const [level, description] = [payload[0]!, payload[1]!];
    if (description === ALERT.closeNotify) {
      this.close(true);
      this.host.closed(this, 'close_notify from the client', false);
    } else if (level === 2) {
      const wasHandshake = this.state === 'handshake';
      this.close(false);
      this.host.closed(this, `fatal alert ${description} from the client`, wasHandshake);
    }
  }

  private onHandshake(payload: Buffer): void {
    let repeated = false;
    for (const f of parseFragments(payload)) {
      if (f.seq < this.reassembler.next) {
        repeated = true;
        continue;
      }
      for (const m of this.reassembler.add(f)) this.onMessage(m);
    }
    // RFC 6347 §4.2.4: a retransmitted flight from the peer means ours was lost.
    if (repeated) this.flight.peerRepeated(this.host.now());
  }

  private onMessage(m: HandshakeMessage): void {
    const raw = encodeHandshake(m.type, m.seq, m.body);
    switch (this.expect) {
      case 'certificate':
        this.need(m, HS.certificate);
        this.onClientCertificate(m.body);
        break;
      case 'client-key-exchange':
        this.need(m, HS.clientKeyExchange);
        this.transcript.push(raw);
        this.onClientKeyExchange(m.body);
        return;
      case 'certificate-verify':
        this.need(m, HS.certificateVerify);
        if (!verifyCertificateVerify(m.body, Buffer.concat(this.transcript), this.clientCert!)) {
          throw new HandshakeFailure(ALERT.decryptError, 'client CertificateVerify signature invalid');
        }
        this.expect = 'finished';
        break;
      case 'finished':
        this.need(m, HS.finished);
        this.onFinished(m.body);
        this.transcript.push(raw);
        this.finish();
        return;
      case 'done':
        return;
    }
    this.transcript.push(raw);
  }

  private need(m: HandshakeMessage, type: number): void {
    if (m.type !== type) throw new HandshakeFailure(ALERT.unexpectedMessage, `unexpected handshake message ${m.type} (expected ${type})`);
  }

  private onClientCertificate(body: Buffer): void {
    const chain = parseCertificateMessage(body);
    if (chain.length === 0) throw new HandshakeFailure(ALERT.handshakeFailure, 'client certificate missing');
    const r = verifyChain(chain, this.config.ca, this.host.now(), this.config.crls);
    if (!r.ok) throw new HandshakeFailure(CHAIN_ALERT[r.alert], r.reason);
    this.clientCert = r.leaf;
    this.expect = 'client-key-exchange';
  }

  private onClientKeyExchange(body: Buffer): void {
    const r = new Reader(body);
    let preMaster: Buffer;
    if (this.suite.keyExchange === 'psk') {
      const identity = r.vec16().toString('utf8');
      this.pskIdentity = identity;
      const psk = this.config.psk.get(identity);
      if (!psk) this.unknownIdentity = true;
      preMaster = pskPreMaster(psk ?? randomBytes(16));
    } else {
      const point = r.vec8();
      try {
        preMaster = this.ecdh!.computeSecret(point);
      } catch {
        throw new HandshakeFailure(ALERT.illegalParameter, 'client ECDHE point invalid');
      }
    }
    const sessionHash = this.ems ? sha256(Buffer.concat(this.transcript)) : undefined;
    this.master = masterSecret(preMaster, this.hello.random, this.random, sessionHash);
    const keys = deriveCiphers(this.suite, this.master, this.hello.random, this.random);
    this.client = keys.client;
    this.server = keys.server;
    this.expect = this.clientCert ? 'certificate-verify' : 'finished';
  }

  private onFinished(body: Buffer): void {
    const expected = finishedData(this.master!, 'client', sha256(Buffer.concat(this.transcript)));
    if (body.length !== expected.length || !timingSafeEqual(body, expected)) throw new HandshakeFailure(ALERT.decryptError, this.keyMismatch());
    if (this.unknownIdentity) throw new HandshakeFailure(ALERT.decryptError, `unknown PSK identity '${this.pskIdentity}'`);
  }

  /** Server ChangeCipherSpec and Finished (a resumption sent them first); the association is up (RFC 5246 §7.4.9). */
  private finish(): void {
    if (this.resumed) this.flight.cancel();
    else {
      const verify = finishedData(this.master!, 'server', sha256(Buffer.concat(this.transcript)));
      this.flight.send([{ kind: 'ccs' }, { kind: 'handshake', type: HS.finished, seq: this.nextServerSeq++, body: verify, epoch: 1 }], false);
      if (this.sessionId.length > 0) this.remember();
    }
    this.expect = 'done';
    this.state = 'established';
    this.facts = this.factsOf();
    this.transcript.length = 0;
    this.host.established(this);
  }

  private remember(): void {
    const psk = this.pskIdentity !== undefined ? this.config.psk.get(this.pskIdentity) : undefined;
    this.host.remember?.(this.sessionId, {
      master: this.master!,
      suite: this.suite.id,
      ems: this.ems,
      at: this.host.now(),
      ...(this.pskIdentity !== undefined && { pskIdentity: this.pskIdentity }),
      ...(psk && { psk }),
      ...(this.clientCert && { clientCert: this.clientCert }),
    });
  }

  private keyMismatch(): string {
    if (this.unknownIdentity) return `unknown PSK identity '${this.pskIdentity}'`;
    return this.suite.keyExchange === 'psk' ? `wrong PSK for identity '${this.pskIdentity}'` : 'client Finished does not verify';
  }

  private fail(f: HandshakeFailure): void {
    if (this.state === 'closed') return;
    const established = this.state === 'established';
    this.host.send(this.address, this.port, established ? this.record(CONTENT.alert, 1, alertBody(true, f.alert)) : this.plainAlert(f.alert));
    this.close(false);
    this.host.closed(this, f.message, !established);
  }

  private plainAlert(description: number): Buffer {
    return encodeRecord(CONTENT.alert, DTLS12, seqNumOf(0, this.writeSeq[0]!++), alertBody(true, description));
  }

  private message(type: number, body: Buffer): FlightItem {
    const seq = this.nextServerSeq++;
    this.transcript.push(encodeHandshake(type, seq, body));
    return { kind: 'handshake', type, seq, body, epoch: 0 };
  }

  private transmit(items: readonly FlightItem[]): void {
    const writer = { nextSeq: (e: number) => this.writeSeq[e]!++, cipher: this.server, mtu: this.config.mtu };
    for (const d of encodeFlight(items, writer)) this.host.send(this.address, this.port, d);
  }

  /** One record; at epoch 1 header and sealed fragment are written into one buffer. */
  private record(type: number, epoch: number, plaintext: Buffer): Buffer {
    const seqNum = seqNumOf(epoch, this.writeSeq[epoch]!++);
    if (epoch !== 1) return encodeRecord(type, DTLS12, seqNum, plaintext);
    const cipher = this.server!;
    const length = cipher.overhead + plaintext.length;
    const out = Buffer.allocUnsafe(HEADER_LENGTH + length);
    writeHeader(out, type, DTLS12, seqNum, length);
    cipher.sealInto(seqNum, type, DTLS12, plaintext, out, HEADER_LENGTH);
    return out;
  }

  private factsOf(): TlsInfo {
    const c = this.clientCert;
    const peer = c && peerFacts(c);
    const cn = c && commonName(c);
    return {
      version: 'DTLSv1.2',
      cipher: this.suite.name,
      resumed: this.resumed,
      authorized: c !== undefined,
      ...(this.pskIdentity !== undefined && { pskIdentity: this.pskIdentity }),
      ...(peer && { peer, peerSubject: peer.subject, peerFingerprint256: peer.fingerprint256, peerVerified: true }),
      ...(cn !== undefined && { peerCommonName: cn }),
      ...(c?.subjectAltName && { peerAltNames: c.subjectAltName }),
      ...(this.fingerprint && { ja4: this.fingerprint.ja4, ja3: this.fingerprint.ja3 }),
    };
  }
}
