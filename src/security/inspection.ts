/**
 * Payload inspection per route: a JSON Schema the payload must satisfy
 * (compiled once per configuration with ajv), allowed content types and a
 * size limit. A message that fails is refused with the protocol's own code
 * (the listeners map status 400 to MQTT 5 0x99, CoAP 4.00, AMQP
 * amqp:decode-error, HTTP 400; 415 and 413 likewise), counted per route and
 * reported to the guard as a `payload-inspection` event.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { rejected, type Envelope, type Rejected } from '../envelope/index.js';
import type { GatewayConfig, RouteConfig } from '../config/types.js';
import type { Guard } from '../guard/guard.js';
import { ThinggateError } from '../errors.js';
import { Mirror, type MirrorDeps } from './mirror.js';

// ajv-formats is CommonJS with a default export; under NodeNext it arrives as the module object.
const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;

/** Judges one message for its route: the refusal, or undefined to let it through. */
export type PayloadCheck = (env: Envelope) => Rejected | undefined;

export interface InspectionDeps extends MirrorDeps {
  readonly guard: Guard;
}

/** A route's payload check and mirror, each undefined when the route has none. */
export function inspectionFor(route: RouteConfig, index: number, deps: InspectionDeps): { inspect?: PayloadCheck; tap?: (env: Envelope) => void } {
  const inspect = payloadCheckFor(route, index, deps);
  const mirror = route.mirror && new Mirror(route.name ?? `routes[${index}]`, route.mirror, deps);
  return { ...(inspect && { inspect }), ...(mirror && { tap: (env: Envelope) => mirror.offer(env) }) };
}

/** Compiles a route's schema file; throws TG_ERR_CONFIG_INVALID naming the route path and the file. */
export function compileSchemaFile(file: string, baseDir: string, at: string): ValidateFunction {
  const path = resolve(baseDir, file);
  try {
    const ajv = new Ajv({ allErrors: false, strict: false });
    (addFormats as unknown as (a: Ajv) => void)(ajv);
    return ajv.compile(JSON.parse(readFileSync(path, 'utf8')) as object);
  } catch (err) {
    throw new ThinggateError('TG_ERR_CONFIG_INVALID', `${at}/schema: '${file}': ${(err as Error).message}`, { cause: err });
  }
}

/** The schema problems of a configuration, for `thinggate check` (one line each). */
export function schemaProblems(config: GatewayConfig): string[] {
  const out: string[] = [];
  config.routes.forEach((r, i) => {
    if (r.schema === undefined) return;
    try {
      compileSchemaFile(r.schema, config.baseDir, `/routes/${i}`);
    } catch (err) {
      out.push(`${config.source ?? '<config>'}: ${(err as Error).message}`);
    }
  });
  return out;
}

/** The check for a route, or undefined when it inspects nothing. */
export function payloadCheckFor(route: RouteConfig, index: number, deps: InspectionDeps): PayloadCheck | undefined {
  const { schema, contentTypes, maxPayloadBytes } = route;
  if (schema === undefined && contentTypes === undefined && maxPayloadBytes === undefined) return undefined;
  const name = route.name ?? `routes[${index}]`;
  const validate = schema !== undefined ? compileSchemaFile(schema, deps.baseDir, `/routes/${index}`) : undefined;
  const types = contentTypes && new Set(contentTypes.map((t) => t.toLowerCase()));
  const refusals = deps.metrics.counter('thinggate_guard_inspection_refusals_total', 'Messages refused by payload inspection, by route and check', [
    'route',
    'check',
  ]);
  const refuse = (env: Envelope, check: 'schema' | 'content-type' | 'size', r: Rejected): Rejected => {
    refusals.inc({ route: name, check });
    deps.guard.report({ kind: 'payload-inspection', listener: env.listener, remoteAddress: env.source.remoteAddress, detail: `route '${name}': ${r.reason}` });
    return r;
  };
  return (env) => {
    if (maxPayloadBytes !== undefined && env.payload.length > maxPayloadBytes) {
      return refuse(
        env,
        'size',
        rejected(413, 'TG_ERR_PAYLOAD_TOO_LARGE', `payload of ${env.payload.length} bytes exceeds ${maxPayloadBytes} (route '${name}')`),
      );
    }
    if (types && env.contentType !== undefined) {
      const media = env.contentType.split(';')[0]!.trim().toLowerCase();
      if (!types.has(media)) return refuse(env, 'content-type', rejected(415, 'TG_ERR_CONTENT_TYPE', `content type '${media}' not accepted (route '${name}')`));
    }
    if (!validate) return undefined;
    let doc: unknown;
    try {
      doc = JSON.parse(env.payload.toString('utf8'));
    } catch (err) {
      return refuse(env, 'schema', rejected(400, 'TG_ERR_PAYLOAD_INVALID', `payload is not JSON: ${(err as Error).message}`));
    }
    if (validate(doc)) return undefined;
    const e = validate.errors?.[0];
    const where = e?.instancePath || '/';
    return refuse(env, 'schema', rejected(400, 'TG_ERR_PAYLOAD_INVALID', `payload fails ${schema}: ${where} ${e?.message ?? 'is invalid'}`));
  };
}
