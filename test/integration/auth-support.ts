/**
 * Shared pieces of the device-identity tests: a credentials file written
 * with `thinggate passwd` (dist/cli.js, so the subcommand is what makes it)
 * or with cheap scrypt parameters, a gateway with authenticated listeners,
 * and runners for mosquitto_pub/sub, curl and Qpid Proton.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashPassword } from '../../src/security/scrypt.js';
import { client } from './mqtt-support.js';
import type { RecordedRequest, TestBackend } from '../helpers/backend.js';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const PROTON = fileURLToPath(new URL('../interop/python/proton_client.py', import.meta.url));

export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), 'tg-auth-'));
  file(name: string): string {
    return join(this.path, name);
  }
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

/** Writes a credentials file with cheap scrypt parameters (these tests check behaviour, not strength). */
export async function writeUsers(
  file: string,
  users: Record<string, { password: string; groups?: string[]; attributes?: Record<string, string>; acl?: unknown[] }>,
): Promise<void> {
  const out: Record<string, unknown> = {};
  for (const [u, v] of Object.entries(users)) out[u] = { ...v, password: await hashPassword(v.password, { N: 1024, r: 8, p: 1 }) };
  writeFileSync(file, JSON.stringify({ users: out }));
}

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end (bounded), with optional standard input. */
export function run(cmd: string, args: string[], input?: string, timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A command that does not read its input may close it, or end, before this write: EPIPE, not an error of the test.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

/** curl's status line and headers for a POST (`-i`), with extra arguments. */
export async function curlPost(url: string, extra: string[]): Promise<{ status: number; headers: string }> {
  const r = await run('curl', ['-s', '-i', '-X', 'POST', '--data-binary', 'x', ...extra, url]);
  const head = r.stdout.split('\r\n\r\n')[0] ?? '';
  return { status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(head)?.[1] ?? 0), headers: head.toLowerCase() };
}

/** Runs the Proton client in `send` mode; its JSON summary. */
export async function protonSend(url: string, address: string, count = 1, extra: string[] = []): Promise<Record<string, unknown>> {
  const r = await run('/usr/bin/python3', [PROTON, 'send', '--url', url, '--address', address, '--count', String(count), ...extra]);
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.code !== 0 || !last) throw new Error(`proton exited ${r.code}: ${r.stderr}`);
  return JSON.parse(last) as Record<string, unknown>;
}

export function execFileText(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => execFile(cmd, args, (err, stdout) => (err ? reject(err) : resolve(stdout))));
}

/** The CONNACK code MQTT.js reports: 0 when connected (the client is then closed), else the refusal code. */
export async function connackCode(port: number, options: Record<string, unknown>): Promise<number | undefined> {
  try {
    const c = await client(port, { reconnectPeriod: 0, ...options });
    await c.endAsync();
    return 0;
  } catch (err) {
    return (err as { code?: number }).code;
  }
}

/** The back-end request for `path`, once it has arrived. */
export async function requestFor(backend: TestBackend, path: string): Promise<RecordedRequest> {
  for (let i = 0; i < 200; i++) {
    const r = backend.requests.find((q) => q.url === path);
    if (r) return r;
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error(`no request for ${path}`);
}
