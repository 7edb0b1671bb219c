/**
 * CoAP over DTLS (`coaps`, RFC 7252 §9): the listener's socket feeds the
 * DTLS server (security/dtls/), whose decrypted application data goes to the
 * same datagram handling as plain CoAP, and every CoAP datagram the core
 * sends (responses, separate responses, notifications) is encrypted on the
 * endpoint's association. An association's end forgets the CoAP state of
 * its endpoint, so a new handshake from the same address:port never
 * inherits another's admission or observations.
 */
import type { DtlsServerConfig } from '../../security/dtls/types.js';
import { DtlsServer } from '../../security/dtls/server.js';
import type { DtlsSession } from '../../security/dtls/session.js';
import type { ConnectionInfo } from '../listener.js';
import type { CoapCore } from './core.js';
import { onDatagram } from './handle-datagram.js';
import { peerKey } from './peers.js';

export class CoapsTransport {
  readonly server: DtlsServer;

  constructor(
    private readonly core: CoapCore,
    config: DtlsServerConfig,
    sendRaw: (address: string, port: number, datagram: Buffer) => void,
  ) {
    this.server = new DtlsServer(config, {
      send: sendRaw,
      helloVerify: () => core.count('dtls-hello-verify'),
      established: (s) => {
        this.forget(s.key);
        core.count('dtls-established');
        core.logger.debug({ listener: core.name, remoteAddress: s.address, remotePort: s.port, tls: s.facts }, 'dtls association established');
      },
      data: (s, plaintext) => this.onData(s, plaintext),
      closed: (s, reason) => {
        this.forget(s.key);
        core.count('dtls-closed');
        core.logger.debug({ listener: core.name, remoteAddress: s.address, remotePort: s.port, reason }, 'dtls association closed');
      },
      refuseHello: (address, _port, hello) => core.bannedHello(address, hello),
      refused: (address, port, kind, reason) => {
        if (kind === 'handshake') core.count('dtls-failed');
        else core.count('dropped');
        const from = `(from ${peerKey(address, port)})`;
        if (kind === 'flood') core.report({ kind: 'flood', remoteAddress: address, detail: `${reason} ${from}` });
        else if (kind === 'malformed') core.report({ kind: 'malformed-packet', remoteAddress: address, clause: 'RFC6347-4.1', detail: `${reason} ${from}` });
        else core.report({ kind: 'tls-handshake-failure', remoteAddress: address, clause: 'RFC6347-4.2', detail: `DTLS: ${reason} ${from}` });
      },
    });
    core.secure = (dest, bytes) => this.server.send(peerKey(dest.address, dest.port), bytes);
  }

  /** One datagram from the socket. */
  handle(datagram: Buffer, address: string, port: number): void {
    this.server.handle(datagram, address, port, peerKey(address, port));
  }

  /** Established associations for the admin connections list, with their handshake facts. */
  connections(listener: string): ConnectionInfo[] {
    return this.server.established().map((s) => {
      const peer = this.core.peers.get(s.key);
      return {
        listener,
        protocol: 'coap',
        clientId: peer?.clientId ?? s.key,
        remoteAddress: s.address,
        remotePort: s.port,
        ...(peer?.identity && { identity: peer.identity.principal }),
        protocolVersion: 'coap over DTLSv1.2',
        state: 'established',
        ...(peer && { inflight: peer.inflight }),
        ...(s.facts && { tls: s.facts }),
      };
    });
  }

  /** Closes the association of a client (close_notify); false when it has none. */
  close(clientId: string, reason: string): boolean {
    for (const s of this.server.established()) {
      const peer = this.core.peers.get(s.key);
      if ((peer?.clientId ?? s.key) !== clientId) continue;
      this.server.close(s.key, reason);
      return true;
    }
    return false;
  }

  sweep(): void {
    this.server.sweep();
  }

  stop(): void {
    this.server.closeAll();
  }

  private onData(s: DtlsSession, plaintext: Buffer): void {
    const peer = this.core.peers.touch(s.address, s.port, Date.now());
    if (peer && s.facts) peer.tls = s.facts;
    onDatagram(this.core, plaintext, s);
  }

  private forget(key: string): void {
    this.core.observe.forget(key);
    this.core.peers.remove(key);
  }
}
