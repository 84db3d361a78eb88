/**
 * Credential injection: where a provider's secret goes on an upstream request,
 * from its `auth_type`, `auth_key_name`, `auth_header_name`, `auth_query_name`
 * and `auth_value_prefix`. One switch for every handler; each consumes the same
 * placement its own way (an undici request, a raw passthrough request, the MCP
 * HTTP transport's headers).
 *
 * | auth_type | placement |
 * |---|---|
 * | `bearer` (and `oauth2` with its access token) | `Authorization: Bearer <secret>` |
 * | `header` | `<auth_header_name or default>: <auth_value_prefix><secret>` |
 * | `query` | query parameter `<auth_query_name or api_key>=<secret>` |
 * | `basic` | `Authorization: Basic <base64>` |
 * | `none`, `url` | nothing (`url` keys go into the URL through `${entry}`) |
 *
 * Where the reference behaves differently per handler, the handler passes an
 * `InjectionStyle` rather than having its own copy: which auth types take the
 * keyring secret, the default header name, whether `auth_header_name` renames the
 * bearer/basic header too, what basic auth encodes, and how the entry is looked up.
 */
import type { KeyringAccessor } from '../config/keyring.js';
import type { ProviderFields } from '../config/manifest-types.js';

export type AuthType = ProviderFields['auth_type'];

/** How one handler injects credentials. */
export interface InjectionStyle {
  /** Auth types that inject the keyring entry `auth_key_name`; the others inject nothing from the keyring. */
  readonly secretTypes: ReadonlySet<AuthType>;
  /** Header name of `header` auth when `auth_header_name` is unset. */
  readonly defaultHeaderName: string;
  /**
   * False: `auth_header_name` names only the `header` auth header; bearer and basic use
   * `authorization`. True: it names the header of every header type, `defaultHeaderName`
   * included (the MCP HTTP transport).
   */
  readonly headerNameForAllTypes: boolean;
  /**
   * `username`: basic auth sends base64("<secret>:"), the secret being the user name with an
   * empty password; `userpass`: base64 of the secret as is (the entry holds `user:pass`).
   */
  readonly basic: 'username' | 'userpass';
  /** `exact` (default): the entry as named; `lower-first`: the lower-cased name first, then as written. */
  readonly keyLookup?: 'exact' | 'lower-first';
  /** Trim surrounding whitespace of the keyring value (a trailing newline left by `echo`). */
  readonly trimValue?: boolean;
}

/** A provider's auth fields, resolved for one style. */
export interface AuthSettings {
  readonly type: AuthType;
  readonly keyEntry: string | undefined;
  /** Header of `header` auth, as configured (case kept). */
  readonly headerName: string;
  /** Header of `bearer` / `basic` / `oauth2` auth. */
  readonly authorizationHeaderName: string;
  readonly queryName: string;
  readonly prefix: string;
  /** True when `type` injects the keyring entry `keyEntry`. */
  readonly injectsSecret: boolean;
  readonly style: InjectionStyle;
}

export function authSettings(p: ProviderFields, style: InjectionStyle): AuthSettings {
  const headerName = p.auth_header_name ?? style.defaultHeaderName;
  return {
    type: p.auth_type,
    keyEntry: p.auth_key_name,
    headerName,
    authorizationHeaderName: style.headerNameForAllTypes ? headerName : 'authorization',
    queryName: p.auth_query_name ?? 'api_key',
    prefix: p.auth_value_prefix ?? '',
    injectsSecret: style.secretTypes.has(p.auth_type),
    style,
  };
}

export interface CredentialPlacement {
  /** Header to set, name as configured. */
  readonly header?: { readonly name: string; readonly value: string };
  /** Query parameter to add (value not encoded; the caller encodes it for its URL). */
  readonly query?: { readonly name: string; readonly value: string };
  /** What went upstream that is secret (the secret, and for basic auth its base64): hand it to the redactor. */
  readonly secrets: readonly string[];
}

/** Where `secret` goes for `auth.type` (`oauth2`: `secret` is the access token). Types that inject nothing place nothing. */
export function placeCredential(auth: AuthSettings, secret: string): CredentialPlacement {
  switch (auth.type) {
    case 'bearer':
    case 'oauth2':
      return { header: { name: auth.authorizationHeaderName, value: `Bearer ${secret}` }, secrets: [secret] };
    case 'header':
      return { header: { name: auth.headerName, value: auth.prefix + secret }, secrets: [secret] };
    case 'query':
      return { query: { name: auth.queryName, value: secret }, secrets: [secret] };
    case 'basic': {
      const b64 = Buffer.from(auth.style.basic === 'username' ? `${secret}:` : secret, 'utf8').toString('base64');
      return { header: { name: auth.authorizationHeaderName, value: `Basic ${b64}` }, secrets: [secret, b64] };
    }
    default:
      return { secrets: [] };
  }
}

/** Reads `name` from the keyring the way `style` says. */
export function lookupCredential(keyring: KeyringAccessor, name: string, style: InjectionStyle): string | undefined {
  let v: string | undefined;
  if (style.keyLookup === 'lower-first') {
    const lower = name.toLowerCase();
    v = keyring.get(lower) ?? (lower !== name ? keyring.get(name) : undefined);
  } else {
    v = keyring.get(name);
  }
  return v !== undefined && style.trimValue ? v.trim() : v;
}

/**
 * The keyring credential of a provider, placed: `undefined` when its auth type
 * injects no keyring entry (or none is named), `{ missing }` naming the absent
 * entry (each handler reports that its own way).
 */
export function injectCredential(
  auth: AuthSettings,
  keyring: KeyringAccessor,
): CredentialPlacement | { missing: string } | undefined {
  if (!auth.injectsSecret || !auth.keyEntry) return undefined;
  const secret = lookupCredential(keyring, auth.keyEntry, auth.style);
  return secret === undefined ? { missing: auth.keyEntry } : placeCredential(auth, secret);
}
