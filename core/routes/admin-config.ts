/**
 * `GET /admin/config` (admin token): what the serving generation is made of —
 * flags, handler plugins, providers with their manifest fields, tools,
 * passthrough routes, keyring source and entry names — with every secret
 * redacted. Keyring values never appear; URL credentials and header values of
 * `extra_headers` are masked, and the whole body goes through the same
 * redaction as the logs as a last line of defence.
 */
import type { AdminAuth } from '../pipeline/admin-auth.js';
import type { RouteModule } from '../host/host.js';
import { REDACTED, redactText, redactUrl } from '../../kernel/redact.js';
import type { ProxyConfig } from '../../config/proxy-config.js';

/** Provider fields whose value is a URL (credentials in userinfo or query are masked). */
const URL_FIELDS = new Set(['base_url', 'mcp_url', 'oauth2_token_url', 'endpoint']);

function redactField(key: string, value: unknown): unknown {
  if (typeof value === 'string' && URL_FIELDS.has(key)) return redactUrl(value);
  if ((key === 'extra_headers' || key === 'mcp_env' || key === 'cli_env') && value && typeof value === 'object') {
    // Values may hold literal secrets (only `${key}` placeholders are safe to show).
    return Object.fromEntries(
      Object.entries(value as Record<string, string>).map(([k, v]) => [
        k,
        /^(\$\{[^}]+\}|@\{[^}]+\})$/.test(String(v)) ? v : REDACTED,
      ]),
    );
  }
  if (key === 'auth_generator' && value && typeof value === 'object') {
    const g = value as Record<string, unknown>;
    return {
      ...g,
      ...(g['env'] ? { env: redactField('mcp_env', g['env']) } : {}),
      ...(g['script'] ? { script: REDACTED } : {}),
    };
  }
  return value;
}

export function adminConfigRoutes(admin: AdminAuth, config: ProxyConfig): RouteModule {
  return (app, host) => {
    app.get('/admin/config', { config: { access: 'admin' } }, async (request, reply) => {
      admin.check(request);
      const gen = host.current;
      const body = {
        generation: gen.id,
        loaded_at: gen.loadedAt.toISOString(),
        reload: host.reloadStatus,
        flags: {
          bind: config.bind,
          port: config.port,
          ati_dir: config.atiDir,
          env_keys: config.envKeys,
          enable_passthrough: config.enablePassthrough,
          sig_verify_mode: config.sigVerifyMode,
          sig_drift_seconds: config.sigDriftSeconds,
          sig_exempt_paths: config.sigExemptPaths,
          drain_seconds: config.drainSeconds,
          watch: config.watch,
          metrics_bind: config.metricsBind,
        },
        auth: host.services.authMode(),
        db: host.services.dbStatus(),
        plugins: host.registry.describe(),
        keyring: { source: gen.keyring.source, entries: gen.keyring.names().sort() },
        signing_secrets: gen.signingSecrets.length,
        providers: [...gen.providers.values()].map((p) => ({
          name: p.name,
          handler: p.plugin.name,
          file: p.manifest.file,
          provisioned_in_generation: p.provisionedInGeneration,
          fields: Object.fromEntries(Object.entries(p.manifest.provider).map(([k, v]) => [k, redactField(k, v)])),
          tools: p.provisioned.tools.map((t) => t.name),
        })),
        routes: gen.routes.routes.map((r) => ({
          name: r.name,
          host_match: r.hostMatch,
          path_prefix: r.pathPrefix,
          forward_websockets: r.forwardWebsockets,
        })),
        warnings: gen.warnings,
      };
      // Last line of defence: the same scrub as every log line (keyring values of the serving generation).
      return reply.type('application/json').send(redactText(JSON.stringify(body)));
    });
  };
}
