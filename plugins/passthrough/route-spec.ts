/**
 * The static part of a passthrough route, computed once per provision from a
 * validated manifest: normalised prefix, upstream origin and base path, the
 * compiled deny / forward-auth glob sets, timeouts in milliseconds and caps.
 * Everything the request path needs is precomputed here so a request only
 * does string slicing and one regex test per glob set.
 */
import { GlobSet } from '../../sdk/plugin.js';
import { DEFAULTS, type PassthroughManifest } from './schema.js';

export interface RouteSpec {
  readonly name: string;
  /** Lower-cased host, or null for a default route. */
  readonly hostMatch: string | null;
  /** Normalised prefix (`/` when the manifest has none). */
  readonly pathPrefix: string;
  /** Strip the prefix before forwarding (false for `/` and prefix-less routes: the leading `/` stays). */
  readonly strip: boolean;
  readonly replaceFrom: string | null;
  readonly replaceTo: string;
  /** `http://host:port` (undici Pool origin). */
  readonly origin: string;
  /** `ws://host:port` / `wss://host:port`. */
  readonly wsOrigin: string;
  /** base_url path without trailing `/` ("" for none). */
  readonly basePath: string;
  /** Value of the upstream Host header. */
  readonly hostHeader: string;
  readonly forwardWebsockets: boolean;
  readonly deny: GlobSet | null;
  readonly forwardAuth: GlobSet | null;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyIdleTimeoutMs: number;
  /** Keep-alive idle time of pooled upstream connections; 0 = no keep-alive. */
  readonly keepAliveMs: number;
  readonly maxRequestBytes: number;
  readonly maxResponseBytes: number;
  readonly wsMaxMessageBytes: number;
  readonly wsIdleTimeoutMs: number;
}

/** `path_prefix` normalisation of the reference: trailing `/` removed except for `/` itself. */
export function normalisePrefix(prefix: string | undefined): string {
  if (prefix === undefined) return '/';
  if (prefix.length > 1) {
    const trimmed = prefix.replace(/\/+$/, '');
    return trimmed === '' ? '/' : trimmed;
  }
  return prefix;
}

/** Compiles a manifest that passed `validatePassthrough`. Throws only on inputs validation would have refused. */
export function compileRouteSpec(m: PassthroughManifest): RouteSpec {
  const p = m.provider;
  const base = new URL(p.base_url.trim().replace(/\/+$/, ''));
  const hostMatch = p.host_match !== undefined ? p.host_match.trim().toLowerCase() : null;
  const pathPrefix = normalisePrefix(p.path_prefix);
  // validatePassthrough made it exactly [from, to].
  const replace = p.path_replace;
  const readTimeout = p.read_timeout_seconds ?? DEFAULTS.read_timeout_seconds;
  const deny = p.deny_paths ?? [];
  const fwd = p.forward_authorization_paths ?? [];
  const basePath = base.pathname === '/' ? '' : base.pathname.replace(/\/+$/, '');
  return {
    name: p.name,
    hostMatch,
    pathPrefix,
    strip: p.strip_prefix !== false && pathPrefix !== '/',
    replaceFrom: replace ? replace[0] : null,
    replaceTo: replace ? replace[1] : '',
    origin: base.origin,
    wsOrigin: base.origin.replace(/^http/, 'ws'),
    basePath,
    hostHeader: p.host_override ?? base.host,
    forwardWebsockets: p.forward_websockets === true,
    deny: deny.length > 0 ? new GlobSet(deny, { expand: true }) : null,
    forwardAuth: fwd.length > 0 ? new GlobSet(fwd, { expand: true }) : null,
    connectTimeoutMs: (p.connect_timeout_seconds ?? DEFAULTS.connect_timeout_seconds) * 1000,
    headersTimeoutMs: (p.response_header_timeout_seconds ?? readTimeout) * 1000,
    bodyIdleTimeoutMs: (p.read_idle_timeout_seconds ?? readTimeout) * 1000,
    keepAliveMs: (p.idle_timeout_seconds ?? DEFAULTS.idle_timeout_seconds) * 1000,
    maxRequestBytes: p.max_request_bytes ?? DEFAULTS.max_request_bytes,
    maxResponseBytes: p.max_response_bytes ?? DEFAULTS.max_response_bytes,
    wsMaxMessageBytes: p.websocket_max_message_bytes ?? DEFAULTS.websocket_max_message_bytes,
    wsIdleTimeoutMs: (p.websocket_idle_timeout_seconds ?? DEFAULTS.websocket_idle_timeout_seconds) * 1000,
  };
}

const PERCENT_ESCAPE = /%[0-9A-Fa-f]{2}/g;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * Decodes percent-escaped unreserved characters (`%61` → `a`), which RFC 3986
 * §6.2.2.2 declares equivalent. Upstreams decode them, so `/%61dmin` must
 * not slip past a `/admin` deny glob, nor `/%761/chat` past a `/v1/*`
 * forward-auth glob (the master key would be injected). Every other escape
 * is kept byte for byte.
 */
export function decodeUnreserved(path: string): string {
  if (!path.includes('%')) return path;
  return path.replace(PERCENT_ESCAPE, (m) => {
    const c = String.fromCharCode(parseInt(m.slice(1), 16));
    return UNRESERVED.test(c) ? c : m;
  });
}

/**
 * The upstream path of a canonical request path (ref-02 §1.6, with the fix of
 * §8.2): strip the prefix (a `/` prefix strips nothing, so the leading slash
 * stays), then apply `path_replace` once. The result always starts with `/`
 * and has its escaped unreserved characters decoded, so the deny and
 * forward-auth globs see exactly the path the upstream will act on.
 */
export function upstreamPathOf(spec: RouteSpec, path: string): string {
  let p = path;
  if (spec.strip && p.startsWith(spec.pathPrefix)) {
    p = p.length === spec.pathPrefix.length ? '/' : p.slice(spec.pathPrefix.length);
  }
  p = decodeUnreserved(p);
  if (spec.replaceFrom !== null && p.startsWith(spec.replaceFrom)) {
    p = spec.replaceTo + p.slice(spec.replaceFrom.length);
    if (p.charCodeAt(0) !== 47 /* / */) p = `/${p}`;
  }
  return p;
}
