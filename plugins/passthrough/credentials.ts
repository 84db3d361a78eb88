/**
 * Credential injection of a passthrough route (ref-02 §1.10–1.12), resolved
 * from the keyring once per provision. Because every keyring read goes
 * through ProvisionContext.keyring, the host re-provisions the route (and so
 * re-resolves these values) whenever one of the entries read changes — a
 * keyring rotation plus reload applies to the next request (PRODUCT §3.8).
 *
 * Differences from the reference, on purpose:
 * - a missing credential or `${entry}` fails the route closed (500 naming the
 *   entry, never the value) instead of forwarding without it or sending the
 *   literal placeholder; forward-auth requests that need no credential still
 *   pass;
 * - a keyring value is trimmed of surrounding whitespace (a trailing newline
 *   from `echo`), and a value still unusable in a header fails only this route
 *   (§8.28), not the whole proxy;
 * - `${name}` looks the entry up exactly, then lower-cased (env keys are
 *   lower-cased), like `auth_key_name` (§8.29);
 * - the query credential uses one encoding for HTTP and WebSocket (§8.13).
 */
import {
  AtiError,
  authSettings,
  expandPlaceholders as expandTemplateText,
  injectCredential,
  injectedSecretMatcher,
  LENIENT_TEMPLATE,
  missingCredential,
  percentEncode,
  type InjectionStyle,
  type KeyringAccessor,
  type ProviderFields,
  type SecretMatcher,
} from '../../sdk/plugin.js';
import { isValidHeaderValue, REQUEST_ALWAYS_DROPPED } from './headers.js';

/**
 * Passthrough routes: `bearer`, `header`, `query` and `basic` inject the entry
 * (looked up lower-cased first, then as written; trimmed); `header` defaults to
 * `X-Api-Key`; basic sends the base64 of the entry as is (it holds `user:pass`).
 */
export const PASSTHROUGH_INJECTION: InjectionStyle = {
  secretTypes: new Set(['bearer', 'header', 'query', 'basic']),
  defaultHeaderName: 'X-Api-Key',
  headerNameForAllTypes: false,
  basic: 'userpass',
  keyLookup: 'lower-first',
  trimValue: true,
};

export interface QueryCredential {
  /** Parameter name as configured (matched against caller parameters after decoding). */
  readonly name: string;
  /** `name=value`, percent-encoded, ready to append. */
  readonly pair: string;
}

export interface Injection {
  /** Headers added on normal paths: credential header + extra_headers, flat `[name, value, …]`. */
  readonly headers: readonly string[];
  /** Headers added on forward-auth paths: extra_headers only. */
  readonly forwardAuthHeaders: readonly string[];
  /** Lower-cased caller headers dropped on normal paths (hop-by-hop, authorization, injected names). */
  readonly drop: ReadonlySet<string>;
  /** Lower-cased caller headers dropped on forward-auth paths (authorization kept). */
  readonly forwardAuthDrop: ReadonlySet<string>;
  readonly query: QueryCredential | null;
  /** Why the manifest credential is unusable; fails every request that would inject it. */
  readonly authProblem: AtiError | null;
  /** Why an extra header is unusable; fails every request. */
  readonly extrasProblem: AtiError | null;
  /** Removes the secrets this route sends upstream from error texts and log fields. */
  readonly redactor: SecretMatcher;
}

/** Percent-encodes everything except RFC 3986 unreserved characters (uppercase hex). */
export const encodeQueryComponent = percentEncode;

function badValue(entry: string, header: string): AtiError {
  return new AtiError(
    'ATI_ERR_CONFIG',
    `keyring entry '${entry}' cannot be used in header '${header}': it contains control or non-Latin-1 characters`,
  );
}

/** What a keyring entry name inside `${…}` may look like; anything else after `${` is literal text. */
const PLACEHOLDER_NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * Expands `${entry}` placeholders of an `extra_headers` value: the entry as
 * written, then lower-cased; values trimmed. Returns the value and the entries
 * used, or the name of the first missing entry.
 */
