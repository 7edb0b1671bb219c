/**
 * The ClientHello a TLS client sends first (RFC 8446 §4.1.2, RFC 5246
 * §7.4.1.2), read off the raw TCP socket before the TLS layer gets it, and
 * its JA3 and JA4 fingerprints: a hash of what the client's TLS stack offers
 * (versions, suites, extensions, groups, signature algorithms), which tells
 * firmware builds apart and shows a valid certificate presented from an
 * unexpected stack.
 */
import { createHash } from 'node:crypto';
import type { Server, Socket } from 'node:net';

export interface ClientHello {
  readonly legacyVersion: number;
  readonly ciphers: readonly number[];
  /** Extension types in the order sent. */
  readonly extensions: readonly number[];
  readonly groups: readonly number[];
  readonly pointFormats: readonly number[];
  readonly signatureAlgorithms: readonly number[];
  readonly supportedVersions: readonly number[];
  readonly alpn: readonly string[];
  readonly servername?: string;
}

export interface ClientHelloFingerprint {
  readonly ja4: string;
  readonly ja3: string;
}

/** TLS record content type `handshake` (RFC 8446 §5.1). */
const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
/** A record holds at most 2^14 bytes of plaintext (RFC 8446 §5.1). */
const MAX_RECORD = 5 + 16_384;

/** GREASE values (RFC 8701) are random per connection and left out of fingerprints. */
const isGrease = (v: number): boolean => (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);

/** Parses the ClientHello in the first TLS record of `buf`; undefined when it is not one (or is cut short). */
export function parseClientHello(buf: Buffer): ClientHello | undefined {
  if (buf.length < 9 || buf[0] !== HANDSHAKE || buf[5] !== CLIENT_HELLO) return undefined;
  return parseHelloBody(buf, 9, Math.min(buf.length, 5 + buf.readUInt16BE(3)), false);
}

/**
 * Parses a DTLS ClientHello body (RFC 6347 §4.2.1: the TLS one with a cookie
 * after the session id), reassembled from its handshake fragments.
 */
export function parseDtlsClientHello(body: Buffer): ClientHello | undefined {
  return parseHelloBody(body, 0, body.length, true);
}

/** The ClientHello body in `buf[start..end)`; `dtls` skips the cookie. */
function parseHelloBody(buf: Buffer, start: number, end: number, dtls: boolean): ClientHello | undefined {
  let p = start;
  const need = (n: number): boolean => p + n <= end;
  if (!need(2 + 32 + 1)) return undefined;
  const legacyVersion = buf.readUInt16BE(p);
  p += 34;
  p += 1 + buf[p]!;
  if (dtls) {
    if (!need(1)) return undefined;
    p += 1 + buf[p]!;
  }
  if (!need(2)) return undefined;
  const cipherBytes = buf.readUInt16BE(p);
  p += 2;
  if (!need(cipherBytes)) return undefined;
  const ciphers = u16s(buf, p, cipherBytes);
  p += cipherBytes;
  if (!need(1)) return undefined;
  p += 1 + buf[p]!;
  const hello = {
    legacyVersion,
    ciphers,
    extensions: [] as number[],
    groups: [] as number[],
    pointFormats: [] as number[],
    signatureAlgorithms: [] as number[],
    supportedVersions: [] as number[],
    alpn: [] as string[],
    servername: undefined as string | undefined,
  };
  if (!need(2)) return hello.ciphers.length > 0 ? hello : undefined;
  const extEnd = Math.min(end, p + 2 + buf.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    const d = p + 4;
    p = d + len;
    if (p > extEnd) break;
    hello.extensions.push(type);
    if (type === 0x0000 && len >= 5) hello.servername = buf.toString('latin1', d + 5, d + 5 + Math.min(buf.readUInt16BE(d + 3), len - 5));
    else if (type === 0x000a && len >= 2) hello.groups = u16s(buf, d + 2, Math.min(buf.readUInt16BE(d), len - 2));
    else if (type === 0x000b && len >= 1) hello.pointFormats = [...buf.subarray(d + 1, d + 1 + Math.min(buf[d]!, len - 1))];
    else if (type === 0x000d && len >= 2) hello.signatureAlgorithms = u16s(buf, d + 2, Math.min(buf.readUInt16BE(d), len - 2));
    else if (type === 0x002b && len >= 1) hello.supportedVersions = u16s(buf, d + 1, Math.min(buf[d]!, len - 1));
    else if (type === 0x0010 && len >= 2) hello.alpn = alpnList(buf.subarray(d + 2, d + Math.min(len, 2 + buf.readUInt16BE(d))));
  }
  return hello;
}

