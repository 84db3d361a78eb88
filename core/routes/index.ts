/** Every named-route module, in registration order. Adding a route family is one line here. */
import type { RouteModule } from '../host/host.js';
import { callRoutes } from './call.js';
import { healthRoutes } from './health.js';
import { helpRoutes } from './help.js';
import { jwksRoutes } from './jwks.js';
import { mcpRoutes } from './mcp.js';
import { probeRoutes } from './probes.js';
import { skillatiRoutes } from './skillati.js';
import { skillsRoutes } from './skills.js';
import { toolsRoutes } from './tools.js';

export const ROUTE_MODULES: RouteModule[] = [
  healthRoutes,
  toolsRoutes,
  callRoutes,
  helpRoutes,
  mcpRoutes,
  skillsRoutes,
  skillatiRoutes,
  jwksRoutes,
  probeRoutes,
];
