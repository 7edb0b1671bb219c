/**
 * Every stable error code used in src/ is catalogued in the README's error
 * table, and the table lists no code that no longer exists.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && d.name.endsWith('.ts'))
    .map((d) => join(d.parentPath, d.name));
}

describe('error code catalogue', () => {
  const used = new Set<string>();
  for (const f of sourceFiles(join(root, 'src'))) for (const m of readFileSync(f, 'utf8').matchAll(/TG_ERR_[A-Z0-9_]+/g)) used.add(m[0]);
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const table = new Set([...readme.matchAll(/^\| `(TG_ERR_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]!));

  it('finds codes in the source', () => {
    expect(used.size).toBeGreaterThan(5);
  });

  it('lists every code used in src/ in the README error table', () => {
    expect([...used].filter((c) => !table.has(c)).sort()).toEqual([]);
  });

  it('lists no code that src/ no longer uses', () => {
    expect([...table].filter((c) => !used.has(c)).sort()).toEqual([]);
  });
});
