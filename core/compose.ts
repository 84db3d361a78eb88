/**
 * Composition root of `ati proxy`: turns a ProxyConfig and a plugin registry
 * into a configured Host (pipeline stages, named routes, services, keyring
 * loader, generation extensions) and its reload triggers. The CLI only parses
 * flags and calls this; tests call it in-process.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdminAuth } from './pipeline/admin-auth.js';
import { AtiError } from '../kernel/errors.js';
import { registry as metricsRegistry } from './metrics/metrics.js';
import { Host } from './host/host.js';
import type { Generation } from './generation/generation.js';
import type { Logger } from '../kernel/logger.js';
import type { PluginRegistry } from './plugin/contract.js';
import { ConfigWatcher } from './reload/watcher.js';
import { adminConfigRoutes } from './routes/admin-config.js';
import { adminReloadRoutes } from './routes/admin-reload.js';
import type { KeyStore } from './pipeline/key-store.js';
import { buildRequestPipeline, checkPipelineStartup } from './pipeline/build.js';
import { ROUTE_MODULES } from './routes/index.js';
import { adminKeysRoutes } from './routes/admin-keys.js';
import { persistenceModule, persistenceServices } from './db/host-wiring.js';
import { Persistence } from './db/persistence.js';
import { skillsExtension } from './skills/extension.js';
import { createKeyringLoader } from '../config/keyring-loader.js';
import { keyringFileRefsExtension } from './generation/keyring-file-refs.js';
import type { ProxyConfig } from '../config/proxy-config.js';

export interface ProxyDeps {
  registry: PluginRegistry;
  logger: Logger;
  /** Virtual-key lookup for `Authorization: Ati-Key` (persistence feature); absent → 503. */
  keyStore?: KeyStore;
}

/** Builds the host. Throws ATI_ERR_AUTH_CONFIG / ATI_ERR_SIG_CONFIG on unusable security settings. */
export function createProxyHost(config: ProxyConfig, deps: ProxyDeps): Host {
  const admin = new AdminAuth(config.env['ATI_ADMIN_TOKEN']);
  // The database (ATI_DB_URL; unset/blank → none, as the reference). `--check` never opens connections.
  // It opens in host.start() after the first generation and before the bind (core/db/host-wiring.ts).
  const self: { host?: Host } = {}; // the key store reads the serving generation of the host built below
  const persistence = config.check
    ? undefined
    : Persistence.fromEnv(config.env, {
        logger: deps.logger,
        migrate: config.migrate,
        generation: () => (self.host?.hasGeneration ? self.host.current : undefined),
      });
  const keyStore = deps.keyStore ?? persistence?.keyStore;
  const pipeline = buildRequestPipeline(config, { logger: deps.logger, ...(keyStore ? { keyStore } : {}) });
  const host = new Host({
    options: { atiDir: config.atiDir, enablePassthrough: config.enablePassthrough, checkOnly: config.check },
    registry: deps.registry,
    logger: deps.logger,
    // `--check` must not consume a sealed one-shot key the real start will need.
    loadKeyring: createKeyringLoader(config, { logger: deps.logger, consumeSealedKey: !config.check }),
    stages: pipeline.stages,
    services: { ...persistenceServices(persistence), authMode: pipeline.authMode },
    routes: [
      persistenceModule(persistence, admin),
      ...ROUTE_MODULES,
      adminReloadRoutes(admin),
      adminConfigRoutes(admin, config),
      adminKeysRoutes({ adminAuth: admin, persistence }),
    ],
    extensions: [...pipeline.extensions, skillsExtension, keyringFileRefsExtension(config)],
    drainMs: config.drainSeconds * 1000,
  });
  self.host = host;
  return host;
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
    onChange: (changed) =>
      void host.reload(`watch (${changed.slice(0, 5).join(', ')}${changed.length > 5 ? ', …' : ''})`),
  });
  await watcher.start();
  host.shutdownHooks.push(() => watcher.close());
  return watcher;
}

/** Serves `GET /metrics` (and nothing else) on `host:port`; closed at shutdown. Resolves with the bound address. */
export async function startMetricsListener(host: Host, bind: string): Promise<string> {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(bind);
  if (!m) throw new AtiError('ATI_ERR_CONFIG', `--metrics-bind must be host:port (e.g. 0.0.0.0:9464), got "${bind}"`);
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"error":"only GET /metrics is served here","code":"ATI_ERR_NOT_FOUND"}');
      return;
    }
    metricsRegistry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metricsRegistry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new AtiError('ATI_ERR_LISTEN', `cannot listen on ${bind} (--metrics-bind): ${err.code ?? err.message}`)),
    );
    server.listen(Number(m[2]), m[1] || '0.0.0.0', () => resolve());
  });
  host.shutdownHooks.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const a = server.address() as AddressInfo;
  return `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}

/** Startup checks that need the first generation; throws the fatal AtiError. */
export function checkProxyStartup(config: ProxyConfig, gen: Generation, logger: Logger): void {
  checkPipelineStartup(config, gen, logger);
}
