/** The pool factory handed to plugins as `ProvisionContext.createPool`. */
import { Pool } from 'undici';
import type { UpstreamTimeouts } from '../plugin/contract.js';

export const DEFAULT_UPSTREAM_TIMEOUTS: Required<UpstreamTimeouts> = {
  connectMs: 5_000,
  headersMs: 300_000,
  bodyIdleMs: 60_000,
};

/** An undici Pool for `origin` with split timeouts (undici's `0` also means "no timeout"). */
export function createUpstreamPool(origin: string, timeouts: UpstreamTimeouts = {}): Pool {
  const t = { ...DEFAULT_UPSTREAM_TIMEOUTS, ...timeouts };
  return new Pool(origin, {
    connect: { timeout: t.connectMs },
    headersTimeout: t.headersMs,
    bodyTimeout: t.bodyIdleMs,
  });
}
