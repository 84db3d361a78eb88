import { describe, expect, it } from 'vitest';
import { AtiError } from '../../../kernel/errors.js';
import type { CallerIdentity } from '../../../core/plugin/contract.js';
import { callerFromClaims } from '../../../core/pipeline/jwt.js';
import {
  checkRateLimit,
  parseRateClaim,
  parseRateSpec,
  RateLimiter,
  retryAfterSeconds,
  windowLabel,
} from '../../../core/pipeline/rate-limit.js';

describe('rate specs', () => {
  it('parses N/unit with every unit alias', () => {
    expect(parseRateSpec('10/hour')).toEqual({ limit: 10, windowSeconds: 3600 });
    for (const [u, s] of [
      ['s', 1],
      ['sec', 1],
      ['second', 1],
      ['m', 60],
      ['min', 60],
      ['minute', 60],
      ['h', 3600],
      ['hr', 3600],
      ['hour', 3600],
      ['d', 86400],
      ['day', 86400],
    ] as const) {
      expect(parseRateSpec(`3/${u}`), u).toEqual({ limit: 3, windowSeconds: s });
    }
    expect(parseRateSpec('0/s')).toEqual({ limit: 0, windowSeconds: 1 });
  });

  it('rejects anything else', () => {
    for (const bad of ['10/week', '10', 'abc/hour', '10/hour/extra', '-1/s', '1.5/s', '/s', '10/', '']) {
      expect(parseRateSpec(bad), bad).toBeUndefined();
    }
  });

  it('a bad entry in ati.rate makes the whole token invalid (401), not unlimited', () => {
    expect(() => parseRateClaim({ 'tool:a': '1/s', 'tool:b': '10/week' })).toThrow(AtiError);
    const claims = { sub: 's', aud: 'ati-proxy', iat: 1, exp: 9_999_999_999, scope: '*' };
    expect(() => callerFromClaims({ ...claims, ati: { v: 1, rate: { 'tool:*': 'lots' } } })).toThrow(/ati\.rate/);
    expect(callerFromClaims({ ...claims, ati: { v: 1, rate: { 'tool:*': '5/min' } } }).rateLimits).toEqual([
      { pattern: 'tool:*', limit: 5, windowSeconds: 60 },
    ]);
    expect(callerFromClaims({ ...claims, ati: { v: 1, rate: {} } }).rateLimits).toBeUndefined();
  });

  it('renders windows as the reference does', () => {
    expect([1, 60, 3600, 86400, 7].map(windowLabel)).toEqual(['second', 'minute', 'hour', 'day', '7s']);
  });
});

describe('RateLimiter: sliding window per caller × pattern', () => {
  const rules = [{ pattern: 'tool:github:*', limit: 2, windowSeconds: 60 }];

  it('limits per caller: two callers with the same pattern do not share a bucket', () => {
    let t = 1_000_000;
    const rl = new RateLimiter({ now: () => t });
    expect(rl.check('sub:a', rules, 'github:search')).toBeUndefined();
    expect(rl.check('sub:a', rules, 'github:issues')).toBeUndefined();
    const over = rl.check('sub:a', rules, 'github:search');
    expect(over).toBeInstanceOf(AtiError);
    expect(over).toMatchObject({
      code: 'ATI_ERR_RATE_LIMITED',
      status: 429,
      message: "Rate limit exceeded for 'tool:github:*': 2/minute (limit: 2/minute)",
    });
    expect(rl.check('sub:b', rules, 'github:search')).toBeUndefined();
    expect(rl.check('sub:b', rules, 'github:search')).toBeUndefined();
    expect(rl.check('sub:b', rules, 'github:search')).toBeDefined();
    t += 1;
    expect(rl.check('sub:a', rules, 'github:search')).toBeDefined();
  });

  it('the window slides: Retry-After is the time until the oldest call leaves it', () => {
    let t = 1_000_000;
    const rl = new RateLimiter({ now: () => t });
    rl.check('k', rules, 'github:a');
    t += 20_000;
    rl.check('k', rules, 'github:a');
    t += 10_000;
    const over = rl.check('k', rules, 'github:a')!;
    expect(over.headers).toEqual({ 'Retry-After': '30' });
    expect(retryAfterSeconds(over)).toBe(30);
    expect(over.details).toEqual({ retry_after_seconds: 30 });
    t += 30_000; // the first call leaves the window (drop at ≤ now − window)
    expect(rl.check('k', rules, 'github:a')).toBeUndefined();
    expect(rl.check('k', rules, 'github:a')!.headers).toEqual({ 'Retry-After': '20' }); // the call at +20 s is now the oldest
  });

  it('only matching patterns count (no legacy alias); a rejected call is not counted by other rules', () => {
    const t = 0;
    const rl = new RateLimiter({ now: () => t });
    const two = [
      { pattern: 'tool:*', limit: 100, windowSeconds: 60 },
      { pattern: 'tool:github:search', limit: 1, windowSeconds: 60 },
    ];
    expect(rl.check('k', two, 'linear:list')).toBeUndefined();
    expect(rl.check('k', two, 'github:search')).toBeUndefined();
    expect(rl.check('k', two, 'github:search')).toBeDefined();
    expect(
      rl.check('k', [{ pattern: 'tool:github_search', limit: 0, windowSeconds: 60 }], 'github:search'),
    ).toBeUndefined();
    // `tool:*` counted linear:list and the one admitted github:search only.
    const probe = [{ pattern: 'tool:*', limit: 3, windowSeconds: 60 }];
    expect(rl.check('k', probe, 'x')).toBeUndefined();
    expect(rl.check('k', probe, 'x')).toMatchObject({
      message: "Rate limit exceeded for 'tool:*': 3/minute (limit: 3/minute)",
    });
  });

  it('a zero limit always refuses; idle buckets are swept', () => {
    let t = 0;
    const rl = new RateLimiter({ now: () => t, sweepIntervalMs: 1000 });
    expect(rl.check('k', [{ pattern: 'tool:x', limit: 0, windowSeconds: 1 }], 'x')).toMatchObject({
      headers: { 'Retry-After': '1' },
    });
    rl.check('a', rules, 'github:a');
    expect(rl.size).toBe(2);
    t += 61_000;
    rl.check('b', rules, 'github:a');
    expect(rl.size).toBe(1);
  });
});

describe('checkRateLimit (the hook /call and /mcp use)', () => {
  it('uses the limits on the caller; no limits → never limited; keys by key hash, else sub', () => {
    const rateLimits = [{ pattern: 'tool:echo', limit: 1, windowSeconds: 3600 }];
    const a: CallerIdentity = { sub: `rl-test-${process.pid}-a`, scopes: ['*'], unrestricted: true, rateLimits };
    const b: CallerIdentity = { ...a, sub: `rl-test-${process.pid}-b` };
    expect(checkRateLimit(a, 'echo')).toBeUndefined();
    expect(checkRateLimit(a, 'echo')?.status).toBe(429);
    expect(checkRateLimit(b, 'echo')).toBeUndefined();
    // Same sub, different virtual keys: separate buckets.
    const k1: CallerIdentity = { ...a, keyHash: `h1-${process.pid}` };
    const k2: CallerIdentity = { ...a, keyHash: `h2-${process.pid}` };
    expect(checkRateLimit(k1, 'echo')).toBeUndefined();
    expect(checkRateLimit(k2, 'echo')).toBeUndefined();
    expect(checkRateLimit(undefined, 'echo')).toBeUndefined();
    expect(checkRateLimit({ sub: 'x', scopes: [], unrestricted: false }, 'echo')).toBeUndefined();
  });
});
