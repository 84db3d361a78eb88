/**
 * Refuses to expose an unauthenticated proxy (the reference served every tool
 * to anyone; docs/reference-compat.md#fail-closed-auth-configuration): a
 * non-loopback `--bind` with no caller authentication configured is a startup
 * error unless `--insecure-no-auth` is given, in which case it is a loud WARN.
 */
import { isIP } from 'node:net';
import { AtiError } from '../kernel/errors.js';
import type { Logger } from '../kernel/logger.js';

/** `127.0.0.0/8`, `::1`, `localhost` (brackets allowed) and IPv4-mapped loopback. */
export function isLoopbackBind(bind: string): boolean {
  const h = bind
    .trim()
    .replace(/^\[(.*)\]$/, '$1')
    .toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  if (isIP(h) === 6) return /^(0{0,4}:){2,7}0{0,3}1$/.test(h) || h === '::1';
  return false;
}

export function assertBindAllowed(
  bind: string,
  authConfigured: boolean,
  insecureNoAuth: boolean,
  logger?: Logger,
): void {
  if (authConfigured || isLoopbackBind(bind)) return;
  if (!insecureNoAuth) {
    throw new AtiError(
      'ATI_ERR_AUTH_CONFIG',
      `refusing to listen on ${bind} without authentication: anyone who can reach it could call every tool with your keys. ` +
        'Configure JWT (ATI_JWT_SECRET, ATI_JWT_PUBLIC_KEY or ATI_JWT_JWKS_URL), bind a loopback address, ' +
        'or pass --insecure-no-auth to accept the risk.',
    );
  }
  logger?.warn(
    { bind },
    'listening on a non-loopback address with NO authentication (--insecure-no-auth): every tool is open to anyone who can connect',
  );
}
