/**
 * Debian's haproxy in TCP mode for tests: a generated configuration on free
 * loopback ports, run in the foreground (-db) and ended by its PID. Health
 * checks every 200 ms take a dead back-end out quickly; a refused connection
 * is dispatched to another server. `sendProxy` prefixes each connection
 * with a PROXY protocol header (version 1 or 2) naming the client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitForPort } from './redis-server.js';

export interface HaProxyOptions {
  /** haproxy's server keyword: `send-proxy` (version 1) or `send-proxy-v2`. */
  readonly sendProxy?: 'send-proxy' | 'send-proxy-v2';
  /** Health checks (default true). */
  readonly check?: boolean;
}

export class HaProxy {
  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
  ) {}

  static async start(dir: string, servers: readonly number[], options: HaProxyOptions = {}): Promise<HaProxy> {
    const check = options.check === false ? '' : ' check inter 200 fall 1 rise 2 on-marked-down shutdown-sessions';
    const send = options.sendProxy ? ` ${options.sendProxy}` : '';
    const port = await freePort();
    const cfg = [
      'global',
      '  maxconn 2000',
      'defaults',
      '  mode tcp',
      '  timeout connect 1s',
      '  timeout client 60s',
      '  timeout server 60s',
      '  retries 3',
      '  option redispatch',
      'frontend devices',
      `  bind 127.0.0.1:${port}`,
      '  default_backend nodes',
      'backend nodes',
      '  balance roundrobin',
      ...servers.map((p, i) => `  server n${i} 127.0.0.1:${p}${send}${check}`),
      '',
    ].join('\n');
    const file = join(dir, `haproxy-${port}.cfg`);
    writeFileSync(file, cfg);
    const child = spawn('haproxy', ['-db', '-f', file], { stdio: 'ignore' });
    await waitForPort(port);
    return new HaProxy(port, child);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    process.kill(this.child.pid!, 'SIGTERM');
    await exited;
  }
}
