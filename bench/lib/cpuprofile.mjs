#!/usr/bin/env node
/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`): self time by
 * function and by file, as percentages of the sampled time (idle excluded
 * from the denominator only when `--busy` is given).
 *
 *   node bench/lib/cpuprofile.mjs FILE.cpuprofile [--top N] [--busy] [--json]
 *       [--save bench/results/profile.json --scenario NAME [--note TEXT]...]
 *
 * `--save` writes the hot spots where the suite's RESULTS.md block shows them
 * (notes already in that file are kept unless new ones are given).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export function summarizeProfile(profile, { top = 25, busy = false } = {}) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfSamples = new Map();
  for (const id of profile.samples) selfSamples.set(id, (selfSamples.get(id) ?? 0) + 1);
  const fn = new Map();
  const file = new Map();
  let total = 0;
  let idle = 0;
  for (const [id, count] of selfSamples) {
    const cf = byId.get(id).callFrame;
    total += count;
    if (cf.functionName === '(idle)') idle += count;
    const url = (cf.url || '')
      .replace(/^file:\/\//, '')
      .replace(/^.*\/node_modules\/\.cache\/tg-bench-dist\//, 'dist/')
      .replace(/^.*\/node_modules\//, 'node_modules/')
      .replace(/^\/work\/[^/]+\/(dist|src)\//, '$1/');
    const key = `${cf.functionName || '(anonymous)'}\u0000${url}:${cf.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + count);
    const fk = url || `(${cf.functionName})`;
    file.set(fk, (file.get(fk) ?? 0) + count);
  }
  // Each sample charged to the innermost frame of thinggate's own code (dist/ or another
  // tsc output) on its stack: what a thinggate function costs including the libraries and
  // native calls (socket writes, undici, isolated-vm) it makes.
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const own = new Map();
  const isOwn = (url) => /\/(dist|tg-bench-dist)\//.test(url) && !/node_modules\/(?!\.cache\/)/.test(url.replace(/^.*\/work\/main\//, ''));
  for (const [id, count] of selfSamples) {
    let cur = id;
    while (cur !== undefined && !isOwn(byId.get(cur).callFrame.url || '')) cur = parent.get(cur);
    if (cur === undefined) continue;
    const cf = byId.get(cur).callFrame;
    const url = cf.url.replace(/^.*\/(dist|tg-bench-dist)\//, 'dist/');
    const key = `${cf.functionName || '(anonymous)'}\u0000${url}:${cf.lineNumber + 1}`;
    own.set(key, (own.get(key) ?? 0) + count);
  }
  const denom = busy ? total - idle : total;
  const pct = (c) => Math.round((1000 * c) / denom) / 10;
  const rows = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return {
    samples: total,
    idlePercent: Math.round((1000 * idle) / total) / 10,
    functions: rows(fn)
      .filter(([k]) => !k.startsWith('(idle)'))
      .map(([k, c]) => {
        const [name, where] = k.split('\u0000');
        return { function: name, file: where, selfPercent: pct(c) };
      }),
    thinggate: rows(own).map(([k, c]) => {
      const [name, where] = k.split('\u0000');
      return { function: name, file: where, percent: pct(c) };
    }),
    files: rows(file)
      .filter(([k]) => !busy || k !== '((idle))')
      .map(([k, c]) => ({ file: k, selfPercent: pct(c) })),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      top: { type: 'string' },
      busy: { type: 'boolean' },
      json: { type: 'boolean' },
      save: { type: 'string' },
      scenario: { type: 'string' },
      note: { type: 'string', multiple: true },
    },
  });
  const s = summarizeProfile(JSON.parse(readFileSync(positionals[0], 'utf8')), { top: Number(values.top ?? 25), busy: values.busy });
  if (values.save) {
    const prev = existsSync(values.save) ? JSON.parse(readFileSync(values.save, 'utf8')) : {};
    const out = {
      scenario: values.scenario ?? prev.scenario ?? 'unknown',
      date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
      basis: values.busy ? 'percent of non-idle samples' : 'percent of all samples',
      idlePercent: s.idlePercent,
      notes: values.note ?? prev.notes ?? [],
      hotspots: s.functions.slice(0, 20),
      thinggate: s.thinggate.slice(0, 20),
      files: s.files.filter((f) => f.file !== '((idle))').slice(0, 15),
    };
    writeFileSync(values.save, `${JSON.stringify(out, null, 2)}\n`);
  }
  if (values.json) process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
  else {
    process.stdout.write(`samples ${s.samples}, idle ${s.idlePercent}%\n\nself % by function:\n`);
    for (const f of s.functions) process.stdout.write(`${String(f.selfPercent).padStart(6)}  ${f.function}  ${f.file}\n`);
    process.stdout.write('\n% charged to the innermost thinggate function on the stack (its own code and what it calls):\n');
    for (const f of s.thinggate) process.stdout.write(`${String(f.percent).padStart(6)}  ${f.function}  ${f.file}\n`);
    process.stdout.write('\nself % by file:\n');
    for (const f of s.files) process.stdout.write(`${String(f.selfPercent).padStart(6)}  ${f.file}\n`);
  }
}
