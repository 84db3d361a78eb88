/**
 * An in-process Host wired like core/server.ts wires the database feature
 * (persistence module first, admin key routes, services, the auth stage with
 * the persistence key store), on a database a test already opened. No JWT is
 * configured, so callers without `Ati-Key` are dev-mode callers.
 */
import { AdminAuth } from '../../core/admin-auth.js';
import type { Database } from '../../core/db/client.js';
import { persistenceModule, persistenceServices } from '../../core/db/host-wiring.js';
import { Persistence, type PersistenceOptions } from '../../core/db/persistence.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { ROUTE_MODULES } from '../../core/routes/index.js';
import { adminKeysRoutes } from '../../core/routes/admin-keys.js';
import { createAuthStage } from '../../core/pipeline/auth.js';
import { startHost, type TestHost } from './host.js';
import { makeTestPlugin } from './test-plugin.js';

export interface DbTestHost extends TestHost {
  persistence: Persistence | undefined;
}

export async function startDbHost(opts: {
  atiDir: string;
  /** Undefined: no database (ATI_DB_URL unset). */
  database?: Database;
  adminToken?: string;
  migrate?: boolean;
  logger?: Logger;
  persistence?: Partial<PersistenceOptions>;
}): Promise<DbTestHost> {
  const logger = opts.logger ?? silentLogger();
  const adminAuth = new AdminAuth(opts.adminToken);
  const self: { th?: TestHost } = {};
  const persistence = opts.database
    ? new Persistence(opts.database.target, {
        logger,
        migrate: opts.migrate ?? true,
        generation: () => (self.th?.host.hasGeneration ? self.th.host.current : undefined),
        database: opts.database,
        ...opts.persistence,
      })
    : undefined;
  const th = await startHost(opts.atiDir, [makeTestPlugin()], {
    logger,
    stages: [createAuthStage({ jwtConfigured: false, enablePassthrough: true, logger, ...(persistence ? { keyStore: persistence.keyStore } : {}) })],
    routes: [persistenceModule(persistence, adminAuth), ...ROUTE_MODULES, adminKeysRoutes({ adminAuth, persistence })],
    services: persistenceServices(persistence),
  });
  self.th = th;
  return { ...th, persistence };
}
