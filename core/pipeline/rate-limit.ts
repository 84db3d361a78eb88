/**
 * Rate limits from a token's `ati.rate` claim (docs/auth.md#5-rate-limits),
 * checked by the tool-call paths (`/call`, `/mcp` tools/call) through
 * `checkRateLimit`.
 *
 * Unlike the reference (one JSON file shared by every agent, keyed by pattern
 * only), the state is in memory, per process, keyed by caller × pattern
 * (docs/reference-compat.md#rate-limits-per-caller): the caller is the
 * virtual-key hash when there is one, else the token's `sub`. Each bucket is an
 * exact sliding window (a log of call times); a call is counted only when every
 * matching limit admits it.
 *
 * Over a limit → AtiError `ATI_ERR_RATE_LIMITED` (HTTP 429) with the
 * reference's message `Rate limit exceeded for '<pattern>': <n>/<window>
 * (limit: <limit>/<window>)`. The seconds until the call would be admitted are
 * in `err.headers['Retry-After']` and `err.details.retry_after_seconds`; the
 * host's error paths copy `err.headers` onto the response, so a route that
 * throws the error gets `Retry-After` for free, and a route that renders its
 * own body (`/call`'s `{"result":null,"error":…}`) sets
 * `reply.headers(err.headers ?? {})` (see `retryAfterSeconds`).
 */
import { metrics } from '../metrics/metrics.js';
import { AtiError } from '../../kernel/errors.js';
import type { CallerIdentity, RateLimitRule } from '../plugin/contract.js';
import { scopeMatches } from './scopes.js';

const UNIT_SECONDS: Readonly<Record<string, number>> = {
  s: 1,
  sec: 1,
  second: 1,
  m: 60,
  min: 60,
  minute: 60,
  h: 3600,
  hr: 3600,
  hour: 3600,
  d: 86_400,
  day: 86_400,
};

/** Parses `N/unit` (`10/hour`, `5/s`); undefined when invalid (`10/week`, `10`, `abc/hour`, `10/hour/extra`). */
export function parseRateSpec(spec: string): { limit: number; windowSeconds: number } | undefined {
  const parts = spec.trim().split('/');
  if (parts.length !== 2) return undefined;
  const [count, unit] = [parts[0]!.trim(), parts[1]!.trim()];
  if (!/^\d+$/.test(count)) return undefined;
  const limit = Number(count);
  const windowSeconds = UNIT_SECONDS[unit];
  if (!Number.isSafeInteger(limit) || limit > 0xffff_ffff || windowSeconds === undefined) return undefined;
  return { limit, windowSeconds };
}

/**
 * Turns an `ati.rate` map (pattern → spec) into rules. Throws ATI_ERR_UNAUTHENTICATED
 * naming the first bad entry: a token with an unparseable rate spec is invalid,
 * never a token without limits (the reference silently dropped every limit).
 */
export function parseRateClaim(rate: Readonly<Record<string, unknown>>): RateLimitRule[] {
  const rules: RateLimitRule[] = [];
  for (const [pattern, spec] of Object.entries(rate)) {
    const parsed = typeof spec === 'string' ? parseRateSpec(spec) : undefined;
    if (!parsed) {
      throw new AtiError(
        'ATI_ERR_UNAUTHENTICATED',
        `invalid ati.rate entry ${JSON.stringify(pattern)}: expected "<count>/<s|m|h|d>"`,
      );
    }
    rules.push({ pattern, ...parsed });
  }
  return rules;
}

/** The window as the reference prints it: `second`, `minute`, `hour`, `day`, else `<n>s`. */
export function windowLabel(seconds: number): string {
  switch (seconds) {
    case 1:
      return 'second';
    case 60:
      return 'minute';
    case 3600:
      return 'hour';
    case 86_400:
      return 'day';
    default:
      return `${seconds}s`;
  }
}

/** Call times of one caller × pattern, oldest first; a deque over an array. */
class Bucket {
  private times: number[] = [];
  private head = 0;
  constructor(readonly windowMs: number) {}

