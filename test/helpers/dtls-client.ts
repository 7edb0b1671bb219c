/**
 * openssl's DTLS 1.2 client for the coaps tests of session resumption:
 * one handshake, with a session saved (-sess_out) or offered (-sess_in).
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';

/**
 * One `openssl s_client -dtls1_2` handshake to 127.0.0.1:`port` with `args`
 * (credentials, -cipher): resolves with 'New' or 'Reused' once it is done
 * (stdin held open until then), or 'failed' when openssl exits without a
 * session. openssl may print its session line before a server's alert: a
 * refusal is best read from the gateway's security events.
 */
export function dtlsHandshake(port: number, args: readonly string[], session: { out?: string; in?: string } = {}): Promise<string> {
  const all = ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${port}`, ...args];
  if (session.out) all.push('-sess_out', session.out);
  if (session.in) all.push('-sess_in', session.in);
  const p = spawn('openssl', all, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.kill();
      reject(new Error(`no handshake (${all.join(' ')}): ${out}`));
    }, 20_000);
    let done = false;
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^(New|Reused), TLSv1\.2, Cipher is /m.exec(out);
      if (m && !done) {
        done = true;
        clearTimeout(timer);
        p.stdin.end();
        p.on('close', () => resolve(m[1]!));
      }
    });
    p.on('close', () => {
      if (done) return;
      clearTimeout(timer);
      resolve('failed');
    });
  });
}

/** A UDP port free a moment ago: a configuration reloaded with it names the same port as the first (the listener is kept). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
