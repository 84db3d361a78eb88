/**
 * What the auth stage needs from a virtual-key store (`Authorization: Ati-Key
 * <raw>`, ref-03 §4.8): the caller a raw key stands for.
 *
 * - resolves a CallerIdentity → authenticated with the key's scopes;
 * - resolves undefined → 401 (unknown, malformed, revoked, blocked or expired);
 * - rejects (ATI_ERR_DB) → 503 (the database cannot answer).
 * With no store configured (no `ATI_DB_URL`) the auth stage answers 503.
 * The implementation is core/db/key-store.ts.
 */
import type { CallerIdentity } from '../plugin.js';

export interface KeyStore {
  lookup(rawKey: string): Promise<CallerIdentity | undefined>;
}
