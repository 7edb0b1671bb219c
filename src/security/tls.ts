/**
 * TLS for device listeners: server options from a listener's `tls` section
 * (PEM files relative to the configuration file's folder) and the TLS facts
 * of an accepted socket, recorded in envelopes and shown to admission.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Socket } from 'node:net';
import type { TLSSocket, TlsOptions } from 'node:tls';
import type { TlsInfo } from '../envelope/index.js';
import type { TlsConfig } from '../config/types.js';
import { ThinggateError } from '../errors.js';

/**
 * Reads a listener's certificate, key and CA. With `requestCert`, client
 * certificates are verified against `ca` when one is given; without a CA any
 * client certificate is accepted and only recorded (subject, fingerprint).
 * Throws TG_ERR_TLS_MATERIAL naming the listener and the file.
 */
export function serverTlsOptions(listener: string, tls: TlsConfig, baseDir: string = process.cwd()): TlsOptions {
  const read = (file: string): Buffer => {
    try {
      return readFileSync(resolve(baseDir, file));
    } catch (err) {
      throw new ThinggateError('TG_ERR_TLS_MATERIAL', `listener '${listener}': cannot read TLS material '${file}': ${(err as Error).message}`, {
        cause: err,
      });
    }
  };
  return {
    cert: read(tls.cert),
    key: read(tls.key),
    ...(tls.ca !== undefined && { ca: read(tls.ca) }),
    requestCert: tls.requestCert,
    rejectUnauthorized: tls.requestCert && tls.ca !== undefined,
    minVersion: tls.minVersion,
  };
}

/** TLS facts of an accepted socket; undefined for plain TCP. */
export function tlsInfoOf(socket: Socket | TLSSocket): TlsInfo | undefined {
  const s = socket as TLSSocket;
  if (!s.encrypted) return undefined;
  const peer = s.getPeerCertificate();
  const hasPeer = peer !== null && typeof peer === 'object' && Object.keys(peer).length > 0;
  const servername = (s as TLSSocket & { servername?: string | false }).servername;
  return {
    version: s.getProtocol() ?? 'unknown',
    cipher: s.getCipher()?.name ?? 'unknown',
    ...(typeof servername === 'string' && { servername }),
    ...(hasPeer && peer.subject && { peerSubject: Object.entries(peer.subject).map(([k, v]) => `${k}=${String(v)}`).join(',') }),
    ...(hasPeer && peer.fingerprint256 && { peerFingerprint256: peer.fingerprint256 }),
  };
}
