/**
 * An in-process Host wired like core/compose.ts wires the database feature
 * (persistence module first, admin key routes, services, the auth stage with
 * the persistence key store), on a database a test already opened. No JWT is
 * configured, so callers without `Ati-Key` are dev-mode callers.
 */
import { AdminAuth } from '../../core/pipeline/admin-auth.js';
import type { Database } from '../../core/db/client.js';
import { persistenceModule, persistenceServices } from '../../core/db/host-wiring.js';
import { Persistence, type PersistenceOptions } from '../../core/db/persistence.js';
import { silentLogger, type Logger } from '../../kernel/logger.js';
import { ROUTE_MODULES } from '../../core/routes/index.js';
import { adminKeysRoutes } from '../../core/routes/admin-keys.js';
import { createAuthStage } from '../../core/pipeline/auth.js';
import { startHost, type TestHost } from './host.js';
import { makeTestPlugin } from './test-plugin.js';
import { makeAtiDir, type TempAtiDir } from './ati-dir.js';
import { createTestDatabase, DB_SETUP_TIMEOUT, type DriverName, type TestDatabase } from './db.js';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';

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
    stages: [
      createAuthStage({
        jwtConfigured: false,
        enablePassthrough: true,
        logger,
        ...(persistence ? { keyStore: persistence.keyStore } : {}),
      }),
    ],
    routes: [persistenceModule(persistence, adminAuth), ...ROUTE_MODULES, adminKeysRoutes({ adminAuth, persistence })],
    services: persistenceServices(persistence),
  });
  self.th = th;
  return { ...th, persistence };
}

/** What `useDbHost` keeps for the tests of one `describe` block (fields set by its hooks). */
export interface DbHostContext {
  /** The test database (opened once per block, emptied before each test). */
  t: TestDatabase;
  /** The ATI directory with the block's files (made once per block). */
  dir: TempAtiDir;
  /** A host on that database with the admin token, started before and closed after each test. */
  h: DbTestHost;
}

/**
 * Registers the usual lifecycle of a database test block: open the database and write the ATI
 * directory once, reset the database and start a migrated host before each test, close the host
 * after it, and destroy both at the end. Read the fields inside tests and later hooks.
 */
export function useDbHost(driver: DriverName, files: Record<string, string>, adminToken: string): DbHostContext {
  const ctx = {} as DbHostContext;
  beforeAll(async () => {
    ctx.t = await createTestDatabase(driver);
    ctx.dir = await makeAtiDir(files);
  }, DB_SETUP_TIMEOUT);
  afterAll(async () => {
    await ctx.t?.destroy();
    await ctx.dir?.cleanup();
  });
  beforeEach(async () => {
    await ctx.t.reset();
    ctx.h = await startDbHost({ atiDir: ctx.dir.dir, database: ctx.t.db, adminToken, migrate: true });
  });
  afterEach(async () => {
    await ctx.h.close();
  });
  return ctx;
}
