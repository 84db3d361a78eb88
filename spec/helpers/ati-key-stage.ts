/**
 * A stand-in for the auth stage's `Ati-Key` path (the real one is the
 * pipeline's auth stage, core/pipeline): `Authorization: Ati-Key <raw>` →
 * KeyStore lookup → state.caller; unknown → 401, no store or lookup error →
 * 503. Admin routes are left to their own bearer check. Tests only.
 */
import { AtiError, toAtiError } from '../../core/errors.js';
import type { KeyStore } from '../../core/pipeline/key-store.js';
import type { PipelineStage } from '../../core/pipeline/types.js';

export function atiKeyTestStage(store: KeyStore | undefined): PipelineStage {
  return {
    name: 'ati-key (test stand-in)',
    async run(req, state) {
      if (state.path.startsWith('/admin/') || state.path === '/admin') return undefined;
      const h = req.headers.authorization;
      if (!h?.startsWith('Ati-Key ')) return undefined;
      if (!store) return { error: new AtiError('ATI_ERR_UNAVAILABLE', 'virtual keys need ATI_DB_URL') };
      try {
        const caller = await store.lookup(h.slice('Ati-Key '.length));
        if (!caller) return { error: new AtiError('ATI_ERR_UNAUTHENTICATED', 'invalid virtual key') };
        state.caller = caller;
        state.authConfigured = true;
        return undefined;
      } catch (err) {
        return { error: toAtiError(err, 'ATI_ERR_DB') };
      }
    },
  };
}
