/**
 * One canonical request path, computed once from the raw request target
 * (docs/reference-compat.md#canonical-paths). The same string is used for
 * signing, exemption, named routing, passthrough matching, deny globs and the
 * upstream URL, so an attacker cannot make two steps see two different paths.
 * Instead of normalising ambiguous paths we refuse them: dot segments (also
 * percent-encoded), encoded `/` or `\`, a raw `\`, NUL (raw or encoded) and
 * empty segments (`//`) answer 400 ATI_ERR_BAD_PATH. A dot segment followed by
 * `;` matrix parameters (`/..;/`) counts as a dot segment: Java upstreams
 * resolve it as one.
 */
import { AtiError } from '../../kernel/errors.js';

export interface CanonicalTarget {
  /** The path exactly as sent (percent-escapes kept), always starting with `/`. */
  path: string;
  /** Query string without the `?`, or "". */
  query: string;
}

function bad(reason: string): AtiError {
  return new AtiError('ATI_ERR_BAD_PATH', `request path rejected: ${reason}`);
}

/** `.` / `..`, also percent-encoded, also with `;params` (Tomcat/Spring treat `..;` as `..`). */
const DOT_SEGMENT = /^(?:\.|%2e){1,2}(?:;.*)?$/i;

/** Parses a raw request target (`/a/b?x=1`, or absolute-form `http://h/a`). Throws ATI_ERR_BAD_PATH. */
export function canonicalTarget(rawUrl: string | undefined): CanonicalTarget {
  let target = rawUrl ?? '';
  if (!target.startsWith('/')) {
    // absolute-form (proxies may send it): drop scheme and authority
    const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(target);
    if (!m) throw bad('request target must start with "/"');
    target = target.slice(m[0].length) || '/';
    if (!target.startsWith('/')) target = `/${target}`;
  }
  const q = target.indexOf('?');
  let path = q >= 0 ? target.slice(0, q) : target;
  const query = q >= 0 ? target.slice(q + 1) : '';
  const hash = path.indexOf('#');
  if (hash >= 0) path = path.slice(0, hash);

  // Fast path: nothing suspicious at all.
  if (!/[%\\.\0]|\/\//.test(path)) return { path, query };

  if (path.includes('\0') || /%00/i.test(path)) throw bad('NUL byte in path');
  if (path.includes('\\') || /%5c/i.test(path)) throw bad('backslash in path');
  if (/%2f/i.test(path)) throw bad('encoded "/" in path');
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '' && i < segments.length - 1) throw bad('empty path segment ("//")');
    if (DOT_SEGMENT.test(s)) throw bad('dot segment ("." or "..") in path');
  }
  return { path, query };
}
