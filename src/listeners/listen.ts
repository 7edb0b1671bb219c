/**
 * Binding a listener's TCP or TLS server: a failure to bind (address in use,
 * no such interface) rejects with TG_ERR_LISTEN naming the listener, and the
 * one-shot error handler is gone once the server listens.
 */
import { isIP, type Server } from 'node:net';
import type { Socket as UdpSocket } from 'node:dgram';
import { ThinggateError } from '../errors.js';

export function listenTcp(server: Server, listener: string, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(new ThinggateError('TG_ERR_LISTEN', `listener '${listener}' cannot bind ${host}:${port}: ${err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * A UDP socket's lookup for destinations that are always the literal addresses
 * datagrams came from: answered synchronously instead of through dns.lookup's
 * deferred callback on every send.
 */
export function literalLookup(address: string, _family: unknown, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  callback(null, address, isIP(address) || 4);
}

/** Binding a listener's UDP socket: a failure rejects with TG_ERR_LISTEN naming the listener. */
export function bindUdp(socket: UdpSocket, listener: string, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(new ThinggateError('TG_ERR_LISTEN', `listener '${listener}': cannot bind udp ${host}:${port}: ${err.message}`, { cause: err }));
    socket.once('error', onError);
    socket.bind(port, host, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}
