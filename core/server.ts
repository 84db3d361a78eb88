/**
 * Composition root of `ati proxy`: turns a ProxyConfig and a plugin registry
 * into a configured Host (pipeline stages, named routes, services, keyring
 * loader, generation extensions). The CLI only parses flags and calls this;
 * tests call it in-process.
 */
import { Host } from './host.js';
import type { Logger } from './logger.js';
import type { PluginRegistry } from './plugin.js';
import { ROUTE_MODULES } from './routes/index.js';
import { createKeyringLoader, keyringFileRefsExtension } from '../config/keyring-loader.js';
import type { ProxyConfig } from '../config/proxy-config.js';

export interface ProxyDeps {
  registry: PluginRegistry;
  logger: Logger;
}

export function createProxyHost(config: ProxyConfig, deps: ProxyDeps): Host {
  return new Host({
    options: { atiDir: config.atiDir, enablePassthrough: config.enablePassthrough, checkOnly: config.check },
    registry: deps.registry,
    logger: deps.logger,
    // `--check` must not consume a sealed one-shot key the real start will need.
    loadKeyring: createKeyringLoader(config, { logger: deps.logger, consumeSealedKey: !config.check }),
    extensions: [keyringFileRefsExtension(config)],
    stages: [],
    routes: ROUTE_MODULES,
    drainMs: config.drainSeconds * 1000,
  });
}
