/** The TLS server side of a listener whose configuration has a `tls` section (security/tls-server.ts). */
import type { ListenerContext } from './listener.js';
import { ServerTls } from '../security/tls-server.js';

/** Loads the listener's TLS material (throws TG_ERR_TLS_MATERIAL); undefined without a `tls` section. */
export function serverTlsOf(ctx: ListenerContext): ServerTls | undefined {
  const { config } = ctx;
  if (!config.tls) return undefined;
  return new ServerTls({
    listener: config.name,
    tls: config.tls,
    baseDir: ctx.baseDir ?? process.cwd(),
    logger: ctx.logger,
    metrics: ctx.metrics,
    guard: ctx.guard,
    connectTimeoutMs: config.limits.connectTimeoutMs,
  });
}
