/**
 * `GET /health`: the reference's seven fields (ref-04 §5.1) plus a `reload`
 * object. Public, always 200 while the process serves.
 */
import type { RouteModule } from '../host/host.js';
import { VERSION } from '../../kernel/version.js';
import { skillRegistryOf } from '../skills/extension.js';

export const healthRoutes: RouteModule = (app, host) => {
  app.get('/health', { config: { access: 'public' } }, async () => {
    const gen = host.current;
    const status = host.reloadStatus;
    return {
      status: 'ok',
      version: VERSION,
      tools: gen.publicTools().length,
      providers: gen.providers.size,
      skills: skillRegistryOf(gen).size,
      auth: host.services.authMode(),
      db: host.services.dbStatus(),
      // Ours (ref-04 §1.6 REC): a cached liveness probe; null when no database is configured.
      db_reachable: host.services.dbReachable?.() ?? null,
      reload: {
        generation: status.generation,
        loaded_at: status.loaded_at,
        last_error: status.last_error,
        last_attempt_at: status.last_attempt_at,
        last_result: status.last_result,
      },
    };
  });
};
