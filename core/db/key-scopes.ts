/**
 * A key row becomes the same caller a JWT would, as in the reference:
 * `sub` = user_id, `jti` = the hash, `exp` = expires_at or 0, and a scope list
 * built in the reference's order — `tool:<t>` per tool, `tool:<p>:*` per
 * provider, `skill:<s>` per skill, `category:<c>` per category.
 *
 * Two fixes over the reference (docs/reference-compat.md#virtual-keys):
 * - a provider grants every tool of that provider, whatever the tool is called
 *   (the reference's `tool:<p>:*` misses tools not named `<p>:…`);
 * - a category grants every tool whose provider has that category (the
 *   reference's `category:<c>` matches nothing).
 * Both need the serving generation's tools, so the grants are expanded per
 * generation: the scopes a tool requires are added to the key's list.
 */
import type { Generation } from '../generation/generation.js';
import type { CallerIdentity } from '../plugin/contract.js';
import { toUnixSeconds } from './timestamps.js';

/** The key fields the identity is built from. */
export interface KeyGrant {
  tokenHash: string;
  userId: string;
  tools: readonly string[];
  providers: readonly string[];
  categories: readonly string[];
  skills: readonly string[];
  expiresAt: string | null;
  createdAt: string;
}

/** The scopes of a key against a generation's tools (`gen` undefined: the reference's literal scopes only). */
export function keyScopes(k: KeyGrant, gen: Generation | undefined): string[] {
  const scopes: string[] = [];
  for (const t of k.tools) scopes.push(`tool:${t}`);
  for (const p of k.providers) scopes.push(`tool:${p}:*`);
  for (const s of k.skills) scopes.push(`skill:${s}`);
  for (const c of k.categories) scopes.push(`category:${c}`);
  if (gen && (k.providers.length > 0 || k.categories.length > 0)) {
    const providers = new Set(k.providers);
    const categories = new Set(k.categories);
    for (const tool of gen.tools.values()) {
      if (!tool.scope) continue;
      if (providers.has(tool.provider) || (tool.category !== null && categories.has(tool.category)))
        scopes.push(tool.scope);
    }
  }
  return [...new Set(scopes)];
}

/** The CallerIdentity of a key (the claims a JWT would carry are in `claims`). */
export function keyIdentity(k: KeyGrant, gen: Generation | undefined): CallerIdentity {
  const scopes = keyScopes(k, gen);
  const exp = toUnixSeconds(k.expiresAt);
  return {
    sub: k.userId,
    scopes,
    unrestricted: false,
    keyHash: k.tokenHash,
    // Scope checks void the grant after this, so a key that expires mid-request is not honoured longer.
    ...(exp !== null ? { validUntil: exp } : {}),
    claims: {
      sub: k.userId,
      aud: '',
      iat: toUnixSeconds(k.createdAt) ?? 0,
      exp: exp ?? 0,
      jti: k.tokenHash,
      scope: scopes.join(' '),
    },
  };
}
