/**
 * Loading the configured plugins, then the configuration against the catalog
 * they extend. `use` is a path relative to the configuration file (starting
 * with `.` or `/`) or a package name resolved from the configuration's folder.
 * Every failure — a path that does not load, a module that is no plugin, an
 * unsupported apiVersion, options its schema refuses, a throwing `setup`, a
 * name registered twice — is a configuration problem naming the plugin and
 * its path, reported with all the others.
 */
import { BUILTIN_AUTHENTICATORS } from '../config/sections/security.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { fragmentProblems, parseConfig, readConfigDocument, type ParseOptions } from '../config/load.js';
import { interpolate } from '../config/interpolate.js';
import type { GatewayConfig } from '../config/types.js';
import { silentLogger } from '../observability/logger.js';
import { PLUGIN_API_VERSION, type Plugin, type PluginApi } from './api.js';
import { builtinRegistries } from './builtins.js';
import { DuplicateRegistration, type LoadedPlugin, type Registries } from './registry.js';
import { streamListener } from './stream-listener.js';
import { datagramListener } from './datagram-listener.js';

export interface LoadedConfig {
  readonly config: GatewayConfig;
  /** Built-ins plus the configured plugins' contributions: hand it to the Gateway. */
  readonly registries: Registries;
}

/** Reads a configuration file, loads its plugins and validates it against the schema they extend. Throws ConfigError listing every problem. */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env, logger?: Logger): Promise<LoadedConfig> {
  const { raw, baseDir, locate } = readConfigDocument(file);
  return parseConfigWithPlugins(raw, { source: file, baseDir, env, ...(locate && { locate }) }, logger);
}

/** Like parseConfig, with the document's `plugins` loaded first. */
export async function parseConfigWithPlugins(raw: unknown, options: ParseOptions, logger: Logger = silentLogger()): Promise<LoadedConfig> {
  const registries = builtinRegistries();
  const baseDir = options.baseDir ?? process.cwd();
  const entries = (raw as { plugins?: unknown } | null)?.plugins;
  const problems = Array.isArray(entries)
    ? await loadPlugins(interpolate(entries, options.env ?? process.env, []) as unknown[], registries, baseDir, logger)
    : [];
  const config = parseConfig(raw, { ...options, catalog: registries.catalog(problems) });
  return { config, registries };
}

async function loadPlugins(entries: readonly unknown[], registries: Registries, baseDir: string, logger: Logger): Promise<string[]> {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const [i, entry] of entries.entries()) {
    const use = (entry as { use?: unknown } | null)?.use;
    if (typeof use !== 'string' || use === '') continue; // the schema reports it
    const at = `/plugins/${i}`;
    let plugin: Plugin;
    try {
      const mod = (await import(specifier(use, baseDir))) as { default?: unknown };
      plugin = (mod.default ?? mod) as Plugin;
    } catch (err) {
      problems.push(`${at}/use: cannot load plugin '${use}': ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    if (typeof plugin?.name !== 'string' || typeof plugin.setup !== 'function' || typeof plugin.apiVersion !== 'number') {
      problems.push(`${at}/use: '${use}' is not a thinggate plugin (expected a default export { name, apiVersion, setup })`);
      continue;
    }
    const label = `plugin '${plugin.name}' (${use})`;
    if (plugin.apiVersion !== PLUGIN_API_VERSION) {
      problems.push(`${at}/use: ${label} needs plugin API version ${plugin.apiVersion}; this thinggate implements ${PLUGIN_API_VERSION}`);
      continue;
    }
    if (names.has(plugin.name)) {
      problems.push(`${at}/use: ${label}: a plugin named '${plugin.name}' is already configured`);
      continue;
    }
    names.add(plugin.name);
    const options = structuredClone((entry as { options?: unknown }).options ?? {}) as Record<string, unknown>;
    if (plugin.optionsSchema !== undefined) {
      const bad = fragmentProblems(plugin.optionsSchema, options, `${at}/options`);
      if (bad.length > 0) {
        problems.push(...bad.map((p) => `${p} (options of ${label})`));
        continue;
      }
    }
    const contributions = { listeners: [] as string[], codecs: [] as string[], strategies: [] as string[], authenticators: [] as string[] };
    const api: PluginApi = {
      apiVersion: PLUGIN_API_VERSION,
      baseDir,
      logger: logger.child({ plugin: plugin.name }),
      registerListener: (c) => {
        registries.listeners.register(c, plugin.name);
        contributions.listeners.push(c.name);
      },
      registerStreamListener: (c) => {
        registries.listeners.register(
          {
            name: c.name,
            transport: c.transport ?? 'tcp',
            ...(c.schema && { schema: c.schema }),
            create: c.transport === 'udp' ? datagramListener(c.protocol) : streamListener(c.protocol),
          },
          plugin.name,
        );
        contributions.listeners.push(c.name);
      },
      registerCodec: (c) => {
        registries.codecs.register(c, plugin.name);
        contributions.codecs.push(c.name);
      },
      registerStrategy: (c) => {
        registries.strategies.register(c, plugin.name);
        contributions.strategies.push(c.name);
      },
      registerAuthenticator: (c) => {
        if ((BUILTIN_AUTHENTICATORS as readonly string[]).includes(c.name))
          throw new DuplicateRegistration(`authenticator '${c.name}' is already registered by a built-in`);
        registries.authenticators.register(c, plugin.name);
        contributions.authenticators.push(c.name);
      },
    };
    try {
      await plugin.setup(api, options);
    } catch (err) {
      problems.push(
        err instanceof DuplicateRegistration ? `${at}: ${label}: ${err.message}` : `${at}: ${label} failed in setup: ${(err as Error)?.message ?? String(err)}`,
      );
      continue;
    }
    const loaded: LoadedPlugin = { name: plugin.name, use, contributions, ...(plugin.version !== undefined && { version: plugin.version }) };
    registries.addPlugin(loaded);
  }
  return problems;
}

/** An import specifier for `use`: a file URL for paths (a folder's package.json `main`, or index.js), else the package resolved from `baseDir`. */
function specifier(use: string, baseDir: string): string {
  if (use.startsWith('.') || isAbsolute(use)) {
    const path = resolve(baseDir, use);
    return pathToFileURL(existsSync(path) && statSync(path).isDirectory() ? folderEntry(path) : path).href;
  }
  try {
    return pathToFileURL(createRequire(join(baseDir, 'thinggate.config')).resolve(use)).href;
  } catch {
    return use; // ESM-only packages: let import() resolve it (from thinggate's own folder)
  }
}

function folderEntry(dir: string): string {
  const pkg = join(dir, 'package.json');
  if (existsSync(pkg)) {
    const main = (JSON.parse(readFileSync(pkg, 'utf8')) as { main?: string }).main;
    if (main) return join(dir, main);
  }
  return join(dir, 'index.js');
}
