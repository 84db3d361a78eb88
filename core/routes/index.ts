/** Every named-route module, in registration order. Adding a route family is one line here. */
import type { RouteModule } from '../host.js';
import { callRoutes } from './call.js';
import { healthRoutes } from './health.js';
import { helpRoutes } from './help.js';
import { toolsRoutes } from './tools.js';

export const ROUTE_MODULES: RouteModule[] = [healthRoutes, toolsRoutes, callRoutes, helpRoutes];
