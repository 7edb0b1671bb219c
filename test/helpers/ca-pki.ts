/**
 * A throw-away PKI made with openssl for the TLS policy tests (see pki.ts for the mutual-TLS authentication tests): a CA (EC P-256), server
 * certificates for named hosts, client certificates (valid, revoked,
 * expired) and the CA's CRL. Files live in one temporary folder.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pair {
  readonly cert: string;
  readonly key: string;
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
  /** Revokes `cert` and rewrites the CRL file. */
  revoke(cert: string): void;
  remove(): void;
}

const openssl = (args: string[], cwd: string): void => {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
};

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'tg-pki-'));
  mkdirSync(join(dir, 'newcerts'));
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
  const ca = join(dir, 'ca.crt');
  const caArgs = ['-config', 'ca.cnf', '-cert', 'ca.crt', '-keyfile', 'ca.key'];
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '3',
      '-subj',
      '/CN=thinggate test CA',
    ],
    dir,
  );
  const crl = join(dir, 'crl.pem');
  const gencrl = (): void => openssl(['ca', ...caArgs, '-gencrl', '-out', 'crl.pem'], dir);
  let n = 0;
  const issue = (name: string, cn: string, san: string, opts: { expired?: boolean } = {}): Pair => {
    const stem = `${name}-${n++}`;
    openssl(
      [
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        `${stem}.key`,
        '-out',
        `${stem}.csr`,
        '-subj',
        `/CN=${cn}`,
        '-addext',
        `subjectAltName=${san}`,
      ],
      dir,
    );
    const validity = opts.expired ? ['-startdate', '200101000000Z', '-enddate', '200102000000Z'] : ['-days', '2'];
    openssl(['ca', '-batch', '-notext', ...caArgs, ...validity, '-in', `${stem}.csr`, '-out', `${stem}.crt`], dir);
    return { cert: join(dir, `${stem}.crt`), key: join(dir, `${stem}.key`) };
  };
  const revoke = (cert: string): void => {
    openssl(['ca', ...caArgs, '-revoke', cert], dir);
    gencrl();
  };
  const server = issue('server', 'localhost', 'DNS:localhost,IP:127.0.0.1');
  const client = issue('client', 'device-1', 'URI:urn:dev:1,DNS:device-1.test');
  const revoked = issue('revoked', 'device-2', 'DNS:device-2.test');
  const expired = issue('expired', 'device-3', 'DNS:device-3.test', { expired: true });
  revoke(revoked.cert);
  return { dir, ca, crl, server, client, revoked, expired, issue, revoke, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
