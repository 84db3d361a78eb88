/**
 * The Fastify app that serves the named routes (`/call`, `/tools`, `/mcp`,
 * `/health` …). It is built once at startup on the host's server; dispatch
 * hands it a request only after the canonical path, the route decision and
 * the pipeline stages, so Fastify does no routing policy of its own. What
 * changes on reload lives in the generation the routes read.
 */
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../../kernel/logger.js';
import { installErrorHandlers } from './error-rendering.js';
import type { Host, RouteModule } from './host.js';
import { lazySchemaController } from './lazy-schema-compilers.js';
import type { NamedRouteTable } from './named-routes.js';

export interface NamedAppInit {
  server: http.Server;
  /** Filled with every route the modules register (path, method, access). */
  named: NamedRouteTable;
  routes: readonly RouteModule[];
  host: Host;
  logger: Logger;
  /** Body limit of the named routes (bytes). */
  bodyLimit?: number | undefined;
}

export interface NamedApp {
  app: FastifyInstance;
  /** Fastify's request handler; dispatch calls it for named routes. */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
}

export async function createNamedApp(init: NamedAppInit): Promise<NamedApp> {
  let handler: NamedApp['handler'] | undefined;
  const app = Fastify({
    logger: false,
    bodyLimit: init.bodyLimit ?? 1_431_663_957,
    // Paths are canonicalised by the host before Fastify sees them.
    routerOptions: { ignoreTrailingSlash: false, caseSensitive: true },
    // ajv and fast-json-stringify load on first use, not at startup (core/host/lazy-schema-compilers.ts).
    schemaController: lazySchemaController,
    // Fastify does not listen itself: the host's server dispatches to `handler`.
    serverFactory: (h) => {
      handler = h as NamedApp['handler'];
      return init.server;
    },
  });
  app.addHook('onRoute', (opts) => {
    const methods = Array.isArray(opts.method) ? opts.method : [opts.method];
    for (const m of methods) {
      if (m === 'HEAD') continue;
      init.named.add(opts.url, m, opts.config?.access ?? 'caller');
    }
  });
  installErrorHandlers(app, init.logger);
  for (const mod of init.routes) await mod(app, init.host);
  await app.ready();
  return { app, handler: handler! };
}
