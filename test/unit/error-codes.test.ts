/**
 * The error code catalogue (src/error-codes.ts) is the one source: every
 * code that src/ mentions is in it, and the README's error table lists
 * exactly its codes, in both directions.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../../src/error-codes.js';

const root = join(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && d.name.endsWith('.ts'))
    .map((d) => join(d.parentPath, d.name));
}

describe('error code catalogue', () => {
  const catalogue = new Set<string>(ERROR_CODES);
  const used = new Set<string>();
  for (const f of sourceFiles(join(root, 'src'))) {
    if (f.endsWith('error-codes.ts')) continue;
    for (const m of readFileSync(f, 'utf8').matchAll(/TG_ERR_[A-Z0-9_]+/g)) used.add(m[0]);
  }
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const table = new Set([...readme.matchAll(/^\| `(TG_ERR_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]!));

  it('finds codes in the source', () => {
    expect(used.size).toBeGreaterThan(5);
  });

  it('catalogues every code that src/ mentions', () => {
    expect([...used].filter((c) => !catalogue.has(c)).sort()).toEqual([]);
  });

  it('catalogues no code that src/ no longer uses', () => {
    expect([...catalogue].filter((c) => !used.has(c)).sort()).toEqual([]);
  });

  it('lists exactly the catalogue in the README error table', () => {
    expect([...table].sort()).toEqual([...catalogue].sort());
  });
});
