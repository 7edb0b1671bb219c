/**
 * The socket rhea sees. It forwards writes to the real socket and passes on
 * only the bytes the FrameScanner has checked, so framing abuse is caught
 * before rhea buffers it. Ending is deferred by one turn of the event loop:
 * rhea queues a close frame with process.nextTick and then ends the socket
 * at once, and the close frame must reach the peer first (AMQP 1.0 §2.4.3).
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { TLSSocket, PeerCertificate } from 'node:tls';
import { FrameScanner, type FramingViolation } from './frame-scanner.js';

/** How long a closing socket may take to flush before it is destroyed. */
const END_GRACE_MS = 2000;

export class SocketShim extends EventEmitter {
  private readonly scanner: FrameScanner;
  private gated = false;
  private ended = false;
  private eofSent = false;
  /** Frames rhea wrote this tick; flushed as one socket write (rhea writes each frame separately). */
  private pending: Buffer[] = [];
  private readonly flushPending = (): void => this.flush();

  /**
   * @param socket the accepted TCP or TLS socket
   * @param onViolation called once with the first framing violation; no byte of the offending frame reaches rhea
   */
  constructor(
    readonly socket: Socket | TLSSocket,
    maxFrameBytes: number,
    private readonly onViolation: (v: FramingViolation) => void,
  ) {
    super();
    this.scanner = new FrameScanner(maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.eof());
    socket.on('close', () => this.eof());
    socket.on('error', (err: Error) => {
      if (this.eofSent) return;
      this.eofSent = true;
      this.emit('error', err);
    });
  }

  /** True while a frame is partly received (guard.slowPeers). */
  get midFrame(): boolean {
    return this.scanner.midFrame;
  }

  get encrypted(): boolean {
    return (this.socket as TLSSocket).encrypted === true;
  }

  get authorized(): boolean {
    return (this.socket as TLSSocket).authorized === true;
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  get protocolLayer(): 'sasl' | 'amqp' | undefined {
    return this.scanner.currentLayer;
  }

  getPeerCertificate(): PeerCertificate | undefined {
    const s = this.socket as TLSSocket;
    return typeof s.getPeerCertificate === 'function' ? s.getPeerCertificate() : undefined;
  }

  setNoDelay(noDelay: boolean): void {
    this.socket.setNoDelay(noDelay);
  }

  /** Stops passing bytes to rhea for good (after a violation or a fatal decode error). */
  gate(): void {
    this.gated = true;
  }

  write(data: Buffer): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false;
    if (this.pending.length === 0) process.nextTick(this.flushPending);
    this.pending.push(data);
    return true;
  }

  private flush(): void {
    const chunks = this.pending;
    this.pending = [];
    if (chunks.length === 0 || this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.gated = true;
    setImmediate(() => {
      this.flush();
      if (!this.socket.destroyed) this.socket.end();
      setTimeout(() => this.socket.destroy(), END_GRACE_MS).unref();
    });
  }

  destroy(): void {
    this.gated = true;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.gated) return;
    const violation = this.scanner.push(chunk);
    if (violation) {
      this.gated = true;
      // The whole frames before the offending one are rhea's to answer (an open before a bad begin).
      if (violation.before) this.emit('data', chunk.subarray(0, violation.before));
      this.onViolation(violation);
      return;
    }
    this.emit('data', chunk);
  }

  private eof(): void {
    if (this.eofSent) return;
    this.eofSent = true;
    this.emit('end');
  }
}

/** TLS facts of an accepted socket for envelopes and admission; undefined for plain TCP. */
export { tlsInfoOf as tlsInfo } from '../../security/tls.js';
