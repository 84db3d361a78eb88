/**
 * Static credential injection for http/openapi calls, on the shared switch of
 * the SDK (`authSettings` / `placeCredential`). The secret comes from the
 * keyring at call time (so a rotated keyring applies to the next call without
 * re-provisioning), from the auth generator when one is configured, or from
 * the OAuth2 token source. Headers are *set*, not appended: whatever a
 * parameter put under the same name is replaced, and a caller query parameter
 * with the credential's name is removed.
 */
import type { AuthSettings, CredentialPlacement, InjectionStyle } from '../../sdk/plugin.js';
import { DENIED_HEADER_PARAMS } from './request-builder.js';

/**
 * The http/openapi handlers: `bearer`, `header`, `query` and `basic` take the keyring
 * secret; `header` defaults to `X-Api-Key`; basic sends base64("<secret>:").
 */
export const HTTP_INJECTION: InjectionStyle = {
  secretTypes: new Set(['bearer', 'header', 'query', 'basic']),
  defaultHeaderName: 'X-Api-Key',
  headerNameForAllTypes: false,
  basic: 'username',
};

/**
 * Header names a `header` parameter may not use: the fixed list plus the
 * effective auth header (always, not only when set explicitly) and the
 * `extra_headers` names.
 */
export function deniedHeaderNames(auth: AuthSettings, extraHeaderNames: Iterable<string>): Set<string> {
  const denied = new Set(DENIED_HEADER_PARAMS);
  if (auth.type === 'header') denied.add(auth.headerName.toLowerCase());
  for (const h of extraHeaderNames) denied.add(h.toLowerCase());
  return denied;
}

/** Writes a placed credential into the request: the header set (lower-case name), the query parameter replaced. */
export function applyCredential(
  c: CredentialPlacement,
  headers: Record<string, string>,
  query: Array<[string, string]>,
): void {
  if (c.header) headers[c.header.name.toLowerCase()] = c.header.value;
  if (c.query) {
    const name = c.query.name;
    for (let i = query.length - 1; i >= 0; i--) if (query[i]![0] === name) query.splice(i, 1);
    query.push([name, c.query.value]);
  }
}
