/**
 * Inbound JWT validation (ref-03 §4.2–4.3) with jose, and the CallerIdentity
 * it yields. Semantics:
 * - one local algorithm (ES256 or HS256, from config/jwt-config) plus, when
 *   `ATI_JWT_JWKS_URL` is set, asymmetric keys from a remote JWKS; `alg: none`
 *   and key confusion (an HS256 token against an ES256 proxy) are rejected;
 * - `aud` must be a string equal to the configured audience (an array is
 *   rejected, as the reference does); with an issuer configured `iss` is
 *   required; 60 s clock tolerance for `exp` and `nbf`;
 * - the claims schema of ref-03 §4.3: `sub`, `aud`, `scope` strings, integer
 *   `iat`/`exp`, optional `ati` with an integer `v` 0–255 and a string map
 *   `rate`, optional `jti`/`job_id`/`sandbox_id` strings. An `ati.rate` entry
 *   that does not parse makes the token invalid (PRODUCT §3.18).
 *
 * Verified tokens are cached by sha256 of the token until `exp` + leeway in a
 * bounded LRU, so a busy agent costs one signature check per token.
 */
import {
  createLocalJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { AtiError } from '../../kernel/errors.js';
import { defineExtension, type GenerationExtension } from '../generation/extension.js';
import type { Logger } from '../../kernel/logger.js';
import type { CallerIdentity } from '../plugin/contract.js';
import { parseRateClaim } from './rate-limit.js';
import { parseScopeString } from './scopes.js';
import {
  JWT_LEEWAY_SECONDS,
  jwtKeyFiles,
  loadJwtKeys,
  type JwtKeys,
  type JwtSettings,
} from '../../config/jwt-config.js';

/** Algorithms accepted from a remote JWKS (never HMAC: a published key must not be a shared secret). */
export const REMOTE_JWKS_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'EdDSA',
];

