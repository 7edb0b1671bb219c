/** `thinggate check` builds each route's protobuf codec: a missing `.proto`, one that does not parse and an unknown message type are problems naming the route. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = join(import.meta.dirname, '../../../dist/cli.js');
const dir = mkdtempSync(join(tmpdir(), 'tg-proto-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(file: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [CLI, 'check', '-c', file], (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, out: stdout + stderr })),
  );
}

function config(routes: Array<{ proto: string; message: string; at: 'decode' | 'encode' }>): string {
  const lines = [
    `plugins: [{ use: ${JSON.stringify(join(import.meta.dirname, '../index.js'))} }]`,
    'listeners: [{ name: mqtt, protocol: mqtt, host: 127.0.0.1, port: 0 }]',
    'pools: [{ name: p, endpoints: [{ url: "http://127.0.0.1:8080" }] }]',
    'routes:',
    ...routes.map((r) => {
      const codec = `{ type: application/x-protobuf, proto: ${r.proto}, message: ${r.message} }`;
      return r.at === 'decode'
        ? `  - { match: { address: "a/#" }, pool: p, decode: ${codec}, request: { encode: application/json } }`
        : `  - { match: { address: "b/#" }, pool: p, decode: application/json, request: { encode: ${codec} } }`;
    }),
  ];
  const file = join(dir, `gw-${routes.length}-${routes[0]!.proto}.yaml`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

copyFileSync(join(import.meta.dirname, '../example/reading.proto'), join(dir, 'reading.proto'));
writeFileSync(join(dir, 'broken.proto'), 'syntax = "proto3";\nmessage Reading { string device = ; }\n');

describe('thinggate check with protobuf routes', () => {
  it('accepts a route whose .proto and message type load', async () => {
    const r = await check(config([{ proto: 'reading.proto', message: 'acme.Reading', at: 'decode' }]));
    expect(r.out).toContain('valid');
    expect(r.code).toBe(0);
  });

  it('reports a missing file, a parse error and an unknown type, each with its route path', async () => {
    const file = config([
      { proto: 'missing.proto', message: 'acme.Reading', at: 'decode' },
      { proto: 'broken.proto', message: 'Reading', at: 'decode' },
      { proto: 'reading.proto', message: 'acme.Nope', at: 'encode' },
    ]);
    const r = await check(file);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(new RegExp(`${file}: /routes/0/decode: .*ENOENT.*missing\\.proto`));
    expect(r.out).toMatch(new RegExp(`${file}: /routes/1/decode: .*illegal`));
    expect(r.out).toMatch(new RegExp(`${file}: /routes/2/request/encode: no such type: acme\\.Nope`));
  });
});
