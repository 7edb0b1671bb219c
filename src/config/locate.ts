/**
 * Helping a reader find and fix a configuration problem: the line of a JSON
 * path in a YAML file, and "did you mean" for a near-miss key.
 */
import type { LineCounter, Document } from 'yaml';

/** Line (1-based) of the node at `pointer`, or of its nearest existing parent. */
export function yamlLocator(doc: Document, lines: LineCounter): (pointer: string) => number | undefined {
  return (pointer) => {
    const segments = pointer
      .split('/')
      .slice(1)
      .filter((s) => s !== '')
      .map(unescapePointer);
    for (let n = segments.length; n >= 0; n--) {
      const path = segments.slice(0, n).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
      const node = (n === 0 ? doc.contents : doc.getIn(path, true)) as { range?: [number, number, number] } | null | undefined;
      if (node?.range) return lines.linePos(node.range[0]).line;
    }
    return undefined;
  };
}

/** JSON Pointer unescaping (RFC 6901 §4). */
function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Optimal string alignment distance (Levenshtein with adjacent transpositions). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The allowed key closest to `given` when it is a near miss (a typo, a case slip or a missing unit suffix). */
export function didYouMean(given: string, allowed: readonly string[]): string | undefined {
  const g = given.toLowerCase();
  let best: { key: string; d: number } | undefined;
  for (const key of allowed) {
    const k = key.toLowerCase();
    const d = Math.min(distance(g, k), distance(g, k.replace(/(ms|bytes|mb)$/, '')));
    if (d <= Math.max(1, Math.floor(key.length / 3)) && (!best || d < best.d)) best = { key, d };
  }
  return best?.key;
}
