/**
 * The layering rules of STYLE.md, checked on the import statements of src/:
 * imports point down the flow and never in a circle, protocol libraries stop
 * at the listeners, listeners and the balancer never know each other, and
 * the storage contracts in state/ stay just above envelope/.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve(import.meta.dirname, '../../src');

interface Module {
  readonly file: string;
  /** Relative imports, as src/-relative paths of .ts files. */
  readonly local: string[];
  /** Package imports (bare specifiers), node: built-ins left out. */
  readonly packages: string[];
}

function modules(): Map<string, Module> {
  const out = new Map<string, Module>();
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    const text = readFileSync(join(SRC, file), 'utf8');
    const local: string[] = [];
    const packages: string[] = [];
    // Static imports and re-exports (type-only ones too: a cycle of types is still a cycle of design), and dynamic import().
    const specifiers = [...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+'([^']+)'/gms), ...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map(
      (m) => m[1]!,
    );
    for (const spec of specifiers) {
      if (spec.startsWith('.')) local.push(relative(SRC, resolve(dirname(join(SRC, file)), spec.replace(/\.js$/, '.ts'))));
      else if (!spec.startsWith('node:')) packages.push(spec);
    }
    out.set(file, { file, local, packages });
  }
  return out;
}

/** Strongly connected components of more than one module (Tarjan). */
function cycles(graph: Map<string, Module>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)!.local) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

const stage = (file: string): string => (file.includes('/') ? file.split('/')[0]! : file);

describe('architecture of src/', () => {
  const graph = modules();

  it('reads the modules and their imports', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get('gateway.ts')!.local).toContain('routing/index.ts');
  });

  it('has no import cycle', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('keeps protocol libraries inside listeners/', () => {
    const protocolLibraries = new Set(['mqtt-packet', 'coap', 'coap-packet', 'rhea', 'ws']);
    const outside = [...graph.values()].filter((m) => stage(m.file) !== 'listeners' && m.packages.some((p) => protocolLibraries.has(p)));
    expect(outside.map((m) => m.file)).toEqual([]);
  });

  it.each([
    ['listeners', ['balancer', 'routing', 'scripting', 'gateway.ts']],
    ['balancer', ['listeners', 'routing', 'scripting', 'gateway.ts']],
    ['routing', ['listeners', 'scripting', 'gateway.ts']],
    ['scripting', ['listeners', 'gateway.ts']],
    ['envelope', ['listeners', 'routing', 'scripting', 'balancer', 'state', 'gateway.ts']],
    ['util', ['listeners', 'routing', 'scripting', 'balancer', 'state', 'gateway.ts']],
    ['state', ['listeners', 'routing', 'scripting', 'balancer', 'guard', 'devices', 'admin', 'config', 'observability', 'security', 'plugins', 'gateway.ts']],
  ])('%s imports none of %j', (from, forbidden) => {
    const bad = [...graph.values()]
      .filter((m) => stage(m.file) === from)
      .flatMap((m) => m.local.filter((l) => forbidden.includes(stage(l))).map((l) => `${m.file} -> ${l}`));
    expect(bad).toEqual([]);
  });

  // The storage contracts (DESIGN.md, State) sit just above envelope/: every stage may use
  // them, so they may use only what lies below, whether src/state/ holds files yet or not.
  it('state/ imports only envelope/, util/, config types and the error catalogue', () => {
    expect(stateImportsOutsideItsLayer(graph)).toEqual([]);
  });

  it('the state/ check names an import from a stage above it', () => {
    const probe: Module = {
      file: 'state/probe.ts',
      local: ['envelope/index.ts', 'config/types.ts', 'listeners/listener.ts', 'state/embedded/x.ts'],
      packages: [],
    };
    expect(stateImportsOutsideItsLayer(new Map([[probe.file, probe]]))).toEqual(['state/probe.ts -> listeners/listener.ts']);
  });
});

/** Imports of src/state/ modules that leave its layer, as `from -> to`. */
function stateImportsOutsideItsLayer(graph: Map<string, Module>): string[] {
  const allowed = (target: string): boolean =>
    ['state', 'envelope', 'util'].includes(stage(target)) ||
    target === 'config/types.ts' ||
    target.startsWith('config/sections/') ||
    target === 'errors.ts' ||
    target === 'error-codes.ts';
  return [...graph.values()].filter((m) => stage(m.file) === 'state').flatMap((m) => m.local.filter((l) => !allowed(l)).map((l) => `${m.file} -> ${l}`));
}
