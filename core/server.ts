/**
 * Composition root of `ati proxy`: turns a ProxyConfig and a plugin registry
 * into a configured Host (pipeline stages, named routes, services, keyring
 * loader, generation extensions) and its reload triggers. The CLI only parses
 * flags and calls this; tests call it in-process.
 */
import { AdminAuth } from './admin-auth.js';
import { Host } from './host.js';
import type { Logger } from './logger.js';
import type { PluginRegistry } from './plugin.js';
import { ConfigWatcher } from './reload/watcher.js';
import { adminReloadRoutes } from './routes/admin-reload.js';
import { ROUTE_MODULES } from './routes/index.js';
import { loadKeyring } from '../config/keyring-loader.js';
import type { ProxyConfig } from '../config/proxy-config.js';

export interface ProxyDeps {
  registry: PluginRegistry;
  logger: Logger;
}

export function createProxyHost(config: ProxyConfig, deps: ProxyDeps): Host {
  const admin = new AdminAuth(config.env['ATI_ADMIN_TOKEN']);
  return new Host({
    options: { atiDir: config.atiDir, enablePassthrough: config.enablePassthrough, checkOnly: config.check },
    registry: deps.registry,
    logger: deps.logger,
    loadKeyring: () => loadKeyring(config),
    stages: [],
    routes: [...ROUTE_MODULES, adminReloadRoutes(admin)],
    drainMs: config.drainSeconds * 1000,
  });
}

/** JWT key files named by the environment; they live outside the ATI directory as often as not. */
function jwtKeyFiles(env: NodeJS.ProcessEnv): string[] {
  return ['ATI_JWT_PUBLIC_KEY', 'ATI_JWT_PRIVATE_KEY'].map((k) => env[k]?.trim()).filter((v): v is string => !!v);
}

/** Starts the debounced watch of the ATI directory (unless `--no-watch`); closed at shutdown. */
export async function startConfigWatcher(host: Host, config: ProxyConfig): Promise<ConfigWatcher | undefined> {
  if (!config.watch) return undefined;
  const watcher = new ConfigWatcher({
    atiDir: config.atiDir,
    extraFiles: jwtKeyFiles(config.env),
    logger: host.logger,
    onChange: (changed) => void host.reload(`watch (${changed.slice(0, 5).join(', ')}${changed.length > 5 ? ', …' : ''})`),
  });
  await watcher.start();
  host.shutdownHooks.push(() => watcher.close());
  return watcher;
}
