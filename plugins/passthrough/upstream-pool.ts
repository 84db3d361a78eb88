/**
 * One undici Pool per route per generation, made by the host's
 * `ctx.createPool`. The host keeps the whole Provisioned object — and so this
 * pool and its warm keep-alive connections — across reloads as long as the
 * manifest bytes and the keyring values the route read are unchanged; a
 * changed route gets a new pool and the old one is closed when its generation
 * retires.
 *
 * Timeouts are split: connect (TCP+TLS), response headers, and body idle
 * (longest silence between two body chunks); 0 disables one. There is no
 * total deadline, so long LLM streams and downloads keep going while bytes
 * flow. `idle_timeout_seconds = 0` turns keep-alive off. Redirects are never
 * followed, bodies are not decoded, and only HTTP/1.1 is spoken, as in the
 * reference.
 */
import type { Pool } from 'undici';
import type { UpstreamTimeouts } from '../../sdk/plugin.js';
import type { RouteSpec } from './route-spec.js';

/** How long `close()` lets in-flight upstream requests finish before the pool is destroyed. */
const CLOSE_GRACE_MS = 2_000;

/** The `ctx.createPool` options of a route. */
export function upstreamPoolTimeouts(spec: RouteSpec): UpstreamTimeouts {
  return {
    connectMs: spec.connectTimeoutMs,
    headersMs: spec.headersTimeoutMs,
    bodyIdleMs: spec.bodyIdleTimeoutMs,
    keepAliveMs: spec.keepAliveMs,
  };
}

/** Closes a pool: lets running requests finish for a short grace, then destroys what is left. */
export async function closeUpstreamPool(pool: Pool): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), CLOSE_GRACE_MS);
    timer.unref();
  });
  try {
    const r = await Promise.race([pool.close().then(() => 'closed' as const), grace]);
    if (r === 'timeout') await pool.destroy();
  } catch {
    // already closed or destroyed
  } finally {
    clearTimeout(timer);
  }
}
