/**
 * What `ati proxy` runs (flags parsed in commands/proxy.ts): builds the host from the flags, the
 * built-in and configured plugins, serves until SIGTERM/SIGINT, reloads on SIGHUP; `--check`
 * prints the summary instead.
 */
import { AtiError } from '../kernel/errors.js';
import type { Host } from '../core/host/host.js';
import { createLogger, type Logger } from '../kernel/logger.js';
import { PluginRegistry } from '../core/plugin/contract.js';
import { checkProxyStartup, createProxyHost, startConfigWatcher, startMetricsListener } from '../core/compose.js';
import { skillRegistryOf } from '../core/skills/extension.js';
import { VERSION } from '../kernel/version.js';
import { defaultProxyConfig, resolveAtiDir, type ProxyConfig, type SigVerifyMode } from '../config/proxy-config.js';
import { loadConfiguredPlugins } from '../core/plugin/load-modules.js';
import { BUILTIN_PLUGINS } from './builtin-plugins.js';
import type { GlobalOptions } from './main.js';
import { reportFatal } from './output.js';
import { printCheckSummary } from './check-summary.js';

export interface ProxyFlags {
  port: number;
  bind: string;
  atiDir?: string;
  envKeys: boolean;
  migrate: boolean;
  enablePassthrough: boolean;
  sigVerifyMode: SigVerifyMode;
  sigDriftSeconds: number;
  sigExemptPaths?: string;
  check: boolean;
  drainSeconds: number;
  watch: boolean;
  insecureNoAuth: boolean;
  metricsBind?: string;
}

export function configFromFlags(
  flags: ProxyFlags,
  g: GlobalOptions,
  env: NodeJS.ProcessEnv = process.env,
): ProxyConfig {
  return defaultProxyConfig({
    port: flags.port,
    bind: flags.bind,
    atiDir: resolveAtiDir(flags.atiDir, env),
    envKeys: flags.envKeys,
    migrate: flags.migrate,
    enablePassthrough: flags.enablePassthrough,
    sigVerifyMode: flags.sigVerifyMode,
    sigDriftSeconds: flags.sigDriftSeconds,
    sigExemptPaths:
      flags.sigExemptPaths === undefined
        ? null
        : flags.sigExemptPaths
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
    verbose: g.verbose,
    output: g.output,
    check: flags.check,
    drainSeconds: flags.drainSeconds,
    watch: flags.watch,
    insecureNoAuth: flags.insecureNoAuth,
    metricsBind: flags.metricsBind ?? null,
    env,
  });
}

/** Runs the proxy; resolves with an exit code when the process should exit, or undefined while serving. */
export async function runProxy(flags: ProxyFlags, g: GlobalOptions): Promise<number | undefined> {
  // SIGHUP first: one arriving during startup is queued, never fatal (the reference died of it).
  let host: Host | undefined;
  let pendingHup = false;
  process.on('SIGHUP', () => {
    if (host?.hasGeneration) void host.reload('SIGHUP');
    else pendingHup = true;
  });
  releaseEarlySignals();
  pendingHup ||= takeEarlySignals() > 0;

  const logger = createLogger({ level: g.verbose ? 'debug' : undefined });
  let config: ProxyConfig;
  try {
    config = configFromFlags(flags, g);
  } catch (err) {
    return reportFatal(err, g.output, logger);
  }

  const registry = new PluginRegistry();
  try {
    for (const p of BUILTIN_PLUGINS) registry.register(p);
    const loaded = await loadConfiguredPlugins(config.atiDir, registry);
    for (const p of loaded)
      logger.info({ plugin: p.name, version: p.version, module: p.specifier }, 'handler plugin loaded');
  } catch (err) {
    return reportFatal(err, g.output, logger);
  }

  if (config.check) return runCheck(config, registry, g);

  try {
    host = createProxyHost(config, { registry, logger });
    const gen = await host.start();
    checkProxyStartup(config, gen, logger);
    const addr = await host.listen(config.port, stripBrackets(config.bind));
    const count = (h: string) => [...gen.providers.values()].filter((p) => p.plugin.name === h).length;
    logger.info(
      {
        version: VERSION,
        addr: `${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`,
        auth: host.services.authMode() === 'jwt' ? 'JWT enabled' : 'DISABLED (no JWT keys configured)',
        ati_dir: config.atiDir,
        tools: gen.publicTools().length,
        providers: gen.providers.size,
        mcp: count('mcp'),
        openapi: count('openapi'),
        skills: skillRegistryOf(gen).size,
        keyring: gen.keyring.source,
        db: host.services.dbStatus(),
        passthrough: config.enablePassthrough ? gen.routes.size : 0,
        sig_verify_mode: config.sigVerifyMode[0]!.toUpperCase() + config.sigVerifyMode.slice(1),
        sig_verify_secret: gen.signingSecrets.length > 0,
        generation: gen.id,
      },
      'ATI proxy server starting',
    );
  } catch (err) {
    if (host?.hasGeneration) await host.shutdown('startup failed').catch(() => undefined);
    return reportFatal(err, config.output, logger);
  }

  const h = host;
  installShutdown(h, logger);
  try {
    if (config.metricsBind) {
      const m = await startMetricsListener(h, config.metricsBind);
      logger.info({ addr: m }, 'metrics listener started');
    }
  } catch (err) {
    await h.shutdown('metrics listener failed');
    return reportFatal(err, config.output, logger);
  }
  try {
    await startConfigWatcher(h, config);
  } catch (err) {
    logger.warn(
      { error: (err as Error).message },
      'config watcher could not start; reload with SIGHUP or POST /admin/reload',
    );
  }
  if (pendingHup) void h.reload('SIGHUP (queued during startup)');
  return undefined;
}

type EarlySignals = { early: { hup: number }; release: () => void };
const EARLY = Symbol.for('ati.earlySignals');

/** SIGHUPs that bin/ati queued while modules were loading. */
function takeEarlySignals(): number {
  return (globalThis as { [EARLY]?: EarlySignals })[EARLY]?.early.hup ?? 0;
}

function releaseEarlySignals(): void {
  (globalThis as { [EARLY]?: EarlySignals })[EARLY]?.release();
}

function stripBrackets(bind: string): string {
  return bind.startsWith('[') && bind.endsWith(']') ? bind.slice(1, -1) : bind;
}

function installShutdown(host: Host, logger: Logger): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal during shutdown: exiting now');
      process.exit(1);
    }
    stopping = true;
    host.shutdown(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ error: (err as Error).message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function runCheck(config: ProxyConfig, registry: PluginRegistry, g: GlobalOptions): Promise<number> {
  // --check logs only warnings and worse: its output is the summary.
  const logger = createLogger({ level: g.verbose ? 'debug' : 'warn' });
  let host: Host | undefined;
  try {
    host = createProxyHost(config, { registry, logger });
    const gen = await host.start();
    checkProxyStartup(config, gen, logger);
    printCheckSummary(
      { ok: true, config, generation: gen, registry, errors: [] },
      g.outputExplicit ? g.output : 'text',
    );
    await host.shutdown('check complete');
    return 0;
  } catch (err) {
    const errors = err instanceof AtiError && 'errors' in err ? (err as { errors: AtiError[] }).errors : [err as Error];
    printCheckSummary({ ok: false, config, registry, errors }, g.outputExplicit ? g.output : 'text');
    if (host?.hasGeneration) await host.shutdown('check failed').catch(() => undefined);
    return 1;
  }
}
