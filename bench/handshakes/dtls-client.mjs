/**
 * A minimal DTLS 1.2 PSK client (TLS_PSK_WITH_AES_128_CCM_8, extended master
 * secret) for the handshake benchmark, built on thinggate's own DTLS
 * primitives from dist/. It performs the full exchange a device does:
 * ClientHello, HelloVerifyRequest, ClientHello with cookie, the server
 * flight, ClientKeyExchange + ChangeCipherSpec + Finished, the server's
 * Finished (verified), then close_notify. `connect` stops before the
 * close_notify and keeps the association for application data (the coaps
 * throughput transport, bench/lib/transports/coaps.mjs).
 */
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { SUITES, deriveCiphers } from '../../dist/security/dtls/cipher.js';
import { encodeHandshake, parseFragments } from '../../dist/security/dtls/handshake.js';
import { finishedData, masterSecret, pskPreMaster, sha256 } from '../../dist/security/dtls/prf.js';
import { encodeRecord, parseRecords, seqNumOf } from '../../dist/security/dtls/record.js';
import { u16, vec16, vec8 } from '../../dist/security/dtls/wire.js';

const SUITE = SUITES.find((s) => s.id === 0xc0a8);
const V = 0xfefd;

export class DtlsPskClient {
  /** `timeoutMs`: how long to wait for each server flight. */
  constructor(port, identity, key, timeoutMs = 3000) {
    this.port = port;
    this.timeoutMs = timeoutMs;
    this.identity = Buffer.from(identity);
    this.psk = Buffer.from(key);
    this.sock = createSocket('udp4');
    this.waiter = undefined;
    this.inbox = [];
    /** Set by `connect`: every decrypted application-data record goes here. */
    this.onApp = undefined;
    this.sock.on('message', (m) => {
      if (this.onApp) return this.receiveApp(m);
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(m);
      } else this.inbox.push(m);
    });
  }

  open() {
    return new Promise((r) => this.sock.bind(0, '127.0.0.1', () => r()));
  }

  close() {
    this.sock.close();
  }

  next(ms = this.timeoutMs) {
    const m = this.inbox.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error('dtls: no answer'));
      }, ms);
      this.waiter = (d) => {
        clearTimeout(t);
        resolve(d);
      };
    });
  }

  /** The plaintext handshake fragments of the next datagram, per record; late records of an earlier association are skipped. */
  async handshakeRecords() {
    return parseRecords(await this.next())
      .filter((r) => r.type === 22 && r.epoch === 0)
      .map((r) => parseFragments(r.fragment));
  }

  send(...records) {
    this.sock.send(Buffer.concat(records), this.port, '127.0.0.1');
  }

  /** One full handshake, then close_notify; resolves when the server's Finished verified. */
  async handshake() {
    const keys = await this.establish();
    const closeSeq = seqNumOf(1, 1);
    this.send(encodeRecord(21, V, closeSeq, keys.client.seal(closeSeq, 21, V, Buffer.from([1, 0]))));
  }

  /** A full handshake whose association stays open: `sendApp` seals, `onApp(plain)` receives. */
  async connect(onApp) {
    this.keys = await this.establish();
    this.appSeq = 1; // epoch 1 sequence 0 carried the Finished
    this.onApp = onApp;
  }

  /** Sends one application-data record (RFC 6347 §4.1, content type 23) in the open association. */
  sendApp(data) {
    const seq = seqNumOf(1, this.appSeq++);
    this.send(encodeRecord(23, V, seq, this.keys.client.seal(seq, 23, V, data)));
  }

  receiveApp(datagram) {
    for (const rec of parseRecords(datagram)) {
      if (rec.epoch !== 1 || rec.type !== 23) continue;
      const plain = this.keys.server.open(rec.seqNum, rec.type, rec.version, rec.fragment);
      if (plain) this.onApp(plain);
    }
  }

  /** The handshake up to the server's verified Finished; resolves with the association's keys. */
  async establish() {
    let seq = 0;
    this.inbox.length = 0; // nothing of an earlier association counts
    const random = randomBytes(32);
    const hello = (cookie) =>
      Buffer.concat([
        u16(V),
        random,
        vec8(Buffer.alloc(0)),
        vec8(cookie),
        vec16(u16(SUITE.id)),
        vec8(Buffer.from([0])),
        vec16(Buffer.concat([u16(23), vec16(Buffer.alloc(0))])),
      ]);
    this.send(encodeRecord(22, V, seqNumOf(0, seq++), encodeHandshake(1, 0, hello(Buffer.alloc(0)))));
    let hvr;
    while (!hvr) hvr = (await this.handshakeRecords())[0]?.[0];
    const cookie = hvr.body.subarray(3, 3 + hvr.body[2]);
    const ch2 = encodeHandshake(1, 1, hello(cookie));
    const transcript = [ch2];
    this.send(encodeRecord(22, V, seqNumOf(0, seq++), ch2));
    let serverRandom;
    for (let done = false; !done; ) {
      for (const frags of await this.handshakeRecords()) {
        for (const f of frags) {
          transcript.push(encodeHandshake(f.type, f.seq, f.body));
          if (f.type === 2) serverRandom = f.body.subarray(2, 34);
          if (f.type === 14) done = true;
        }
      }
    }
    const cke = encodeHandshake(16, 2, vec16(this.identity));
    transcript.push(cke);
    const master = masterSecret(pskPreMaster(this.psk), random, serverRandom, sha256(Buffer.concat(transcript)));
    const keys = deriveCiphers(SUITE, master, random, serverRandom);
    const fin = encodeHandshake(20, 3, finishedData(master, 'client', sha256(Buffer.concat(transcript))));
    transcript.push(fin);
    const finSeq = seqNumOf(1, 0);
    this.send(
      encodeRecord(22, V, seqNumOf(0, seq++), cke),
      encodeRecord(20, V, seqNumOf(0, seq++), Buffer.from([1])),
      encodeRecord(22, V, finSeq, keys.client.seal(finSeq, 22, V, fin)),
    );
    const expected = finishedData(master, 'server', sha256(Buffer.concat(transcript)));
    for (;;) {
      for (const rec of parseRecords(await this.next())) {
        if (rec.epoch !== 1 || rec.type !== 22) continue;
        const plain = keys.server.open(rec.seqNum, rec.type, rec.version, rec.fragment);
        if (!plain?.subarray(12).equals(expected)) throw new Error('dtls: server Finished does not verify');
        return keys;
      }
    }
  }
}