function u16s(buf: Buffer, at: number, bytes: number): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < bytes; i += 2) out.push(buf.readUInt16BE(at + i));
  return out;
}

function alpnList(b: Buffer): string[] {
  const out: string[] = [];
  for (let i = 0; i < b.length; ) {
    const n = b[i]!;
    out.push(b.toString('latin1', i + 1, i + 1 + n));
    i += 1 + n;
  }
  return out;
}

const hex4 = (v: number): string => v.toString(16).padStart(4, '0');
const sha12 = (s: string): string => (s === '' ? '000000000000' : createHash('sha256').update(s).digest('hex').slice(0, 12));
/** JA4's two-character versions, DTLS ones included (0xfeff DTLS 1.0, 0xfefd 1.2, 0xfefc 1.3). */
const TLS_VERSIONS: Readonly<Record<number, string>> = { 772: '13', 771: '12', 770: '11', 769: '10', 768: 's3', 65279: 'd1', 65277: 'd2', 65276: 'd3' };

/**
 * JA4 (FoxIO) and JA3 (Salesforce) of a ClientHello. `transport` is JA4's
 * first character: `t` for TLS over TCP, `d` for DTLS.
 */
export function fingerprint(h: ClientHello, transport: 't' | 'd' = 't'): ClientHelloFingerprint {
  const ciphers = h.ciphers.filter((c) => !isGrease(c));
  const exts = h.extensions.filter((e) => !isGrease(e));
  const versions = h.supportedVersions.filter((v) => !isGrease(v));
  // DTLS numbers its versions downwards (RFC 6347 §4.1): the highest is the smallest.
  const best = transport === 'd' ? Math.min(...versions) : Math.max(...versions);
  const version = TLS_VERSIONS[versions.length > 0 ? best : h.legacyVersion] ?? '00';
  const first = h.alpn[0] ?? '';
  const alnum = /^[A-Za-z0-9]$/;
  const alpnHex = Buffer.from(first, 'latin1').toString('hex');
  const alpn = first === '' ? '00' : alnum.test(first[0]!) && alnum.test(first.at(-1)!) ? `${first[0]}${first.at(-1)}` : `${alpnHex[0]}${alpnHex.at(-1)}`;
  const count = (n: number): string => String(Math.min(n, 99)).padStart(2, '0');
  const a = `${transport}${version}${h.servername !== undefined ? 'd' : 'i'}${count(ciphers.length)}${count(exts.length)}${alpn}`;
  const b = sha12(ciphers.map(hex4).sort().join(','));
  const sorted = exts
    .filter((e) => e !== 0x0000 && e !== 0x0010)
    .map(hex4)
    .sort()
    .join(',');
  const sigs = h.signatureAlgorithms
    .filter((s) => !isGrease(s))
    .map(hex4)
    .join(',');
  const c = sorted === '' ? '000000000000' : sha12(sigs === '' ? sorted : `${sorted}_${sigs}`);
  const ja3Text = [h.legacyVersion, ciphers.join('-'), exts.join('-'), h.groups.filter((g) => !isGrease(g)).join('-'), h.pointFormats.join('-')].join(',');
  return { ja4: `${a}_${b}_${c}`, ja3: createHash('md5').update(ja3Text).digest('hex') };
}

/**
 * A fatal access_denied alert (RFC 8446 §6.2: "access control was applied,
 * the sender decided not to proceed with negotiation") in a plaintext
 * record: before the ServerHello no keys exist, in any TLS version.
 */
