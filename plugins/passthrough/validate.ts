/**
 * Load-time validation of a passthrough manifest: the checks of ref-02 §1.3
 * (same texts, same order) and those the reference left to request time or
 * never did (§1.4, §8.27): URL and scheme of base_url, glob syntax, header
 * names and static values, canonical prefixes, usable host_match, a
 * credential name for injecting auth types. Every problem is reported with
 * its field path; none is thrown.
 */
import type { PluginIssue } from '../../sdk/plugin.js';
import { globToRegexSource, expandPathPattern } from '../../sdk/plugin.js';
import { PASSTHROUGH_INJECTION } from './credentials.js';
import { HEADER_NAME, isValidHeaderValue, RESERVED_EXTRA_HEADERS } from './headers.js';
import type { PassthroughManifest } from './schema.js';

/** A DNS name or IPv4 literal as it appears in a Host header (no port, no trailing dot). */
const HOST_NAME = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*$/;
const IPV6_LITERAL = /^\[[0-9A-Fa-f:.]+\]$/;

function isCanonicalPath(p: string): boolean {
  if (/[?#\s\\]/.test(p) || p.includes('//')) return false;
  return !p.split('/').some((s) => /^(?:\.|%2e){1,2}$/i.test(s));
}

function checkGlobs(
  field: 'deny_paths' | 'forward_authorization_paths',
  patterns: readonly string[] | undefined,
  issues: PluginIssue[],
): void {
  patterns?.forEach((p, i) => {
    for (const g of expandPathPattern(p)) {
      try {
        globToRegexSource(g);
      } catch (err) {
        issues.push({
          field: `provider.${field}[${i}]`,
          message: `bad ${field} glob '${g}': ${(err as Error).message}`,
        });
        return;
      }
    }
  });
}

export function validatePassthrough(m: PassthroughManifest): PluginIssue[] {
  const p = m.provider;
  const issues: PluginIssue[] = [];
  const add = (field: string, message: string) => issues.push({ field: `provider.${field}`, message });

  // ref-02 §1.3, in the reference's order and with its texts.
  const base = p.base_url.trim();
  if (base === '') add('base_url', 'passthrough provider requires non-empty base_url');
  const hostMatch = p.host_match;
  const prefix = p.path_prefix;
  if (hostMatch === undefined && prefix === undefined) {
    add('path_prefix', 'passthrough provider requires at least one of host_match or path_prefix');
  }
  if (prefix !== undefined && !prefix.startsWith('/')) {
    add('path_prefix', `passthrough path_prefix must start with '/' (got: '${prefix}')`);
  } else if (prefix !== undefined && prefix.length > 1 && !isCanonicalPath(prefix.replace(/\/+$/, ''))) {
    add(
      'path_prefix',
      `path_prefix must be a canonical path (no empty or dot segments, spaces, '?' or '#'); got: '${prefix}'`,
    );
  }
  if (hostMatch !== undefined) {
    if (hostMatch.trim() === '') add('host_match', 'passthrough host_match must be non-empty when set');
    else if (!HOST_NAME.test(hostMatch) && !IPV6_LITERAL.test(hostMatch)) {
      add(
        'host_match',
        `host_match must be a bare host name (no spaces, port, scheme or trailing dot); got: '${hostMatch}'`,
      );
    }
  }
  if (p.forward_websockets === true && !/^https?:\/\//.test(p.base_url)) {
    add(
      'forward_websockets',
      `forward_websockets requires base_url to use http:// or https:// (proxy derives ws/wss automatically); got: ${p.base_url}`,
    );
  }
  const replace = p.path_replace;
  if (replace !== undefined) {
    if (replace.length !== 2)
      add('path_replace', `path_replace must be [from, to] (exactly two strings); got ${replace.length}`);
    else {
      const [from, to] = replace;
      if (!from.startsWith('/'))
        add('path_replace', `passthrough path_replace source must start with '/' (got: '${from}')`);
      if (to !== '' && !to.startsWith('/'))
        add('path_replace', `path_replace target must be empty or start with '/' (got: '${to}')`);
    }
  }

  // What the reference only found when building the router, or per request.
  if (base !== '') {
    let url: URL | undefined;
    try {
      url = new URL(base);
    } catch (err) {
      add('base_url', `base_url is not a valid URL: ${(err as Error).message}`);
    }
    if (url) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        add('base_url', `base_url must use http:// or https:// (got: ${url.protocol}//)`);
      }
      if (url.username || url.password) {
        add(
          'base_url',
          'base_url must not contain credentials (user:password@); use auth_type = "basic" with a keyring entry',
        );
      }
      if (url.search || url.hash) add('base_url', 'base_url must not contain a query string or fragment');
    }
  }
  checkGlobs('deny_paths', p.deny_paths, issues);
  checkGlobs('forward_authorization_paths', p.forward_authorization_paths, issues);

  if (PASSTHROUGH_INJECTION.secretTypes.has(p.auth_type) && !p.auth_key_name) {
    add(
      'auth_key_name',
      `auth_type = "${p.auth_type}" needs auth_key_name (the keyring entry that holds the credential)`,
    );
  }
  if (p.auth_type === 'header' && p.auth_header_name !== undefined && !HEADER_NAME.test(p.auth_header_name)) {
    add('auth_header_name', `bad header name '${p.auth_header_name}'`);
  }
  if (
    p.auth_type === 'header' &&
    p.auth_header_name !== undefined &&
    RESERVED_EXTRA_HEADERS.has(p.auth_header_name.toLowerCase())
  ) {
    add('auth_header_name', `header '${p.auth_header_name}' is managed by the proxy and cannot carry a credential`);
  }
  if (p.auth_value_prefix !== undefined && !isValidHeaderValue(p.auth_value_prefix)) {
    add('auth_value_prefix', 'bad header value (control characters)');
  }
  if (p.auth_type === 'query' && p.auth_query_name !== undefined && p.auth_query_name.trim() === '') {
    add('auth_query_name', 'auth_query_name must not be empty');
  }
  for (const [name, value] of Object.entries(p.extra_headers ?? {})) {
    if (!HEADER_NAME.test(name)) add(`extra_headers.${name}`, `bad header name '${name}'`);
    else if (RESERVED_EXTRA_HEADERS.has(name.toLowerCase())) {
      add(`extra_headers.${name}`, `header '${name}' is managed by the proxy and cannot be set by extra_headers`);
    } else if (!isValidHeaderValue(value)) add(`extra_headers.${name}`, `bad header value '${name}'`);
  }
  const override = p.host_override;
  if (override !== undefined && (override.trim() === '' || /[\s\x00-\x1f\x7f/]/.test(override))) {
    add('host_override', `host_override must be a host[:port] without spaces or '/'; got: '${override}'`);
  }
  if (m.tools.length > 0) {
    issues.push({
      field: 'tools',
      message: 'passthrough providers have no [[tools]]; move the tools to an http or openapi manifest',
    });
  }
  return issues;
}
