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
import { AtiError } from '../../sdk/plugin.js';
import type { KeyringAccessor, ProviderFields } from '../../sdk/plugin.js';
import { missingCredentialError } from './errors.js';
import { isValidHeaderValue, REQUEST_ALWAYS_DROPPED } from './headers.js';

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
  /** Secret strings this route sends upstream, scrubbed from error texts. */
  readonly secrets: readonly string[];
}

/** Percent-encodes everything except RFC 3986 unreserved characters (uppercase hex). */
export function encodeQueryComponent(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function badValue(entry: string, header: string): AtiError {
  return new AtiError(
    'ATI_ERR_CONFIG',
    `keyring entry '${entry}' cannot be used in header '${header}': it contains control or non-Latin-1 characters`,
  );
}

/** Keyring lookup of `auth_key_name`: lower-cased first, then as written (ref-02 §1.11). */
function lookupAuthKey(keyring: KeyringAccessor, name: string): string | undefined {
  const lower = name.toLowerCase();
  return keyring.get(lower) ?? (lower !== name ? keyring.get(name) : undefined);
}

/** Keyring lookup of a `${name}` placeholder: exact first, then lower-cased. */
function lookupPlaceholder(keyring: KeyringAccessor, name: string): string | undefined {
  const v = keyring.get(name);
  if (v !== undefined) return v;
  const lower = name.toLowerCase();
  return lower !== name ? keyring.get(lower) : undefined;
}

/** What a keyring entry name inside `${…}` may look like. */
const PLACEHOLDER_NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * Expands `${entry}` placeholders (single pass, no nesting; `$` without `{`
 * and an unterminated `${` stay literal). Returns the value and the entries
 * used, or the name of the first missing entry.
 */
export function expandPlaceholders(
  template: string,
  keyring: KeyringAccessor,
): { value: string; used: Array<[string, string]> } | { missing: string } {
  let out = '';
  const used: Array<[string, string]> = [];
  let i = 0;
  for (;;) {
    const start = template.indexOf('${', i);
    if (start < 0) break;
    const end = template.indexOf('}', start + 2);
    if (end < 0) break;
    const name = template.slice(start + 2, end);
    out += template.slice(i, start);
    if (!PLACEHOLDER_NAME.test(name)) {
      // not a keyring entry name (`${}`, `${ a}`, a nested `${`): literal, scan on after `${`
      out += '${';
      i = start + 2;
      continue;
    }
    const v = lookupPlaceholder(keyring, name);
    if (v === undefined) return { missing: name };
    const trimmed = v.trim();
    used.push([name, trimmed]);
    out += trimmed;
    i = end + 1;
  }
  return { value: out + template.slice(i), used };
}

/** Resolves the route's credential and extra headers against the keyring. Never throws. */
export function resolveInjection(p: ProviderFields, keyring: KeyringAccessor): Injection {
  const secrets: string[] = [];
  const authHeaders: string[] = [];
  let query: QueryCredential | null = null;
  let authProblem: AtiError | null = null;
  let extrasProblem: AtiError | null = null;

  const keyName = p.auth_key_name;
  const injecting = keyName !== undefined && ['bearer', 'header', 'query', 'basic'].includes(p.auth_type);
  let injectedHeaderName: string | null = null;
  if (injecting) {
    const raw = lookupAuthKey(keyring, keyName);
    if (raw === undefined) {
      authProblem = missingCredentialError(keyName, p.name);
    } else {
      const key = raw.trim();
      secrets.push(key);
      switch (p.auth_type) {
        case 'bearer':
          injectedHeaderName = 'authorization';
          authHeaders.push('authorization', `Bearer ${key}`);
          break;
        case 'basic': {
          injectedHeaderName = 'authorization';
          const b64 = Buffer.from(key, 'utf8').toString('base64');
          secrets.push(b64);
          authHeaders.push('authorization', `Basic ${b64}`);
          break;
        }
        case 'header': {
          const name = p.auth_header_name ?? 'X-Api-Key';
          injectedHeaderName = name.toLowerCase();
          authHeaders.push(name, `${p.auth_value_prefix ?? ''}${key}`);
          break;
        }
        case 'query': {
          const name = p.auth_query_name ?? 'api_key';
          const encoded = encodeQueryComponent(key);
          if (encoded !== key) secrets.push(encoded);
          query = { name, pair: `${encodeQueryComponent(name)}=${encoded}` };
          break;
        }
      }
      if (authHeaders.length > 0 && !isValidHeaderValue(authHeaders[1]!)) {
        authProblem = badValue(keyName, authHeaders[0] === 'authorization' ? 'Authorization' : authHeaders[0]!);
        authHeaders.length = 0;
      }
    }
  } else if (p.auth_type !== 'none') {
    // auth_type without a credential (validation refuses it for bearer/header/query/basic;
    // oauth2 and url inject nothing on passthrough, as in the reference).
  }

  const extras: string[] = [];
  const extraNames = new Set<string>();
  for (const [name, template] of Object.entries(p.extra_headers ?? {})) {
    const r = expandPlaceholders(template, keyring);
    if ('missing' in r) {
      extrasProblem ??= missingCredentialError(r.missing, `${p.name} extra_headers.${name}`);
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
    secrets: secrets.filter((s) => s.length >= 4),
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
