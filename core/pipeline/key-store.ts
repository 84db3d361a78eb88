/**
 * The hook through which virtual keys (`Authorization: Ati-Key <raw>`)
 * reach the auth stage. The persistence feature provides the
 * implementation (database lookup with a cache); without one the auth stage
 * answers 503, as the reference does on builds without a key store.
 */
import type { CallerIdentity } from '../plugin/contract.js';

export interface KeyStore {
  /**
   * Resolves a raw key (`ati-key_…`) to its caller: `sub` = the key's user,
   * `keyHash` = sha256 hex of the raw key, `scopes` synthesised from the key
   * row, `validUntil` = its expiry (unix seconds) if any. Undefined when the
   * key is unknown, revoked or expired (→ 401). Throwing means the store is
   * unavailable (→ 503).
   */
  lookup(rawKey: string): Promise<CallerIdentity | undefined>;
}
