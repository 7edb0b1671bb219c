/** The admin server's own contributions, in the order they are registered. */
import type { AdminRoutes } from './routes.js';
import { healthRoutes } from './health.js';
import { listenerRoutes } from './api/listeners.js';
import { connectionRoutes } from './api/connections.js';
import { deviceRoutes } from './api/devices.js';
import { poolRoutes } from './api/pools.js';
import { routeAndScriptRoutes } from './api/routes-scripts.js';
import { configRoutes } from './api/config.js';
import { eventRoutes } from './api/events.js';
import { banRoutes } from './api/bans.js';
import { clusterRoutes } from './api/cluster.js';
import { mirrorRoutesAdmin } from './api/mirror.js';

export const BUILTIN_ADMIN_ROUTES: readonly AdminRoutes[] = [
  healthRoutes,
  listenerRoutes,
  connectionRoutes,
  deviceRoutes,
  poolRoutes,
  routeAndScriptRoutes,
  configRoutes,
  eventRoutes,
  banRoutes,
  mirrorRoutesAdmin,
  clusterRoutes,
];