export function expandPlaceholders(
  template: string,
  keyring: KeyringAccessor,
): { value: string; used: Array<[string, string]> } | { missing: string } {
  const x = expandTemplateText(
    template,
    (name) => {
      const lower = name.toLowerCase();
      const v = keyring.get(name) ?? (lower !== name ? keyring.get(lower) : undefined);
      return v?.trim();
    },
    { ...LENIENT_TEMPLATE, name: PLACEHOLDER_NAME },
  );
  return x.missing.length > 0 ? { missing: x.missing[0]! } : { value: x.value, used: x.used };
}

/** Resolves the route's credential and extra headers against the keyring. Never throws. */
export function resolveInjection(p: ProviderFields, keyring: KeyringAccessor): Injection {
  const secrets: string[] = [];
  const authHeaders: string[] = [];
  let query: QueryCredential | null = null;
  let authProblem: AtiError | null = null;
  let extrasProblem: AtiError | null = null;

  let injectedHeaderName: string | null = null;
  const placed = injectCredential(authSettings(p, PASSTHROUGH_INJECTION), keyring);
  if (placed && 'missing' in placed) {
    authProblem = missingCredential(placed.missing, `passthrough route ${p.name}`);
  } else if (placed) {
    secrets.push(...placed.secrets);
    if (placed.header) {
      injectedHeaderName = placed.header.name.toLowerCase();
      authHeaders.push(placed.header.name, placed.header.value);
      if (!isValidHeaderValue(placed.header.value)) {
        const shown = placed.header.name === 'authorization' ? 'Authorization' : placed.header.name;
        authProblem = badValue(p.auth_key_name!, shown);
        authHeaders.length = 0;
      }
    }
    if (placed.query) {
      // The redactor also matches this percent-encoded spelling of the secret.
      const encoded = encodeQueryComponent(placed.query.value);
      query = { name: placed.query.name, pair: `${encodeQueryComponent(placed.query.name)}=${encoded}` };
    }
  }
  // oauth2 and url inject nothing on passthrough, as in the reference.

  const extras: string[] = [];
  const extraNames = new Set<string>();
  for (const [name, template] of Object.entries(p.extra_headers ?? {})) {
    const r = expandPlaceholders(template, keyring);
    if ('missing' in r) {
      extrasProblem ??= missingCredential(r.missing, `passthrough route ${p.name} extra_headers.${name}`);
      continue;
    }
    for (const [, v] of r.used) secrets.push(v);
    if (!isValidHeaderValue(r.value)) {
      extrasProblem ??=
        r.used.length > 0
          ? badValue(r.used[0]![0], name)
          : new AtiError('ATI_ERR_CONFIG', `bad header value '${name}'`);
      continue;
    }
    extraNames.add(name.toLowerCase());
    extras.push(name, r.value);
  }

  const drop = new Set(REQUEST_ALWAYS_DROPPED);
  drop.add('authorization');
  if (injectedHeaderName) drop.add(injectedHeaderName);
  for (const n of extraNames) drop.add(n);
  const forwardAuthDrop = new Set(REQUEST_ALWAYS_DROPPED);
  for (const n of extraNames) forwardAuthDrop.add(n);

  // An extra header with the credential header's name replaces it (the manifest asked for both; extra wins, once).
  const headers = injectedHeaderName && extraNames.has(injectedHeaderName) ? [...extras] : [...authHeaders, ...extras];
  return {
    headers,
    forwardAuthHeaders: extras,
    drop,
    forwardAuthDrop,
    query,
    authProblem,
    extrasProblem,
    redactor: injectedSecretMatcher(secrets),
  };
}

/**
 * The query string sent upstream: the caller's raw query without parameters
 * named like the credential, plus the credential (ref-02 §8.13).
 */
export function queryWithCredential(callerQuery: string, cred: QueryCredential): string {
  if (callerQuery === '') return cred.pair;
  if (!callerQuery.includes(cred.name) && !callerQuery.includes('%') && !callerQuery.includes('+')) {
    return `${callerQuery}&${cred.pair}`;
  }
  const kept: string[] = [];
  for (const part of callerQuery.split('&')) {
    const eq = part.indexOf('=');
    const rawName = eq >= 0 ? part.slice(0, eq) : part;
    if (decodeName(rawName) === cred.name) continue;
    kept.push(part);
  }
  kept.push(cred.pair);
  return kept.join('&');
}

function decodeName(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