/** A token that failed validation: `kind` is the jsonwebtoken-style name (`ExpiredSignature`, `InvalidAudience` …). */
export class JwtRejected extends AtiError {
  constructor(
    readonly kind: string,
    detail: string,
  ) {
    super('ATI_ERR_UNAUTHENTICATED', `${kind}: ${detail}`);
  }
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

function optionalString(payload: Record<string, unknown>, name: string): string | undefined {
  const v = payload[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new JwtRejected('InvalidClaims', `"${name}" must be a string`);
  return v;
}

/**
 * Checks the claims schema (ref-03 §4.3) and builds the caller. Throws JwtRejected.
 * `aud` is not compared here (jose does that); only its type.
 */
export function callerFromClaims(payload: JWTPayload): CallerIdentity {
  const p = payload as Record<string, unknown>;
  if (typeof p['sub'] !== 'string') throw new JwtRejected('MissingRequiredClaim', '"sub" must be a string');
  if (typeof p['aud'] !== 'string') throw new JwtRejected('InvalidAudience', '"aud" must be a single string');
  if (!isInt(p['iat']) || p['iat'] < 0) throw new JwtRejected('InvalidClaims', '"iat" must be a non-negative integer');
  if (!isInt(p['exp']) || p['exp'] < 0) throw new JwtRejected('InvalidClaims', '"exp" must be a non-negative integer');
  if (typeof p['scope'] !== 'string') throw new JwtRejected('MissingRequiredClaim', '"scope" must be a string');
  optionalString(p, 'iss');
  optionalString(p, 'jti');
  const jobId = optionalString(p, 'job_id');
  const sandboxId = optionalString(p, 'sandbox_id');
  let rateLimits: CallerIdentity['rateLimits'];
  const ati = p['ati'];
  if (ati !== undefined && ati !== null) {
    if (typeof ati !== 'object' || Array.isArray(ati))
      throw new JwtRejected('InvalidClaims', '"ati" must be an object');
    const a = ati as Record<string, unknown>;
    if (!isInt(a['v']) || a['v'] < 0 || a['v'] > 255)
      throw new JwtRejected('InvalidClaims', '"ati.v" must be an integer 0-255');
    const rate = a['rate'];
    if (rate !== undefined && rate !== null) {
      if (typeof rate !== 'object' || Array.isArray(rate))
        throw new JwtRejected('InvalidClaims', '"ati.rate" must be an object of strings');
      try {
        const rules = parseRateClaim(rate as Record<string, unknown>);
        if (rules.length > 0) rateLimits = Object.freeze(rules);
      } catch (err) {
        throw new JwtRejected('InvalidClaims', (err as Error).message);
      }
    }
  }
  const scopes = Object.freeze(parseScopeString(p['scope']));
  const caller: CallerIdentity = {
    sub: p['sub'],
    scopes,
    unrestricted: scopes.includes('*'),
    claims: p,
    validUntil: p['exp'] + JWT_LEEWAY_SECONDS,
  };
  if (jobId !== undefined) caller.jobId = jobId;
  if (sandboxId !== undefined) caller.sandboxId = sandboxId;
  if (rateLimits) caller.rateLimits = rateLimits;
  return Object.freeze(caller);
}

/** Maps a jose error to the jsonwebtoken-style kind used in logs and `ati token validate`. */
export function rejectionOf(err: unknown): JwtRejected {
  if (err instanceof JwtRejected) return err;
  if (err instanceof joseErrors.JWTExpired) return new JwtRejected('ExpiredSignature', 'token has expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    const kind =
      err.claim === 'aud'
        ? 'InvalidAudience'
        : err.claim === 'iss'
          ? 'InvalidIssuer'
          : err.claim === 'nbf'
            ? 'ImmatureSignature'
            : 'InvalidClaims';
    return new JwtRejected(kind, err.message);
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return new JwtRejected('InvalidSignature', 'signature verification failed');
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return new JwtRejected('InvalidAlgorithm', err.message);
  if (err instanceof joseErrors.JWKSNoMatchingKey)
    return new JwtRejected('InvalidKeyId', 'no key in the JWKS matches the token');
  if (err instanceof joseErrors.JOSEError) return new JwtRejected('InvalidToken', err.message);
  if (err instanceof AtiError) return new JwtRejected('InvalidToken', err.message);
  return new JwtRejected('InvalidToken', err instanceof Error ? err.message : String(err));
}

export interface RemoteJwksOptions {
  /** Minimum time between two fetches, successful or not (default 30 s). */
  minRefetchMs?: number;
  /** Age after which the set is refetched on the next use (default 10 min). */
  maxAgeMs?: number;
  timeoutMs?: number;
  logger?: Logger;
  now?: () => number;
}

/**
 * A remote JWKS (`ATI_JWT_JWKS_URL`): fetched on first use, refetched when a
 * token names an unknown `kid` or the set is older than `maxAgeMs` — but never
 * more than once per `minRefetchMs`, whether the last fetch worked or not, so a
 * flood of tokens with random `kid`s cannot hammer the issuer.
 */
export class RemoteJwks {
  private local: ReturnType<typeof createLocalJWKSet> | undefined;
  private fetchedAt = -Infinity;
  private lastAttempt = -Infinity;
  private pending: Promise<void> | undefined;
  /** Number of fetches made (tests, metrics). */
  fetches = 0;
  private readonly minRefetchMs: number;
  private readonly maxAgeMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(
    readonly url: URL,
    private readonly opts: RemoteJwksOptions = {},
  ) {
    this.minRefetchMs = opts.minRefetchMs ?? 30_000;
    this.maxAgeMs = opts.maxAgeMs ?? 600_000;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.now = opts.now ?? Date.now;
  }

  /** The jose key resolver. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (!this.local || this.now() - this.fetchedAt > this.maxAgeMs) await this.refresh();
    if (!this.local) throw new JwtRejected('InvalidKeyId', 'remote JWKS unavailable');
    try {
      return await this.local(header, token);
    } catch (err) {
      if (err instanceof joseErrors.JWKSNoMatchingKey && (await this.refresh())) return this.local(header, token);
      throw err;
    }
  };

  /** Fetches the set unless one was attempted within `minRefetchMs`; true when a fetch ran. */
  async refresh(): Promise<boolean> {
    if (this.pending) {
      await this.pending;
      return true;
    }
    if (this.now() - this.lastAttempt < this.minRefetchMs) return false;
    this.lastAttempt = this.now();
    this.pending = this.fetchOnce().finally(() => {
      this.pending = undefined;
    });
    await this.pending;
    return true;
  }

  private async fetchOnce(): Promise<void> {
    this.fetches++;
    try {
      const res = await fetch(this.url, {
        signal: AbortSignal.timeout(this.timeoutMs),
        headers: { accept: 'application/json, application/jwk-set+json' },
      });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      const text = await res.text();
      if (text.length > 1_000_000) throw new Error('JWKS document larger than 1 MB');
      const jwks = JSON.parse(text) as JSONWebKeySet;
      if (!jwks || !Array.isArray(jwks.keys)) throw new Error('not a JWKS document (no "keys" array)');
      this.local = createLocalJWKSet(jwks);
      this.fetchedAt = this.now();
      this.opts.logger?.info(
        { url: this.url.origin + this.url.pathname, keys: jwks.keys.length },
        'remote JWKS fetched',
      );
    } catch (err) {
      this.opts.logger?.warn(
        { url: this.url.origin + this.url.pathname, error: (err as Error).message },
        'remote JWKS fetch failed',
      );
    }
  }
}

interface CacheEntry {
  caller: CallerIdentity;
  /** Unix seconds; the entry is dropped after this. */
  until: number;
}

export interface JwtVerifierInit {
  settings: Pick<JwtSettings, 'audience' | 'issuer'>;
  keys: JwtKeys;
  remote?: RemoteJwks;
  /** Maximum cached tokens (default 10 000). */
  cacheSize?: number;
  /** Clock in ms (cache expiry). */
  now?: () => number;
}

/** Validates bearer tokens against one set of keys; one instance per key material. */
export class JwtVerifier {
  readonly keys: JwtKeys;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly cacheSize: number;
  private readonly now: () => number;
  private readonly algorithms: string[];
  private readonly getKey: JWTVerifyGetKey;

  constructor(private readonly init: JwtVerifierInit) {
    this.keys = init.keys;
    this.cacheSize = init.cacheSize ?? 10_000;
    this.now = init.now ?? Date.now;
    const local = init.keys.algorithm;
    this.algorithms = [
      ...(local ? [local] : []),
      ...(init.remote ? REMOTE_JWKS_ALGORITHMS.filter((a) => a !== local) : []),
    ];
    const { keys, remote } = init;
    const localKid = keys.publicJwk?.kid;
    this.getKey = async (header, token) => {
      // The local key answers its own algorithm; a token naming another kid goes to the remote set when there is one.
      if (local && header.alg === local && (local === 'HS256' || !remote || !header.kid || header.kid === localKid))
        return keys.verifyKey!;
      if (remote) return remote.getKey(header, token);
      throw new JwtRejected('InvalidAlgorithm', `"alg" ${String(header.alg)} is not accepted`);
    };
  }

  /** Number of cached verified tokens. */
  get cached(): number {
    return this.cache.size;
  }

  /** The cached caller of an already verified, unexpired token (synchronous fast path), else undefined. */
  peek(token: string): CallerIdentity | undefined {
    // Keyed by the token itself: a SHA-256 per request was 2.3% of a /call, and the process
    // memory that holds this map holds the keyring's upstream secrets anyway.
    return this.lookup(token);
  }

  private lookup(key: string): CallerIdentity | undefined {
    const hit = this.cache.get(key);
    if (!hit) return undefined;
    this.cache.delete(key);
    if (this.now() / 1000 > hit.until) return undefined;
    this.cache.set(key, hit); // most recently used last
    return hit.caller;
  }

  /** Verifies a compact JWS; resolves with the caller or throws JwtRejected. */
  async verify(token: string): Promise<CallerIdentity> {
    const key = token;
    const cached = this.lookup(key);
    if (cached) return cached;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.getKey, {
        algorithms: this.algorithms,
        audience: this.init.settings.audience,
        ...(this.init.settings.issuer !== undefined ? { issuer: this.init.settings.issuer } : {}),
        clockTolerance: JWT_LEEWAY_SECONDS,
        currentDate: new Date(this.now()),
        requiredClaims: ['exp', 'iat', 'sub', 'aud', 'scope'],
      }));
    } catch (err) {
      throw rejectionOf(err);
    }
    const caller = callerFromClaims(payload);
    this.cache.set(key, { caller, until: caller.validUntil! });
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    return caller;
  }
}

/** The JWT verifier of a generation (absent when JWT is not configured). */
export const JWT_VERIFIER = defineExtension<JwtVerifier>('jwt');

/**
 * The `jwt` generation extension: reads the key files for every generation
 * (so a reload picks up rotated keys; a broken key file rejects the reload and
 * the serving keys stay), and keeps the verifier — with its token cache — when
 * the key material did not change.
 */
export function jwtExtension(settings: JwtSettings, remote?: RemoteJwks): GenerationExtension<JwtVerifier> {
  let last: JwtVerifier | undefined;
  return {
    key: JWT_VERIFIER,
    async sourceFiles() {
      return jwtKeyFiles(settings);
    },
    async load() {
      const keys = loadJwtKeys(settings);
      if (last && last.keys.fingerprint === keys.fingerprint) return last;
      last = new JwtVerifier({ settings, keys, ...(remote ? { remote } : {}) });
      return last;
    },
  };
}
