/**
 * The PROXY protocol at accept (listener `proxyProtocol`, docs/scaling.md):
 * behind a TCP load balancer every connection comes from the balancer, so
 * the balancer prefixes it with the client's address (HAProxy `send-proxy`
 * for version 1, `send-proxy-v2` for version 2; proxy-header.ts parses both).
 *
 * The server's 'connection' event is held back until the header is read, so
 * every consumer of the socket sees the client's address as the socket's
 * own `remoteAddress`: the accept guard (bans, connection rate), TLS (the
 * header precedes the ClientHello), the protocol, logs, the admin API.
 *
 * - From a `trustedFrom` address the header is required: a connection
 *   without one, with a malformed one, or without one complete within
 *   `limits.connectTimeoutMs`, is refused.
 * - From any other address a header is refused (anyone could claim any
 *   address); a connection without one is served as a direct client. The
 *   built-in protocols all speak first from the client, so the first bytes
 *   decide.
 *
 * Each refusal is a guard event `proxy-protocol` naming the spec section.
 */
import type { Server, Socket } from 'node:net';
import type { Guard } from '../guard/guard.js';
import { prefixMatcher } from '../guard/bans.js';
import type { ProxyProtocolConfig } from '../config/types.js';
import { parseProxyHeader, type ProxySource } from './proxy-header.js';

export interface ProxyProtocolOptions {
  readonly listener: string;
  readonly config: ProxyProtocolConfig;
  readonly guard: Guard;
  /** How long a trusted peer has to send its whole header. */
  readonly timeoutMs: number;
}

/** Holds back `server`'s 'connection' events until each socket's PROXY header is read and its client address adopted. */
export function acceptProxyProtocol(server: Server, options: ProxyProtocolOptions): void {
  const trusted = prefixMatcher(options.config.trustedFrom);
  const emit = server.emit as (this: Server, event: string | symbol, ...args: unknown[]) => boolean;
  server.emit = function (this: Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'connection') return emit.call(this, event, ...args);
    const socket = args[0] as Socket;
    readHeader(socket, trusted(socket.remoteAddress ?? ''), options, () => emit.call(this, 'connection', socket));
    return true;
  } as Server['emit'];
}

function readHeader(socket: Socket, trusted: boolean, options: ProxyProtocolOptions, handOver: () => void): void {
  const peer = socket.remoteAddress ?? 'unknown';
  let buf: Buffer = Buffer.alloc(0);
  const stop = (): void => {
    clearTimeout(timer);
    socket.off('readable', onReadable);
    socket.off('end', onEnd);
    socket.off('error', onError);
  };
  const refuse = (clause: string, detail: string): void => {
    stop();
    options.guard.report({ kind: 'proxy-protocol', listener: options.listener, remoteAddress: peer, clause, detail });
    socket.destroy();
  };
  const pass = (rest: Buffer): void => {
    stop();
    if (rest.length > 0) socket.unshift(rest);
    handOver();
  };
  const onReadable = (): void => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const r = parseProxyHeader(buf);
      if (r.status === 'incomplete') continue;
      if (r.status === 'absent') {
        if (trusted) refuse('PROXY-2', 'no PROXY header from a trusted balancer');
        else pass(buf);
      } else if (r.status === 'invalid') refuse(r.clause, `malformed PROXY header: ${r.reason}`);
      else if (!trusted) refuse(r.version === 1 ? 'PROXY-2.1' : 'PROXY-2.2', 'PROXY header from an address not in proxyProtocol.trustedFrom');
      else {
        if (r.source !== 'local') adopt(socket, r.source);
        pass(buf.subarray(r.length));
      }
      return;
    }
  };
  const onEnd = (): void => {
    stop();
    if (trusted)
      options.guard.report({
        kind: 'proxy-protocol',
        listener: options.listener,
        remoteAddress: peer,
        clause: 'PROXY-2',
        detail: `closed after ${buf.length} bytes of a PROXY header`,
      });
    socket.destroy();
  };
  const onError = (): void => {
    stop();
    socket.destroy();
  };
  const timer = setTimeout(() => {
    if (trusted) refuse('PROXY-2', `no complete PROXY header within ${options.timeoutMs} ms (${buf.length} bytes received)`);
    else {
      stop();
      options.guard.report({ kind: 'slow-client', listener: options.listener, remoteAddress: peer, detail: `no first bytes within ${options.timeoutMs} ms` });
      socket.destroy();
    }
  }, options.timeoutMs);
  timer.unref();
  socket.on('readable', onReadable);
  socket.once('end', onEnd);
  socket.on('error', onError);
}

/**
 * Makes the socket report the client as its peer. net.Socket caches the
 * peer name (`_peername`), and a TLS socket over it asks the TCP handle
 * underneath (lib/_tls_wrap.js proxies getpeername to it); node offers no
 * public way to set either, so both are set here.
 */
function adopt(socket: Socket, source: Exclude<ProxySource, 'local'>): void {
  const peer = { address: source.address, port: source.port, family: source.family };
  const s = socket as Socket & { _peername?: typeof peer; _handle?: { getpeername?: (out: Record<string, unknown>) => number } | null };
  if (s._handle) s._handle.getpeername = (out) => (Object.assign(out, peer), 0);
  s._peername = peer;
}
