/**
 * The admin extension point: each stage that offers operator endpoints
 * contributes an AdminRoutes module (as Caddy's modules contribute admin
 * routes). A module registers its handlers through an AdminRouter, which
 * records them, and describes them in OpenAPI so the served document always
 * matches what is served.
 */
import type { Request, Response, Router } from 'express';
import type { AdminContext } from './context.js';

export type AdminMethod = 'get' | 'post' | 'put' | 'delete';
export type AdminHandler = (req: Request, res: Response) => void | Promise<void>;

/** OpenAPI 3.1 Path Item objects by path (`/api/v1/pools/{pool}`), and component schemas. */
export interface OpenApiFragment {
  readonly paths: Record<string, Record<string, unknown>>;
  readonly schemas?: Record<string, unknown>;
}

export interface AdminRouter {
  /** Registers a handler; `path` uses OpenAPI templating (`/api/v1/pools/{pool}`). */
  route(method: AdminMethod, path: string, handler: AdminHandler): void;
}

export interface AdminRoutes {
  readonly name: string;
  register(router: AdminRouter, context: AdminContext): void;
  readonly openapi: OpenApiFragment;
}

/** One registered route, as the OpenAPI test compares them. */
export interface RegisteredRoute {
  readonly method: AdminMethod;
  readonly path: string;
}

/** An AdminRouter over an express Router; remembers what was registered. */
export class RecordingRouter implements AdminRouter {
  readonly registered: RegisteredRoute[] = [];

  constructor(private readonly router: Router) {}

  route(method: AdminMethod, path: string, handler: AdminHandler): void {
    this.registered.push({ method, path });
    this.router[method](path.replace(/\{([^}]+)\}/g, ':$1'), handler);
  }
}

/** A JSON error body: `{ error, message }` with the status. */
export function sendError(res: Response, status: number, error: string, message: string): void {
  res.status(status).json({ error, message });
}
