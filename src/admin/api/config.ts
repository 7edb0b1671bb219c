/**
 * `GET /api/v1/config`: the running configuration with secrets redacted;
 * `POST /api/v1/config/reload`: reads the file again, validates it and
 * answers with every problem (the running configuration stays), like SIGHUP.
 */
import { ConfigError, ThinggateError } from '../../errors.js';
import type { AdminRoutes } from '../routes.js';
import { sendError } from '../routes.js';
import { jsonResponse, ref, UNAUTHORIZED } from './openapi-helpers.js';

const SECRET_KEY = /^(token|password|passphrase|secret|authorization|cookie|apikey|api-key|x-api-key)$/i;
const REDACTED = '[redacted]';

/** A deep copy with secret-named values replaced and URL credentials removed. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && v !== undefined ? REDACTED : redact(v);
    return out;
  }
  if (typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]+@/i.test(value)) {
    return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/i, `$1${REDACTED}@`);
  }
  return value;
}

export const configRoutes: AdminRoutes = {
  name: 'config',
  register(router, ctx) {
    router.route('get', '/api/v1/config', (_req, res) => {
      res.json(redact(ctx.configuration));
    });
    router.route('post', '/api/v1/config/reload', async (_req, res) => {
      try {
        await ctx.reloadConfiguration();
      } catch (err) {
        if (err instanceof ConfigError) {
          ctx.logger.error({ problems: err.problems }, 'admin: reload refused: keeping the running configuration');
          res.status(422).json({ error: 'config_invalid', message: 'reload refused: keeping the running configuration', problems: err.problems });
          return;
        }
        if (err instanceof ThinggateError && err.code === 'TG_ERR_NOT_STARTED') return sendError(res, 409, 'no_file', err.message);
        throw err;
      }
      res.json({ reloaded: true, source: ctx.configuration.source ?? null });
    });
  },
  openapi: {
    paths: {
      '/api/v1/config': {
        get: {
          summary: 'The running configuration, secrets redacted',
          responses: { '200': jsonResponse('the configuration', { type: 'object' }), '401': UNAUTHORIZED },
        },
      },
      '/api/v1/config/reload': {
        post: {
          summary: 'Reads the configuration file again and applies it; an invalid one is refused with every problem (like SIGHUP)',
          responses: {
            '200': jsonResponse('applied', {
              type: 'object',
              required: ['reloaded'],
              properties: { reloaded: { const: true }, source: { type: ['string', 'null'] } },
            }),
            '401': UNAUTHORIZED,
            '409': jsonResponse('running on the embedded default: no file to reload', ref('Error')),
            '422': jsonResponse('refused; `problems` lists every problem with its path', ref('Error')),
          },
        },
      },
    },
  },
};
