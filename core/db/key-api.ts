/**
 * The key admin API's shapes and limits (docs/api.md#admin-virtual-keys-adminkeys), apart from the database
 * code so the routes load without drizzle.
 */
import type { KeyRow } from './schema.js';
import { toRfc3339 } from './timestamps.js';

/** Longest accepted `expires_in_secs`: 10 years. */
export const MAX_EXPIRES_IN_SECS = 10 * 365 * 24 * 3600;

/** The JSON of a key row (the reference's `GET /admin/keys/{hash}` object). Never the raw key. */
export function keyRowJson(r: KeyRow): Record<string, unknown> {
  return {
    token_hash: r.tokenHash,
    key_alias: r.keyAlias,
    user_id: r.userId,
    blocked: r.blocked,
    expires_at: toRfc3339(r.expiresAt),
    tools: r.tools,
    providers: r.providers,
    categories: r.categories,
    skills: r.skills,
    request_count: Number(r.requestCount),
    error_count: Number(r.errorCount),
    last_used_at: toRfc3339(r.lastUsedAt),
    metadata: r.metadata,
    created_at: toRfc3339(r.createdAt),
    created_by: r.createdBy,
  };
}