  /** Drops entries at or before `now - window`; returns how many are left. */
  prune(nowMs: number): number {
    const cutoff = nowMs - this.windowMs;
    while (this.head < this.times.length && this.times[this.head]! <= cutoff) this.head++;
    if (this.head > 64 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return this.times.length - this.head;
  }

  /** The i-th oldest live entry. */
  at(i: number): number {
    return this.times[this.head + i]!;
  }

  push(nowMs: number): void {
    this.times.push(nowMs);
  }

  get newest(): number | undefined {
    return this.times.length > this.head ? this.times[this.times.length - 1] : undefined;
  }
}

export interface RateLimiterOptions {
  /** Clock in milliseconds (tests inject one). */
  now?: () => number;
  /** How often idle buckets are swept (ms). */
  sweepIntervalMs?: number;
}

/** In-memory sliding-window limiter keyed by caller × pattern. */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private readonly sweepIntervalMs: number;
  private lastSweep: number;

  constructor(opts: RateLimiterOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.sweepIntervalMs = opts.sweepIntervalMs ?? 60_000;
    this.lastSweep = this.now();
  }

  /** Number of live buckets (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  /**
   * Checks every rule whose pattern matches `tool:<toolName>` (no legacy alias,
   * as the reference). Returns the 429 error of the first exceeded rule, or
   * undefined after counting the call against every matching rule.
   */
  check(callerKey: string, rules: readonly RateLimitRule[], toolName: string): AtiError | undefined {
    if (rules.length === 0) return undefined;
    const now = this.now();
    this.maybeSweep(now);
    const name = `tool:${toolName}`;
    const admitted: Bucket[] = [];
    for (const rule of rules) {
      if (!scopeMatches(rule.pattern, name)) continue;
      const key = `${callerKey}\u0000${rule.pattern}\u0000${rule.windowSeconds}`;
      let bucket = this.buckets.get(key);
      if (!bucket) {
        bucket = new Bucket(rule.windowSeconds * 1000);
        this.buckets.set(key, bucket);
      }
      const count = bucket.prune(now);
      if (count >= rule.limit) {
        // Admitted again once enough of the oldest calls leave the window.
        const freeAt = rule.limit === 0 ? now + bucket.windowMs : bucket.at(count - rule.limit) + bucket.windowMs;
        const retry = Math.max(1, Math.ceil((freeAt - now) / 1000));
        const w = windowLabel(rule.windowSeconds);
        metrics.rateLimited.inc();
        return new AtiError(
          'ATI_ERR_RATE_LIMITED',
          `Rate limit exceeded for '${rule.pattern}': ${count}/${w} (limit: ${rule.limit}/${w})`,
          {
            details: { retry_after_seconds: retry },
            headers: { 'Retry-After': String(retry) },
          },
        );
      }
      admitted.push(bucket);
    }
    for (const b of admitted) b.push(now);
    return undefined;
  }

  private maybeSweep(now: number): void {
    if (now - this.lastSweep < this.sweepIntervalMs) return;
    this.lastSweep = now;
    for (const [key, b] of this.buckets) {
      const newest = b.newest;
      if (newest === undefined || newest <= now - b.windowMs) this.buckets.delete(key);
    }
  }
}

/** The process-wide limiter used by `checkRateLimit`. */
export const defaultRateLimiter = new RateLimiter();

/** Rate-limit identity of a caller: the virtual-key hash when there is one, else `sub`. */
export function rateLimitKey(caller: CallerIdentity): string {
  return caller.keyHash !== undefined ? `key:${caller.keyHash}` : `sub:${caller.sub}`;
}

/** Returns the 429 error when `caller` is over a limit for `toolName`, else undefined (and counts the call). */
export function checkRateLimit(caller: CallerIdentity | undefined, toolName: string): AtiError | undefined {
  if (!caller?.rateLimits || caller.rateLimits.length === 0) return undefined;
  return defaultRateLimiter.check(rateLimitKey(caller), caller.rateLimits, toolName);
}

/** Seconds to put into `Retry-After` for a rate-limit error, or undefined for other errors. */
export function retryAfterSeconds(err: AtiError): number | undefined {
  const v = err.details?.['retry_after_seconds'];
  return typeof v === 'number' ? v : undefined;
}
