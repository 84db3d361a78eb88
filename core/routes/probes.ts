/**
 * `GET /readyz` and `GET /metrics`.
 *
 * /readyz answers 200 once a generation serves and every readiness check of
 * the host's services (the database, when configured) passes; 503 otherwise.
 * /metrics renders Prometheus text; on the main listener it answers loopback
 * peers only (403 otherwise): expose it elsewhere with `--metrics-bind`.
 */
import type { RouteModule } from '../host/host.js';
import { AtiError } from '../../kernel/errors.js';
import { registry } from '../metrics/metrics.js';

export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  return addr.startsWith('127.') || addr === '::1' || addr.startsWith('::ffff:127.');
}

export const probeRoutes: RouteModule = (app, host) => {
  app.get('/readyz', { config: { access: 'public' } }, async (_request, reply) => {
    const serving = host.hasGeneration && !host.isShuttingDown;
    const dbOk = serving && host.services.ready ? await host.services.ready() : serving;
    const body = {
      ready: serving && dbOk,
      generation: host.hasGeneration ? host.current.id : 0,
      checks: { generation: serving, ...(host.services.ready ? { database: dbOk } : {}) },
    };
    return reply.code(body.ready ? 200 : 503).send(body);
  });

  app.get('/metrics', { config: { access: 'public' } }, async (request, reply) => {
    if (!isLoopback(request.raw.socket.remoteAddress)) {
      throw new AtiError(
        'ATI_ERR_FORBIDDEN',
        '/metrics answers loopback clients only; use --metrics-bind to expose it elsewhere',
      );
    }
    return reply.type(registry.contentType).send(await registry.metrics());
  });
};
