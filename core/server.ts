/**
 * Composition root of `ati proxy`: turns a ProxyConfig and a plugin registry
 * into a configured Host (pipeline stages, named routes, services, keyring
 * loader, generation extensions). The CLI only parses flags and calls this;
 * tests call it in-process.
 */
import { Host } from './host.js';
import type { Generation } from './generation.js';
import type { Logger } from './logger.js';
import type { PluginRegistry } from './plugin.js';
import type { KeyStore } from './pipeline/key-store.js';
import { buildRequestPipeline, checkPipelineStartup } from './request-pipeline.js';
import { ROUTE_MODULES } from './routes/index.js';
import { loadKeyring } from '../config/keyring-loader.js';
import type { ProxyConfig } from '../config/proxy-config.js';

export interface ProxyDeps {
  registry: PluginRegistry;
  logger: Logger;
  /** Virtual-key lookup for `Authorization: Ati-Key` (persistence feature); absent → 503. */
  keyStore?: KeyStore;
}

/** Builds the host. Throws ATI_ERR_AUTH_CONFIG / ATI_ERR_SIG_CONFIG on unusable security settings. */
export function createProxyHost(config: ProxyConfig, deps: ProxyDeps): Host {
  const pipeline = buildRequestPipeline(config, { logger: deps.logger, ...(deps.keyStore ? { keyStore: deps.keyStore } : {}) });
  return new Host({
    options: { atiDir: config.atiDir, enablePassthrough: config.enablePassthrough, checkOnly: config.check },
    registry: deps.registry,
    logger: deps.logger,
    loadKeyring: () => loadKeyring(config),
    extensions: [...pipeline.extensions],
    stages: pipeline.stages,
    services: { authMode: pipeline.authMode },
    routes: ROUTE_MODULES,
    drainMs: config.drainSeconds * 1000,
  });
}

/** Startup checks that need the first generation; throws the fatal AtiError. */
export function checkProxyStartup(config: ProxyConfig, gen: Generation, logger: Logger): void {
  checkPipelineStartup(config, gen, logger);
}
