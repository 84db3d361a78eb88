/**
 * Composition root of `ati proxy`: turns a ProxyConfig and a plugin registry
 * into a configured Host (pipeline stages, named routes, services, keyring
 * loader, extensions). The CLI only parses flags and calls this;
 * tests call it in-process.
 */
import { AdminAuth } from './admin-auth.js';
import { Host } from './host.js';
import type { Logger } from './logger.js';
import type { PluginRegistry } from './plugin.js';
import { ROUTE_MODULES } from './routes/index.js';
import { adminKeysRoutes } from './routes/admin-keys.js';
import { persistenceModule, persistenceServices } from './db/host-wiring.js';
import { Persistence } from './db/persistence.js';
import { loadKeyring } from '../config/keyring-loader.js';
import type { ProxyConfig } from '../config/proxy-config.js';

export interface ProxyDeps {
  registry: PluginRegistry;
  logger: Logger;
}

export function createProxyHost(config: ProxyConfig, deps: ProxyDeps): Host {
  const adminAuth = new AdminAuth(config.env['ATI_ADMIN_TOKEN']);
  // ATI_DB_URL unset/blank → no database (as the reference). `--check` never opens connections.
  // persistence.keyStore is the KeyStore (core/pipeline/key-store.ts) for the auth stage's `Ati-Key` path.
  let host: Host | undefined;
  const persistence = config.check
    ? undefined
    : Persistence.fromEnv(config.env, {
        logger: deps.logger,
        migrate: config.migrate,
        generation: () => (host?.hasGeneration ? host.current : undefined),
      });
  host = new Host({
    options: { atiDir: config.atiDir, enablePassthrough: config.enablePassthrough, checkOnly: config.check },
    registry: deps.registry,
    logger: deps.logger,
    loadKeyring: () => loadKeyring(config),
    stages: [],
    routes: [persistenceModule(persistence, adminAuth), ...ROUTE_MODULES, adminKeysRoutes({ adminAuth, persistence })],
    services: persistenceServices(persistence),
    drainMs: config.drainSeconds * 1000,
  });
  return host;
}
