/**
 * `POST /admin/reload` (admin token): runs a reload now and answers with its
 * result — 200 `applied`/`unchanged`, 422 `rejected` with every error located.
 * `?force=true` rebuilds even when no source changed.
 */
import type { AdminAuth } from '../pipeline/admin-auth.js';
import type { RouteModule } from '../host/host.js';

export function adminReloadRoutes(admin: AdminAuth): RouteModule {
  return (app, host) => {
    app.post<{ Querystring: { force?: string } }>(
      '/admin/reload',
      { config: { access: 'admin' } },
      async (request, reply) => {
        admin.check(request);
        const r = await host.reload('admin', { force: request.query.force === 'true' });
        const base = { status: r.status, generation: r.generation, duration_ms: r.durationMs };
        if (r.status === 'rejected') {
          return reply.code(422).send({
            ...base,
            errors: r.errors.map((e) => ({
              code: e.code,
              message: e.message,
              file: e.location?.file ?? null,
              line: e.location?.line ?? null,
              field: e.location?.field ?? null,
            })),
          });
        }
        if (r.status === 'applied') {
          return { ...base, changed_files: r.changedFiles, reused: r.reused, provisioned: r.provisioned };
        }
        return base;
      },
    );
  };
}
