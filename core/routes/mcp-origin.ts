/**
 * DNS-rebinding protection for `/mcp` (required by the MCP Streamable HTTP
 * transport): a web page an agent's browser opens must not be able to talk to
 * a proxy on the agent's own machine.
 *
 * - `Host`: a request that arrived on a loopback address must name a loopback
 *   host (`localhost`, `127.x.x.x`, `[::1]`) or one listed in
 *   `ATI_MCP_ALLOWED_HOSTS`; a rebinding page's requests carry the attacker's name.
 * - `Origin` (sent by browsers): allowed when it names the same host as `Host`
 *   (a page served by the proxy itself), a loopback host while `Host` is one, or
 *   an origin listed in `ATI_MCP_ALLOWED_ORIGINS`; anything else is refused.
 *
 * Requests without `Origin` (agents, SDK clients, curl) are judged by `Host` alone.
 */
import { isIP } from 'node:net';

export interface OriginPolicy {
  /** Extra host names accepted on loopback connections (a reverse proxy on the same machine). */
  allowedHosts: readonly string[];
  /** Extra origins accepted, as `scheme://host[:port]`. */
  allowedOrigins: readonly string[];
}

/** The policy from `ATI_MCP_ALLOWED_HOSTS` and `ATI_MCP_ALLOWED_ORIGINS` (comma-separated). */
export function originPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): OriginPolicy {
  const list = (v: string | undefined) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s.length > 0);
  return { allowedHosts: list(env['ATI_MCP_ALLOWED_HOSTS']), allowedOrigins: list(env['ATI_MCP_ALLOWED_ORIGINS']) };
}

/** `host[:port]` → host, lower-cased, brackets kept for IPv6 (`[::1]`). */
export function hostnameOf(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(0, end + 1) : h;
  }
  const colon = h.indexOf(':');
  return colon >= 0 ? h.slice(0, colon) : h;
}

export function isLoopbackName(hostname: string): boolean {
  if (hostname === 'localhost' || hostname.endsWith('.localhost') || hostname === '[::1]') return true;
  return isIP(hostname) === 4 && hostname.startsWith('127.');
}

export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || (isIP(a) === 4 && a.startsWith('127.'));
}

/** Why the request is refused, or undefined when it may go on. */
export function originRejection(
  headers: { host?: string | undefined; origin?: string | undefined },
  localAddress: string | undefined,
  policy: OriginPolicy,
): string | undefined {
  const host = headers.host ?? '';
  const hostname = hostnameOf(host);
  const loopback = isLoopbackAddress(localAddress);
  if (loopback && !isLoopbackName(hostname) && !policy.allowedHosts.includes(hostname)) {
    return `Invalid Host: ${host.slice(0, 100)}`;
  }
  const origin = headers.origin;
  if (origin === undefined || origin === '') return undefined;
  const o = origin.trim().toLowerCase();
  if (policy.allowedOrigins.includes(o)) return undefined;
  let url: URL;
  try {
    url = new URL(o);
  } catch {
    return `Invalid Origin: ${origin.slice(0, 100)}`;
  }
  if (url.host === host.trim().toLowerCase()) return undefined;
  if (isLoopbackName(url.hostname === '[::1]' ? '[::1]' : url.hostname) && isLoopbackName(hostname)) return undefined;
  return `Invalid Origin: ${origin.slice(0, 100)}`;
}
