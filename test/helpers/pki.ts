/**
 * A throw-away PKI made with openssl for the TLS tests: a CA (EC P-256) run
 * with `openssl ca`, so it can revoke and publish a CRL; server certificates
 * for named hosts; client certificates (valid, revoked, expired, or issued by
 * a second CA nobody trusts). Files live in one temporary folder.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pair {
  readonly cert: string;
  readonly key: string;
}

export interface Device extends Pair {
  /** SHA-256 fingerprint as openssl prints it (`AB:CD:…`). */
  readonly fingerprint: string;
}

export interface Pki {
  readonly dir: string;
  readonly ca: string;
  readonly crl: string;
  /** CN=localhost, SAN DNS:localhost, IP:127.0.0.1. */
  readonly server: Pair;
  /** CN=device-1, SAN URI:urn:dev:1, DNS:device-1.test. */
  readonly client: Pair;
  readonly revoked: Pair;
  readonly expired: Pair;
  /** Issues a certificate; `expired` makes one whose validity ended in 2020. */
  issue(name: string, cn: string, san: string, opts?: { expired?: boolean }): Pair;
  /** A device certificate with `cn` (SAN the `uri` when given, else DNS:<cn>.devices), issued by this CA or, with `rogue`, by a CA nobody trusts. */
  device(cn: string, opts?: { uri?: string; rogue?: boolean }): Device;
  /** Revokes `cert` and rewrites the CRL file. */
  revoke(cert: string): void;
  remove(): void;
}

const openssl = (args: string[], cwd: string): string => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString();

/** One certificate authority in `dir`: its key, certificate, database and CRL. */
interface Authority {
  readonly cert: string;
  readonly crl: string;
  issue(name: string, cn: string, san: string, opts?: { expired?: boolean }): Pair;
  revoke(cert: string): void;
}

function authority(dir: string, name: string): Authority {
  mkdirSync(join(dir, 'newcerts'), { recursive: true });
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(join(dir, 'crlnumber'), '1000\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    [
      '[ ca ]',
      'default_ca = tg',
      '[ tg ]',
      `dir = ${dir}`,
      'database = $dir/index.txt',
      'new_certs_dir = $dir/newcerts',
      'serial = $dir/serial',
      'crlnumber = $dir/crlnumber',
      'default_md = sha256',
      'default_crl_days = 2',
      'policy = any',
      'unique_subject = no',
      'copy_extensions = copy',
      '[ any ]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  const caArgs = ['-config', 'ca.cnf', '-cert', 'ca.crt', '-keyfile', 'ca.key'];
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...newKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3', '-subj', `/CN=${name}`], dir);
  let n = 0;
  return {
    cert: join(dir, 'ca.crt'),
    crl: join(dir, 'crl.pem'),
    issue(stemName, cn, san, opts = {}) {
      const stem = `${stemName}-${n++}`;
      openssl(['req', '-new', ...newKey, '-keyout', `${stem}.key`, '-out', `${stem}.csr`, '-subj', `/CN=${cn}`, '-addext', `subjectAltName=${san}`], dir);
      const validity = opts.expired ? ['-startdate', '200101000000Z', '-enddate', '200102000000Z'] : ['-days', '2'];
      openssl(['ca', '-batch', '-notext', ...caArgs, ...validity, '-in', `${stem}.csr`, '-out', `${stem}.crt`], dir);
      return { cert: join(dir, `${stem}.crt`), key: join(dir, `${stem}.key`) };
    },
    revoke(cert) {
      openssl(['ca', ...caArgs, '-revoke', cert], dir);
      openssl(['ca', ...caArgs, '-gencrl', '-out', 'crl.pem'], dir);
    },
  };
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'tg-pki-'));
  const ca = authority(dir, 'thinggate test CA');
  let rogue: Authority | undefined;
  const issue = ca.issue;
  const server = issue('server', 'localhost', 'DNS:localhost,IP:127.0.0.1');
  const client = issue('client', 'device-1', 'URI:urn:dev:1,DNS:device-1.test');
  const revoked = issue('revoked', 'device-2', 'DNS:device-2.test');
  const expired = issue('expired', 'device-3', 'DNS:device-3.test', { expired: true });
  ca.revoke(revoked.cert);
  return {
    dir,
    ca: ca.cert,
    crl: ca.crl,
    server,
    client,
    revoked,
    expired,
    issue,
    device(cn, opts = {}) {
      const by = opts.rogue ? (rogue ??= authority(join(dir, 'rogue'), 'rogue CA')) : ca;
      const pair = by.issue('device', cn, opts.uri ? `URI:${opts.uri}` : `DNS:${cn}.devices`);
      const fingerprint = /=([0-9A-F:]+)/.exec(openssl(['x509', '-in', pair.cert, '-noout', '-fingerprint', '-sha256'], dir))![1]!;
      return { ...pair, fingerprint };
    },
    revoke: ca.revoke,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
