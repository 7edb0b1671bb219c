/**
 * Binding a listener's TCP or TLS server: a failure to bind (address in use,
 * no such interface) rejects with TG_ERR_LISTEN naming the listener, and the
 * one-shot error handler is gone once the server listens.
 */
import type { Server } from 'node:net';
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
