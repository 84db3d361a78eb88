/**
 * Static credential injection for http/openapi calls (ref-01 §5.1, §5.5).
 * The secret comes from the keyring at call time (so a rotated keyring applies
 * to the next call without re-provisioning), from the auth generator when one
 * is configured, or from the OAuth2 token source. Headers are *set*, not
 * appended: whatever a parameter put under the same name is replaced, and a
 * caller query parameter with the credential's name is removed (PRODUCT §3.6).
 */
import type { ProviderFields } from '../../sdk/plugin.js';
import { DENIED_HEADER_PARAMS } from './request-builder.js';

export interface AuthSettings {
  type: ProviderFields['auth_type'];
  keyEntry: string | undefined;
  /** Lower-case header name for `header` auth (default `x-api-key`). */
  headerName: string;
  queryName: string;
  prefix: string;
}

export function authSettings(p: ProviderFields): AuthSettings {
  return {
    type: p.auth_type,
    keyEntry: p.auth_key_name,
    headerName: (p.auth_header_name ?? 'X-Api-Key').toLowerCase(),
    queryName: p.auth_query_name ?? 'api_key',
    prefix: p.auth_value_prefix ?? '',
  };
}

/** Auth types whose secret is one keyring entry (or the generator's primary value). */
export const SECRET_AUTH_TYPES: ReadonlySet<string> = new Set(['bearer', 'header', 'query', 'basic']);

/**
 * Header names a `header` parameter may not use: the fixed list plus the
 * effective auth header (always, not only when set explicitly: ref-01 §16.10).
 */
export function deniedHeaderNames(auth: AuthSettings, extraHeaderNames: Iterable<string>): Set<string> {
  const denied = new Set(DENIED_HEADER_PARAMS);
  if (auth.type === 'header') denied.add(auth.headerName);
  for (const h of extraHeaderNames) denied.add(h.toLowerCase());
  return denied;
}

/** Writes `secret` where `auth.type` says (bearer/header/query/basic); `oauth2` passes its token as `secret`. */
export function applyAuth(
  auth: AuthSettings,
  secret: string,
  headers: Record<string, string>,
  query: Array<[string, string]>,
): void {
  switch (auth.type) {
    case 'bearer':
    case 'oauth2':
      headers['authorization'] = `Bearer ${secret}`;
      return;
    case 'header':
      headers[auth.headerName] = auth.prefix + secret;
      return;
    case 'query':
      for (let i = query.length - 1; i >= 0; i--) if (query[i]![0] === auth.queryName) query.splice(i, 1);
      query.push([auth.queryName, secret]);
      return;
    case 'basic':
      headers['authorization'] = `Basic ${Buffer.from(`${secret}:`).toString('base64')}`;
      return;
    default:
      return;
  }
}
