/**
 * The admin server: one express app on `admin.host:admin.port` (loopback by
 * default) serving the probes, /metrics, the REST API under /api/v1 with
 * its OpenAPI document, and the dashboard. Endpoints are contributed by
 * AdminRoutes modules (routes.ts); later stages add theirs the same way.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler, type Express } from 'express';
import type { AdminConfig } from '../config/types.js';
import { ThinggateError } from '../errors.js';
import { bearerAuth } from './auth.js';
import type { AdminContext } from './context.js';
import { openApiDocument, openApiRoutes } from './openapi.js';
import { RecordingRouter, sendError, type AdminRoutes, type RegisteredRoute } from './routes.js';
import { BUILTIN_ADMIN_ROUTES } from './builtin.js';
import { dashboardRoutes, serveDashboard } from './dashboard.js';

/** Largest request body the API reads. */
const MAX_BODY = '1mb';

export interface AdminServerOptions {
  readonly config: AdminConfig;
  readonly context: AdminContext;
  /** Contributions beyond the built-in ones (later stages: bans, device commands). */
  readonly routes?: readonly AdminRoutes[];
}

export class AdminServer {
  private readonly app: Express;
  private server: Server | undefined;
  private readonly recorder: RecordingRouter;
  private readonly modules: readonly AdminRoutes[];
  private readonly dashboard = dashboardRoutes();

  constructor(private readonly options: AdminServerOptions) {
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    if (options.config.token !== undefined) app.use(bearerAuth(options.config.token));
    app.use(express.json({ limit: MAX_BODY }));
    const router = express.Router();
    this.recorder = new RecordingRouter(router);
    this.modules = [...BUILTIN_ADMIN_ROUTES, this.dashboard, ...(options.routes ?? [])];
    for (const m of this.modules) m.register(this.recorder, options.context);
    openApiRoutes(() => openApiDocument(this.modules)).register(this.recorder, options.context);
    app.use(router);
    serveDashboard(app);
    app.use((req, res) => sendError(res, 404, 'not_found', `no admin endpoint ${req.method} ${req.path}`));
    app.use(this.onError);
    this.app = app;
  }

  /** Every route registered, for the OpenAPI test. */
  get registered(): readonly RegisteredRoute[] {
    return this.recorder.registered;
  }

  async start(): Promise<void> {
    const { host, port } = this.options.config;
    const server = createServer(this.app);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new ThinggateError('TG_ERR_LISTEN', `admin server cannot bind ${host}:${port}: ${err.message}`, { cause: err })));
      // exclusive: in a cluster worker (thinggate start --workers), port 0 is this worker's own port, not one shared by all.
      server.listen({ port, host, exclusive: port === 0 }, () => resolve());
    });
    server.on('error', (err) => this.options.context.logger.error({ err }, 'admin server socket error'));
    this.server = server;
  }

  address(): AddressInfo | null {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a : null;
  }

  /** The dashboard's URL (http://host:port/). */
  url(): string | undefined {
    const a = this.address();
    if (!a) return undefined;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}/`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.dashboard.stop();
    // Live streams never end on their own.
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private readonly onError: ErrorRequestHandler = (err: { type?: string; status?: number; message?: string }, req, res, _next) => {
    if (err.type === 'entity.parse.failed') return sendError(res, 400, 'bad_json', `the body is not valid JSON: ${err.message ?? ''}`);
    if (err.type === 'entity.too.large') return sendError(res, 413, 'too_large', `the body is larger than ${MAX_BODY}`);
    if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) return sendError(res, err.status, 'bad_request', err.message ?? 'bad request');
    this.options.context.logger.error({ err, method: req.method, path: req.path }, 'admin request failed');
    if (!res.headersSent) sendError(res, 500, 'internal', 'internal error (logged)');
  };
}
