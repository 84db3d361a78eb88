/**
 * Optional SSRF protection for tool calls (plugins/http/README.md#ssrf-protection), switched by the
 * environment variable `ATI_SSRF_PROTECTION`: `1`/`true` blocks, `warn` logs and
 * allows, anything else is off. Checked for the target host name, literal IP
 * addresses, and — through a DNS lookup hook on the provider's connection pool —
 * every address actually connected to, so redirects and DNS rebinding are
 * covered too (the reference checks `base_url` once). IPv4-mapped IPv6
 * addresses are unwrapped before the check (the reference let `::ffff:127.0.0.1` through).
 */
import dns from 'node:dns';
import net, { BlockList } from 'node:net';
import { AtiError } from '../../sdk/plugin.js';
import type { Logger } from '../../sdk/plugin.js';

export type SsrfMode = 'off' | 'warn' | 'block';

export function ssrfModeFromEnv(env: NodeJS.ProcessEnv): SsrfMode {
  const v = (env['ATI_SSRF_PROTECTION'] ?? '').trim().toLowerCase();
  if (v === '1' || v === 'true') return 'block';
  if (v === 'warn') return 'warn';
  return 'off';
}

const PRIVATE = new BlockList();
PRIVATE.addSubnet('127.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('169.254.0.0', 16, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4');
PRIVATE.addSubnet('0.0.0.0', 8, 'ipv4');
PRIVATE.addAddress('::1', 'ipv6');
PRIVATE.addAddress('::', 'ipv6');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');
PRIVATE.addSubnet('fe80::', 10, 'ipv6');

/** True for loopback, private, link-local, unspecified, CGNAT and unique-local addresses. */
export function isPrivateAddress(ip: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return PRIVATE.check(mapped[1]!, 'ipv4');
  const family = net.isIP(ip);
  if (family === 4) return PRIVATE.check(ip, 'ipv4');
  if (family === 6) return PRIVATE.check(ip, 'ipv6');
  return false;
}

function blockedName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return (
    h === 'localhost' ||
    h === 'metadata.google.internal' ||
    h.endsWith('.internal') ||
    h.endsWith('.local') ||
    h.endsWith('.localhost')
  );
}

function blockMessage(url: string): string {
  return `SSRF protection: URL '${url}' targets a private/internal network address`;
}

/** Checks a host name or literal address before a request; `shownUrl` must not carry secrets. */
export function checkSsrfHost(mode: SsrfMode, hostname: string, shownUrl: string, logger: Logger): void {
  if (mode === 'off') return;
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (!blockedName(host) && !isPrivateAddress(host)) return;
  if (mode === 'warn') {
    logger.warn({ url: shownUrl }, 'SSRF protection (warn): request targets a private/internal address');
    return;
  }
  throw new AtiError('ATI_ERR_FORBIDDEN', blockMessage(shownUrl));
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for the connection pool that refuses (block) or logs (warn)
 * private answers. Connects to literal IPs skip DNS and are covered by checkSsrfHost.
 */
export function ssrfLookup(mode: SsrfMode, logger: Logger) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const list = addresses;
      const bad = list.find((a) => isPrivateAddress(a.address));
      if (bad && mode === 'block') {
        const e = new Error(blockMessage(hostname)) as NodeJS.ErrnoException;
        e.code = 'ATI_SSRF_BLOCKED';
        return callback(e, []);
      }
      if (bad)
        logger.warn(
          { host: hostname, address: bad.address },
          'SSRF protection (warn): host resolves to a private/internal address',
        );
      if (options.all) return callback(null, list);
      const first = list[0];
      if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}
