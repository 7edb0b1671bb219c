/**
 * The files behind a listener's TLS: read, checked and turned into secure
 * contexts in one go, so a reload either yields a complete new set or an
 * error naming the file at fault (and the running set stays).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { TlsConfig } from '../config/types.js';
import { ThinggateError } from '../errors.js';

/** One server certificate as loaded: its configured path and when it expires. */
export interface LoadedCertificate {
  readonly file: string;
  readonly subject: string;
  /** Milliseconds since the epoch. */
  readonly notAfter: number;
}

/** A complete, consistent set of a listener's TLS material. */
export interface TlsMaterial {
  /** Options for the default context (server.setSecureContext), policy included. */
  readonly defaults: SecureContextOptions;
  /** SNI contexts, exact names first, then `*.` wildcards, in configuration order. */
  readonly byName: ReadonlyArray<{ readonly name: string; readonly context: SecureContext }>;
  readonly certificates: readonly LoadedCertificate[];
  /** Every file read, for the watcher. */
  readonly files: readonly string[];
}

/** The protocol policy every context of a listener shares (versions, suites, groups). */
export function policyOptions(tls: TlsConfig): SecureContextOptions {
  return {
    minVersion: tls.minVersion,
    maxVersion: tls.maxVersion,
    ...(tls.ciphers && { ciphers: tls.ciphers.join(':') }),
    ...(tls.groups && { ecdhCurve: tls.groups.join(':') }),
    honorCipherOrder: true,
  };
}

/** Reads and checks everything; throws TG_ERR_TLS_MATERIAL naming the listener and the file. */
export function loadTlsMaterial(listener: string, tls: TlsConfig, baseDir: string): TlsMaterial {
  const files: string[] = [];
  const fail = (file: string, what: string, err: unknown): never => {
    throw new ThinggateError('TG_ERR_TLS_MATERIAL', `listener '${listener}': ${what} '${file}': ${(err as Error).message}`, { cause: err });
  };
  const read = (file: string): Buffer => {
    const path = resolve(baseDir, file);
    files.push(path);
    try {
      return readFileSync(path);
    } catch (err) {
      return fail(file, 'cannot read TLS material', err);
    }
  };
  const policy = policyOptions(tls);
  const trust: SecureContextOptions = {};
  if (tls.ca !== undefined) {
    const ca = read(tls.ca);
    try {
      createSecureContext({ ca });
    } catch (err) {
      fail(tls.ca, 'bad CA bundle', err);
    }
    Object.assign(trust, { ca });
  }
  if (tls.crl.length > 0) {
    const crl = tls.crl.map((f) => read(f));
    tls.crl.forEach((f, i) => {
      try {
        createSecureContext({ ...trust, crl: crl[i] });
      } catch (err) {
        fail(f, 'bad CRL', err);
      }
    });
    Object.assign(trust, { crl });
  }
  const certificates: LoadedCertificate[] = [];
  const pair = (certFile: string, keyFile: string): SecureContextOptions => {
    const cert = read(certFile);
    const key = read(keyFile);
    const options = { ...policy, ...trust, cert, key };
    try {
      createSecureContext(options);
    } catch (err) {
      fail(`${certFile}' / '${keyFile}`, 'bad certificate or key', err);
    }
    try {
      const x = new X509Certificate(cert);
      certificates.push({ file: certFile, subject: x.subject.replace(/\n/g, ','), notAfter: Date.parse(x.validTo) });
    } catch (err) {
      fail(certFile, 'bad certificate', err);
    }
    return options;
  };
  const defaults = pair(tls.cert, tls.key);
  const named: Array<{ name: string; context: SecureContext }> = [];
  for (const c of tls.certificates) {
    const context = createSecureContext(pair(c.cert, c.key));
    for (const name of c.serverNames) named.push({ name: name.toLowerCase(), context });
  }
  const byName = [...named.filter((n) => !n.name.startsWith('*.')), ...named.filter((n) => n.name.startsWith('*.'))];
  return { defaults, byName, certificates, files };
}

/** The SNI context for `servername`, or undefined for the default (RFC 6066 §3; a wildcard covers one label). */
export function contextFor(material: TlsMaterial, servername: string): SecureContext | undefined {
  const name = servername.toLowerCase();
  for (const n of material.byName) {
    if (n.name === name) return n.context;
    if (n.name.startsWith('*.')) {
      const dot = name.indexOf('.');
      if (dot > 0 && name.slice(dot + 1) === n.name.slice(2)) return n.context;
    }
  }
  return undefined;
}
