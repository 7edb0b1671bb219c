/**
 * `GET /api/v1/routes` (with hit counts), `GET /api/v1/scripts` (versions,
 * compile errors, error counts) and `POST /api/v1/scripts/{script}/reload`.
 */
import type { AdminContext } from '../context.js';
import { sendError, type AdminRoutes } from '../routes.js';
import { jsonResponse, NOT_FOUND, pathParam, ref, UNAUTHORIZED } from './openapi-helpers.js';

const SCRIPT_ERRORS = 'thinggate_script_errors_total';

/** Script errors by script and code, read from the metrics registry. */
async function scriptErrors(ctx: AdminContext): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>();
  const metric = ctx.metrics.registry.getSingleMetric(SCRIPT_ERRORS);
  if (!metric) return out;
  for (const v of (await metric.get()).values) {
    const script = String(v.labels.script);
    const byCode = out.get(script) ?? {};
    byCode[String(v.labels.code)] = v.value;
    out.set(script, byCode);
  }
  return out;
}

async function scriptViews(ctx: AdminContext): Promise<Array<Record<string, unknown>>> {
  const errors = await scriptErrors(ctx);
  return ctx.scriptViews().map((s) => {
    // The metric's `script` label is the path as written in routes.
    const byCode = errors.get(s.script) ?? {};
    const total = Object.values(byCode).reduce((a, b) => a + b, 0);
    return { ...s, errors: total, errorsByCode: byCode };
  });
}

export const routeAndScriptRoutes: AdminRoutes = {
  name: 'routes-scripts',
  register(router, ctx) {
    router.route('get', '/api/v1/routes', (_req, res) => {
      res.json(ctx.routeViews());
    });
    router.route('get', '/api/v1/scripts', async (_req, res) => {
      res.json(await scriptViews(ctx));
    });
    router.route('post', '/api/v1/scripts/{script}/reload', async (req, res) => {
      const script = req.params.script as string;
      const info = await ctx.reloadScript(script);
      if (!info) return sendError(res, 404, 'not_found', `no route names the script '${script}'`);
      ctx.logger.info({ script, version: info.version, refused: info.compileError !== undefined }, 'admin: script reloaded');
      const view = (await scriptViews(ctx)).find((s) => s.script === script);
      res.status(info.compileError === undefined ? 200 : 422).json(view);
    });
  },
  openapi: {
    paths: {
      '/api/v1/routes': {
        get: {
          summary: 'Routes in match order, with hit counts',
          responses: { '200': jsonResponse('the routes', { type: 'array', items: ref('Route') }), '401': UNAUTHORIZED },
        },
      },
      '/api/v1/scripts': {
        get: {
          summary: 'Loaded routing scripts',
          responses: { '200': jsonResponse('the scripts', { type: 'array', items: ref('Script') }), '401': UNAUTHORIZED },
        },
      },
      '/api/v1/scripts/{script}/reload': {
        post: {
          summary: "Re-reads a script's file and swaps in a version that compiles (422 with the compile error when it does not; the running version stays)",
          parameters: [pathParam('script', 'the script path as written in routes, percent-encoded')],
          responses: {
            '200': jsonResponse('reloaded (or unchanged)', ref('Script')),
            '422': jsonResponse('refused: the new version does not compile', ref('Script')),
            '401': UNAUTHORIZED,
            '404': NOT_FOUND,
          },
        },
      },
    },
    schemas: {
      Route: {
        type: 'object',
        required: ['index', 'name', 'match', 'hits'],
        properties: {
          index: { type: 'integer' },
          name: { type: 'string' },
          match: { type: 'object' },
          pool: { type: 'string' },
          script: { type: 'string' },
          target: { type: 'string' },
          hits: { type: 'integer', description: 'messages matched since the configuration was loaded' },
        },
      },
      Script: {
        type: 'object',
        required: ['script', 'file', 'version', 'errors', 'errorsByCode'],
        properties: {
          script: { type: 'string' },
          file: { type: 'string' },
          version: { type: 'integer' },
          compileError: { type: 'string', description: 'why the last reload was refused' },
          errors: { type: 'number' },
          errorsByCode: { type: 'object', additionalProperties: { type: 'number' } },
        },
      },
    },
  },
};
