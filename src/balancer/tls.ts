/**
 * TLS toward https endpoints: CA bundle, client certificate and key (mTLS),
 * servername (SNI and the name checked in the certificate) and minimum
 * version, and certificate pins. Files are read once when the pool is built, relative to the
 * configuration's folder; a file that cannot be read is a configuration
 * error naming its JSON path.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type { UpstreamTlsConfig } from '../config/types.js';
import { ThinggateError } from '../errors.js';
import { pinnedIdentity } from '../security/upstream.js';

export function loadUpstreamTls(tls: UpstreamTlsConfig | undefined, baseDir: string, at: string): ConnectionOptions | undefined {
  if (!tls) return undefined;
  const read = (key: 'ca' | 'cert' | 'key'): Buffer | undefined => {
    const file = tls[key];
    if (file === undefined) return undefined;
    try {
      return readFileSync(resolve(baseDir, file));
    } catch (err) {
      throw new ThinggateError('TG_ERR_CONFIG_INVALID', `${at}/tls/${key}: cannot read '${file}': ${(err as Error).message}`, { cause: err });
    }
  };
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new ThinggateError('TG_ERR_CONFIG_INVALID', `${at}/tls: 'cert' and 'key' go together (client certificate for mTLS)`);
  }
  const ca = read('ca');
  const cert = read('cert');
  const key = read('key');
  return {
    ...(ca && { ca }),
    ...(cert && { cert }),
    ...(key && { key }),
    ...(tls.passphrase !== undefined && { passphrase: tls.passphrase }),
    ...(tls.servername !== undefined && { servername: tls.servername }),
    minVersion: tls.minVersion,
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(tls.pin && { checkServerIdentity: pinnedIdentity(tls.pin) }),
  };
}
