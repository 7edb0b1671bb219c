/**
 * The served OpenAPI 3.1 document: valid against the OpenAPI 3.1 schema,
 * every operation it lists is served and every route served is listed, and
 * the JSON that each GET actually answers matches the documented schema.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { client } from './mqtt-support.js';
import { startAdminBed, type AdminBed } from './admin-support.js';
import { AdminServer } from '../../src/admin/server.js';
import type { MqttClient } from 'mqtt';

const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;

interface Operation {
  readonly parameters?: Array<{ name: string; in: string; required?: boolean }>;
  readonly responses: Record<string, { content?: Record<string, { schema: unknown }>; $ref?: string }>;
}
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };

let bed: AdminBed;
let doc: Doc;
let device: MqttClient;

beforeAll(async () => {
  bed = await startAdminBed({ token: 'tok' });
  device = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'dev-o' });
  await device.subscribeAsync('cmd/#', { qos: 1 });
  await device.publishAsync('telemetry/x', 'x', { qos: 1 });
  doc = (await (await bed.api('/api/v1/openapi.json')).json()) as Doc;
});

afterAll(async () => {
  device.end(true);
  await bed.close();
});

const operations = (): Array<{ method: string; path: string; op: Operation }> =>
  Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ method, path, op })));

describe('admin OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const res = await new Validator().validate(structuredClone(doc) as unknown as Parameters<Validator['validate']>[0]);
    expect(res.errors ?? []).toEqual([]);
    expect(res.valid).toBe(true);
  });

  it('lists exactly the routes the server registers', () => {
    const server = new AdminServer({ config: { enabled: true, host: '127.0.0.1', port: 0, eventBuffer: 10 }, context: bed.gw.gateway });
    const served = server.registered.map((r) => `${r.method} ${r.path}`).sort();
    const documented = operations()
      .map((o) => `${o.method} ${o.path}`)
      .sort();
    expect(documented).toEqual(served);
    // Declared path parameters match the templates.
    for (const { path, op } of operations()) {
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      expect(
        (op.parameters ?? [])
          .filter((p) => p.in === 'path')
          .map((p) => p.name)
          .sort(),
        path,
      ).toEqual(inPath);
    }
  });

  it('every GET answers what the document says', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
    ajv.addSchema({ $id: 'doc', components: doc.components } as object);
    const values: Record<string, string> = { clientId: 'dev-o', pool: 'default', endpoint: '0' };
    let checked = 0;
    for (const { method, path, op } of operations()) {
      if (method !== 'get' || path.endsWith('/stream')) continue;
      const url = path.replace(/\{([^}]+)\}/g, (_m, n: string) => encodeURIComponent(values[n]!));
      const r = await bed.api(url);
      const spec = op.responses[String(r.status)];
      expect(spec, `${path} answered ${r.status}, which is not documented`).toBeDefined();
      const schema = spec!.content?.['application/json']?.schema;
      if (!schema) continue;
      const body: unknown = await r.json();
      const validate = ajv.compile(rewriteRefs(schema));
      expect(validate(body) ? [] : validate.errors, `${path}`).toEqual([]);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(10);
    expect((await bed.api('/api/v1/openapi.json', { token: null })).status).toBe(401);
  });
});

/** Points `#/components/...` references at the document registered as `doc`. */
function rewriteRefs(schema: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema).replace(/"#\/components\//g, '"doc#/components/')) as Record<string, unknown>;
}
