/**
 * What `thinggate check` verifies beyond the schema and cross-references:
 * each listener's and pool's TLS (and coaps DTLS) files can be read, each route's
 * codecs can be built (a protobuf `.proto` file that is missing, does not parse
 * or has no such message type), and each routing script compiles. Every problem
 * is returned, each naming the file and JSON path.
 */
import { silentLogger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import type { GatewayConfig } from './config/types.js';
import { ConfigError } from './errors.js';
import { loadTlsMaterial } from './security/tls-material.js';
import { loadDtlsMaterial } from './security/dtls/material.js';
import { loadUpstreamTls } from './balancer/tls.js';
import { schemaProblems } from './security/inspection.js';
import type { Registries } from './plugins/registry.js';

export async function deepCheck(config: GatewayConfig, registries?: Registries): Promise<string[]> {
  const source = config.source ?? '<config>';
  const problems: string[] = [];
  config.listeners.forEach((l, i) => {
    if (!l.dtls) return;
    try {
      loadDtlsMaterial(l.name, l.dtls, config.baseDir ?? process.cwd(), l.limits.maxConnections);
    } catch (err) {
      problems.push(`${source}: /listeners/${i}: ${(err as Error).message}`);
    }
  });
  config.listeners.forEach((l, i) => {
    if (!l.tls) return;
    try {
      loadTlsMaterial(l.name, l.tls, config.baseDir ?? process.cwd());
    } catch (err) {
      problems.push(`${source}: /listeners/${i}/tls: ${(err as Error).message}`);
    }
  });
  config.pools.forEach((p, i) => {
    if (!p.endpoints.some((e) => e.url.startsWith('https:'))) return;
    try {
      loadUpstreamTls(p.tls, config.baseDir, `/pools/${i}`);
    } catch (err) {
      problems.push(`${source}: /pools/${i}/tls: ${(err as Error).message}`);
    }
  });
  problems.push(...schemaProblems(config));
  if (registries) problems.push(...codecProblems(config, registries));
  for (const [i, r] of config.routes.entries()) {
    if (r.script === undefined) continue;
    if (config.routes.findIndex((x) => x.script === r.script) !== i) continue;
    problems.push(...(await compileProblems(config, r.script, i)));
  }
  return problems;
}

/** Builds every codec a route names, as the gateway does at start, and reports those that cannot be built (with what the codec said). */
function codecProblems(config: GatewayConfig, registries: Registries): string[] {
  const codecs = registries.codecResolver(config.baseDir);
  const out: string[] = [];
  config.routes.forEach((r, i) => {
    for (const [at, ref] of [
      ['decode', r.decode],
      ['request/encode', r.request?.encode],
    ] as const) {
      if (ref === undefined) continue;
      try {
        codecs.resolve(ref);
      } catch (err) {
        out.push(`${config.source ?? '<config>'}: /routes/${i}/${at}: ${(err as Error).message}`);
      }
    }
  });
  return out;
}

/** Compiles one script alone (in its own thread, as the gateway would) and reports why it does not compile. */
async function compileProblems(config: GatewayConfig, _script: string, index: number): Promise<string[]> {
  const { buildScriptHost } = await import('./scripting/factory.js');
  const only: GatewayConfig = { ...config, routes: [config.routes[index]!], scripts: { ...config.scripts, watch: false } };
  try {
    const host = await buildScriptHost(only, silentLogger(), new Metrics());
    await host.close();
    return [];
  } catch (err) {
    const detail = err instanceof ConfigError ? err.problems.join('; ') : (err as Error).message;
    return [`${config.source ?? '<config>'}: /routes/${index}/script: ${detail}`];
  }
}
