/** Small builders for the OpenAPI fragments of the admin modules. */

export const ref = (name: string): Record<string, string> => ({ $ref: `#/components/schemas/${name}` });

export const jsonResponse = (description: string, schema: unknown): Record<string, unknown> => ({
  description,
  content: { 'application/json': { schema } },
});

export const UNAUTHORIZED = { $ref: '#/components/responses/Unauthorized' };
export const NOT_FOUND = { $ref: '#/components/responses/NotFound' };
export const BAD_REQUEST = { $ref: '#/components/responses/BadRequest' };

export const pathParam = (name: string, description: string): Record<string, unknown> => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: { type: 'string' },
});

export const queryParam = (name: string, description: string, schema: unknown = { type: 'string' }): Record<string, unknown> => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});

/** A non-negative integer query parameter, clamped to `max`; `fallback` when absent or malformed. */
export function intQuery(value: unknown, fallback: number, max: number): number {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return fallback;
  return Math.min(Number(value), max);
}

/** A string query parameter (the first when repeated). */
export function strQuery(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}
