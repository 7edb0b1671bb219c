/**
 * The dashboard: plain HTML, JavaScript and CSS files shipped in the
 * package (src/admin/dashboard/), served as they are — no build step, no
 * CDN, works offline — and its live feed, `GET /api/v1/dashboard/stream`
 * (SSE, one `update` a second).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express } from 'express';
import type { AdminRoutes } from './routes.js';
import { DashboardFeed } from './dashboard-feed.js';
import { openSse } from './sse.js';
import { UNAUTHORIZED } from './api/openapi-helpers.js';

/** The folder of the dashboard files: the same relative place from src/admin/ and dist/admin/. */
export const DASHBOARD_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../src/admin/dashboard');

export function serveDashboard(app: Express): void {
  app.get('/', (_req, res) => res.sendFile(join(DASHBOARD_DIR, 'index.html')));
  app.use('/dashboard', express.static(DASHBOARD_DIR, { index: false }));
}

/** The feed's route; one feed per admin server, shared by every open dashboard. */
export function dashboardRoutes(): AdminRoutes & { stop(): void } {
  let feed: DashboardFeed | undefined;
  return {
    name: 'dashboard',
    register(router, ctx) {
      const f = (feed = new DashboardFeed(ctx));
      router.route('get', '/api/v1/dashboard/stream', (_req, res) => {
        const sse = openSse(res);
        sse.onClose(f.subscribe((s) => sse.send('update', s)));
      });
    },
    stop() {
      feed?.stop();
    },
    openapi: {
      paths: {
        '/api/v1/dashboard/stream': {
          get: {
            summary:
              "The dashboard's live feed (Server-Sent Events): one `update` event a second with rates, connections, latency, pools, script errors, top talkers and new events",
            responses: { '200': { description: 'an event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, '401': UNAUTHORIZED },
          },
        },
      },
    },
  };
}
