/** The pool factory handed to plugins as `ProvisionContext.createPool`. */
import { Pool } from 'undici';
import type { UpstreamTimeouts } from '../plugin/contract.js';

export const DEFAULT_UPSTREAM_TIMEOUTS: Required<Omit<UpstreamTimeouts, 'keepAliveMs'>> = {
  connectMs: 5_000,
  headersMs: 300_000,
  bodyIdleMs: 60_000,
};

/**
 * An undici Pool for `origin` with split timeouts (undici's `0` also means "no
 * timeout"). Keep-alive: undici's defaults unless `keepAliveMs` is given; `0`
 * turns it off (no pipelining means a connection is never reused).
 */
export function createUpstreamPool(origin: string, timeouts: UpstreamTimeouts = {}): Pool {
  const t = { ...DEFAULT_UPSTREAM_TIMEOUTS, ...timeouts };
  const keepAlive = t.keepAliveMs;
  return new Pool(origin, {
    connect: { timeout: t.connectMs },
    headersTimeout: t.headersMs,
    bodyTimeout: t.bodyIdleMs,
    ...(keepAlive === undefined
      ? {}
      : keepAlive > 0
        ? { keepAliveTimeout: keepAlive, keepAliveMaxTimeout: keepAlive }
        : { pipelining: 0 }),
  });
}
