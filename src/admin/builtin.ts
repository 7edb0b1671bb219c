/** The admin server's own contributions, in the order they are registered. */
import type { AdminRoutes } from './routes.js';
import { healthRoutes } from './health.js';

export const BUILTIN_ADMIN_ROUTES: readonly AdminRoutes[] = [healthRoutes];
