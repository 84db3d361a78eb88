/**
 * How the database feature plugs into the Host (used by core/compose.ts):
 *
 * - `persistenceModule` is registered first among the route modules. The host
 *   awaits route modules in `start()` after the first generation is built and
 *   before it binds, which is where the reference connects and migrates
 *   too: manifests load first, then the database opens (`SELECT 1`,
 *   migrations with `--migrate`), then the listener binds. A failure rejects
 *   `start()`, so `ati proxy` exits non-zero with the error. The pool, the
 *   LISTEN connection and the writers close with Fastify (`onClose`), which
 *   the host runs at the end of its shutdown, after in-flight requests drained.
 * - `persistenceServices` gives the host `dbStatus` (`connected`/`disabled`,
 *   the reference's fixed string), `dbReachable` (cached probe), `ready`
 *   (fails while the configured database does not answer) and `callLog`.
 */
import type { AdminAuth } from '../pipeline/admin-auth.js';
import type { HostServices, RouteModule } from '../host/host.js';
import type { Persistence } from './persistence.js';

export function persistenceModule(persistence: Persistence | undefined, adminAuth: AdminAuth): RouteModule {
  return async (app, host) => {
    if (!persistence) return;
    await persistence.open();
    app.addHook('onClose', async () => {
      await persistence.close();
    });
    if (!adminAuth.configured)
      host.logger.warn({}, 'DB connected but ATI_ADMIN_TOKEN unset — /admin/keys/* will return 503');
  };
}

export function persistenceServices(persistence: Persistence | undefined): Partial<HostServices> {
  if (!persistence) return { dbStatus: () => 'disabled' };
  return {
    dbStatus: () => 'connected',
    dbReachable: () => (persistence.isOpen ? persistence.parts.probe.current() : undefined),
    ready: async () => persistence.isOpen && (await persistence.parts.probe.check()),
    callLog: persistence.callLog,
  };
}
