/**
 * `/skillati/*` — the reference's remote skill registry (SkillATI). This proxy
 * does not implement it (docs/reference-compat.md#not-yet-supported): every route
 * answers 503 with a JSON error naming the missing configuration, as the
 * reference does when `ATI_SKILL_REGISTRY` is unset. When it is set, the answer
 * is still 503, saying the value is not supported here, and startup warns.
 */
import { AtiError } from '../../kernel/errors.js';
import type { RouteModule } from '../host/host.js';

/** The reference's NotConfigured text, verbatim. */
export const SKILLATI_NOT_CONFIGURED =
  'SkillATI is not configured (set ATI_SKILL_REGISTRY=gcs://<bucket> or ATI_SKILL_REGISTRY=proxy)';

/** Every `/skillati` route of the reference (all GET). */
export const SKILLATI_ROUTES = [
  '/skillati/catalog',
  '/skillati/:name',
  '/skillati/:name/resources',
  '/skillati/:name/file',
  '/skillati/:name/refs',
  '/skillati/:name/ref/:reference',
] as const;

/** The registry value without URL userinfo, so it is safe in a response. */
function describeRegistry(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

/** The 503 for the configuration in `env` (read per request, as the reference does). */
export function skillatiUnavailable(env: NodeJS.ProcessEnv): AtiError {
  const value = env['ATI_SKILL_REGISTRY']?.trim();
  if (!value) return new AtiError('ATI_ERR_SKILL_REGISTRY_UNAVAILABLE', SKILLATI_NOT_CONFIGURED);
  return new AtiError(
    'ATI_ERR_SKILL_REGISTRY_UNAVAILABLE',
    `Unsupported skill registry URL: ${describeRegistry(value)} (this proxy does not implement the remote SkillATI registry; unset ATI_SKILL_REGISTRY)`,
  );
}

/** Route module factory; `env` is injectable for tests. */
export function createSkillatiRoutes(env: () => NodeJS.ProcessEnv = () => process.env): RouteModule {
  return (app, host) => {
    const configured = env()['ATI_SKILL_REGISTRY']?.trim();
    if (configured) {
      host.logger.warn(
        { ati_skill_registry: describeRegistry(configured) },
        'ATI_SKILL_REGISTRY is set but the remote SkillATI registry is not supported; /skillati/* answers 503',
      );
    }
    for (const route of SKILLATI_ROUTES) {
      app.get(route, async () => {
        throw skillatiUnavailable(env());
      });
    }
  };
}

export const skillatiRoutes: RouteModule = createSkillatiRoutes();
