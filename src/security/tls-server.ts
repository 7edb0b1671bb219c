/**
 * A TLS listener's server side: the options its server is created with,
 * reload of its material (file change, SIGHUP) by swapping secure contexts
 * so established connections keep theirs, client-certificate enforcement
 * with a reported reason, and each certificate's time to expiry.
 */
import { unwatchFile, watchFile } from 'node:fs';
import type { Server as TlsServer, TLSSocket, TlsOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { TlsConfig } from '../config/types.js';
import type { Guard } from '../guard/guard.js';
import type { Gauge, Metrics } from '../observability/metrics.js';
import { contextFor, loadTlsMaterial, type TlsMaterial } from './tls-material.js';
import { clientCertFailure, tlsInfoOf } from './tls.js';

export interface ServerTlsContext {
  readonly listener: string;
  readonly tls: TlsConfig;
  readonly baseDir: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly guard: Guard;
  /** The listener's accept deadline; node's own handshake timer stays behind it as a backstop. */
  readonly connectTimeoutMs: number;
  /** Injected clock (tests). */
  readonly now?: () => number;
}

/** How far behind the accept deadline node's handshake timer runs. */
const HANDSHAKE_BACKSTOP_MS = 60_000;
/** Changes to several files (a certificate and its key) settle before one reload. */
const RELOAD_SETTLE_MS = 150;
const WATCH_INTERVAL_MS = 500;
const EXPIRY_CHECK_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** What re-reads its material on {@link reloadServerTls}: TLS servers, and the coaps listeners' DTLS servers. */
export interface ReloadableMaterial {
  reload(why: string): boolean;
}

/** Every attached server, for {@link reloadServerTls} (SIGHUP). */
const ACTIVE = new Set<ReloadableMaterial>();

/** Reloads the material of every running TLS and DTLS listener (SIGHUP, configuration reload); each keeps its old set if its new one is bad. */
export function reloadServerTls(): void {
  for (const s of ACTIVE) s.reload('reload requested');
}

/** Adds material to what {@link reloadServerTls} reloads; the function returned takes it off again. */
export function onTlsReload(m: ReloadableMaterial): () => void {
  ACTIVE.add(m);
  return () => ACTIVE.delete(m);
}

export class ServerTls {
  private material: TlsMaterial;
  private server: TlsServer | undefined;
  private readonly expiry: Gauge<'listener' | 'certificate'>;
  private watched: string[] = [];
  private settle: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;

  /** Loads the material; throws TG_ERR_TLS_MATERIAL naming the listener and the file. */
  constructor(private readonly ctx: ServerTlsContext) {
    this.material = loadTlsMaterial(ctx.listener, ctx.tls, ctx.baseDir);
    this.expiry = ctx.metrics.gauge('thinggate_tls_certificate_expiry_seconds', 'Seconds until a server certificate expires (negative: expired)', [
      'listener',
      'certificate',
    ]);
  }

  /** Options for tls.createServer / https.createServer. */
  options(): TlsOptions {
    const { tls } = this.ctx;
    return {
      ...this.material.defaults,
      requestCert: tls.clientCert !== 'none',
      // Verification is judged after the handshake (onSecure) so each refusal is reported with its reason.
      rejectUnauthorized: false,
      ...(tls.alpn && { ALPNProtocols: [...tls.alpn] }),
      ...(this.material.byName.length > 0 && {
        SNICallback: (name: string, cb: (err: Error | null, ctx?: ReturnType<typeof contextFor>) => void) => cb(null, contextFor(this.material, name)),
      }),
      handshakeTimeout: this.ctx.connectTimeoutMs + HANDSHAKE_BACKSTOP_MS,
    };
  }

  /** Installs client-certificate checks, file watching and the expiry metric on the created server. */
  attach(server: TlsServer): void {
    this.server = server;
    server.prependListener('secureConnection', (socket: TLSSocket) => this.onSecure(socket));
    server.once('close', () => this.close());
    ACTIVE.add(this);
    this.watch();
    this.checkExpiry();
    this.expiryTimer = setInterval(() => this.checkExpiry(), EXPIRY_CHECK_MS);
    this.expiryTimer.unref();
  }

  /** Reads the files again; on success new handshakes get the new material, established connections keep theirs. */
  reload(why: string): boolean {
    if (!this.server) return false;
    let next: TlsMaterial;
    try {
      next = loadTlsMaterial(this.ctx.listener, this.ctx.tls, this.ctx.baseDir);
    } catch (err) {
      this.ctx.logger.error({ err, listener: this.ctx.listener }, `TLS material not reloaded, the running set stays: ${(err as Error).message}`);
      return false;
    }
    const tickets = this.server.getTicketKeys();
    this.material = next;
    this.server.setSecureContext({ ...next.defaults });
    // Sessions issued before the swap still resume (RFC 8446 §4.6.1 tickets are the server's to honour).
    this.server.setTicketKeys(tickets);
    this.ctx.logger.info({ listener: this.ctx.listener, certificates: next.certificates.map((c) => c.file) }, `TLS material reloaded (${why})`);
    this.watch();
    this.checkExpiry();
    return true;
  }

  private close(): void {
    ACTIVE.delete(this);
    for (const f of this.watched) unwatchFile(f);
    this.watched = [];
    clearTimeout(this.settle);
    clearInterval(this.expiryTimer);
    for (const c of this.material.certificates) this.expiry.remove({ listener: this.ctx.listener, certificate: c.file });
  }

  private watch(): void {
    if (!this.ctx.tls.watch) return;
    for (const f of this.watched) unwatchFile(f);
    this.watched = [...new Set(this.material.files)];
    for (const f of this.watched) {
      watchFile(f, { persistent: false, interval: WATCH_INTERVAL_MS }, (cur, prev) => {
        if (cur.mtimeMs === prev.mtimeMs && cur.ino === prev.ino && cur.size === prev.size) return;
        clearTimeout(this.settle);
        this.settle = setTimeout(() => this.reload(`file changed: ${f}`), RELOAD_SETTLE_MS);
        this.settle.unref();
      });
    }
  }

  private checkExpiry(): void {
    const now = (this.ctx.now ?? Date.now)();
    const windowMs = this.ctx.tls.expiryWarningDays * DAY_MS;
    for (const c of this.material.certificates) {
      const left = c.notAfter - now;
      this.expiry.set({ listener: this.ctx.listener, certificate: c.file }, Math.round(left / 1000));
      if (left < windowMs) {
        const when = left < 0 ? 'expired' : `expires in ${(left / DAY_MS).toFixed(1)} days`;
        this.ctx.logger.warn(
          { listener: this.ctx.listener, certificate: c.file, subject: c.subject, notAfter: new Date(c.notAfter).toISOString() },
          `TLS certificate ${when}`,
        );
      }
    }
  }

  /** Enforces `clientCert` once the handshake is done; runs before the listener sees the socket. */
  private onSecure(socket: TLSSocket): void {
    const reason = this.refusal(socket);
    if (reason === undefined) {
      // The facts are gathered for the log only when it is written: most of them are read again lazily by the listener.
      if (this.ctx.logger.isLevelEnabled('debug')) {
        this.ctx.logger.debug({ event: 'tls-connection', remoteAddress: socket.remoteAddress, tls: tlsInfoOf(socket) }, 'TLS connection');
      }
      return;
    }
    this.ctx.guard.report({
      kind: 'tls-handshake-failure',
      listener: this.ctx.listener,
      remoteAddress: socket.remoteAddress ?? 'unknown',
      clause: 'RFC8446-4.4.2.4',
      detail: reason,
    });
    socket.destroy();
  }

  /** Why `clientCert` refuses the socket's client certificate, or undefined. */
  private refusal(socket: TLSSocket): string | undefined {
    const mode = this.ctx.tls.clientCert;
    // Verified against the CA: presented and trusted, with no need to decode the certificate here.
    if (mode === 'none' || socket.authorized) return undefined;
    const presented = Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
    if (!presented) return mode === 'required' ? 'client certificate missing' : undefined;
    if (this.ctx.tls.ca !== undefined && !socket.authorized) return clientCertFailure(String(socket.authorizationError ?? 'unknown'));
    return undefined;
  }
}