const ACCESS_DENIED = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 49]);

/** Answers the ClientHello with access_denied and closes; a peer that does not close is cut off a second later. */
function denyAccess(socket: Socket): void {
  socket.resume();
  socket.end(ACCESS_DENIED);
  setTimeout(() => socket.destroy(), 1000).unref();
}

const HELLO = Symbol('thinggate.tls.clientHello');

/**
 * What a socket holds of its ClientHello: the record's bytes until the
 * fingerprint is first asked for, then the fingerprint. Parsing and hashing
 * are deferred because most connections' handshakes cost the gateway enough
 * in OpenSSL already, and one that is never inspected need not pay for this.
 */
class HeldHello {
  private raw: Buffer | undefined;
  private result: ClientHelloFingerprint | undefined;

  constructor(raw: Buffer) {
    this.raw = raw;
  }

  get(): ClientHelloFingerprint | undefined {
    if (this.raw) {
      try {
        const hello = parseClientHello(this.raw);
        this.result = hello && fingerprint(hello);
      } catch {
        // A malformed hello has no fingerprint; the TLS layer refuses it with its own reason.
      }
      this.raw = undefined;
    }
    return this.result;
  }
}

type WithHello = Socket & { [HELLO]?: HeldHello };

function heldOf(socket: Socket): HeldHello | undefined {
  return (socket as WithHello)[HELLO] ?? (socket as { _parent?: WithHello | null })._parent?.[HELLO];
}

/**
 * The fingerprint read from `socket` (the TCP socket, or the TLS socket over
 * it) as a function computed on its first call, or
 * undefined when no ClientHello was read; it keeps the hello, not the socket.
 */
export function lazyClientHello(socket: Socket): (() => ClientHelloFingerprint | undefined) | undefined {
  const held = heldOf(socket);
  return held && (() => held.get());
}

/**
 * Makes a TLS server read each connection's first record before its TLS
 * layer does: node's connection listener (which wraps the socket in TLS) is
 * called once the record is complete, with the bytes put back (unshift), so
 * the handshake proceeds unchanged. Anything that is not a handshake record
 * goes straight through for TLS to refuse. Call before adding other
 * 'connection' listeners; those run at once.
 *
 * `refuse` is asked once the record is read, before TLS sees a byte (a JA4 /
 * JA3 ban), with the fingerprint as a function so that it is computed only
 * when some ban could match it: when it says so, the client gets a fatal
 * `access_denied` alert (RFC 8446 §6.2) and the connection is closed; the
 * handshake of every other client is untouched.
 */
export function readClientHelloFirst(server: Server, refuse?: (socket: Socket, hello: () => ClientHelloFingerprint | undefined) => boolean): void {
  const wrapped = server.listeners('connection') as Array<(s: Socket) => void>;
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    const handOver = (): void => {
      for (const l of wrapped) l.call(server, socket);
    };
    const chunks: Buffer[] = [];
    let length = 0;
    const stop = (): void => {
      socket.off('data', onData);
      socket.off('end', onGone);
      socket.off('close', onGone);
    };
    const onGone = (): void => {
      stop();
      socket.destroy();
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
      const buf = chunks.length === 1 ? chunk : Buffer.concat(chunks, length);
      const recordEnd = buf.length >= 5 && buf[0] === HANDSHAKE ? 5 + buf.readUInt16BE(3) : 0;
      if (recordEnd > 0 && buf.length < recordEnd && buf.length < MAX_RECORD) return;
      stop();
      socket.pause();
      // A copy: the TLS layer consumes `buf`, and the socket may outlive it by hours.
      if (recordEnd > 0) {
        const held = new HeldHello(Buffer.from(buf.subarray(0, Math.min(recordEnd, buf.length))));
        (socket as WithHello)[HELLO] = held;
        if (refuse?.(socket, () => held.get())) {
          denyAccess(socket);
          return;
        }
      }
      socket.unshift(buf);
      handOver();
    };
    socket.on('data', onData);
    socket.on('end', onGone);
    socket.on('close', onGone);
  });
}
