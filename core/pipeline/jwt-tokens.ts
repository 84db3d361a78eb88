/**
 * The logic of `ati token keygen|issue|inspect|validate` (docs/auth.md#6-ati-token), kept
 * out of the CLI so it can be tested and reused. Tokens have the reference's
 * claim set and order (iss, sub, aud, iat, exp, jti, scope, ati{v, rate}), so
 * the reference accepts ours; ES256 tokens also carry `kid` (the RFC 7638
 * thumbprint that `/.well-known/jwks.json` publishes).
 *
 * Fixes over the reference: `issue --key <PKCS#8 PEM>` works (the reference
 * parsed it as a public key); `aud` defaults to `ATI_JWT_AUDIENCE` before
 * `ati-proxy` (the reference ignored it, minting tokens its proxy refused); `--rate`
 * specs are validated at issue time (our proxy rejects tokens with bad ones);
 * HS256 secrets must be ≥ 32 bytes of strict hex.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { decodeJwt, SignJWT } from 'jose';
import { AtiError } from '../../kernel/errors.js';
import type { CallerIdentity } from '../plugin/contract.js';
import { callerFromClaims, JwtVerifier, RemoteJwks, rejectionOf } from './jwt.js';
import { parseRateSpec } from './rate-limit.js';
import {
  DEFAULT_JWT_AUDIENCE,
  ecPublicJwk,
  loadJwtKeys,
  parseEs256PrivateKey,
  parseEs256PublicKey,
  parseHexSecret,
  readJwtSettings,
  readPemFile,
  type JwtKeys,
  type JwtSettings,
} from '../../config/jwt-config.js';

export type TokenAlgorithm = 'ES256' | 'HS256';

/** `--algorithm` value (case-insensitive) → algorithm; throws the reference's message otherwise. */
export function parseAlgorithm(value: string): TokenAlgorithm {
  const v = value.toUpperCase();
  if (v === 'ES256' || v === 'HS256') return v;
  throw new AtiError('ATI_ERR_USAGE', `Unsupported algorithm: ${value}. Use ES256 or HS256.`);
}

export type GeneratedKeys =
  | { algorithm: 'ES256'; privatePem: string; publicPem: string; kid: string }
  | { algorithm: 'HS256'; secretHex: string };

/** A fresh P-256 key pair (PKCS#8 + SPKI PEM) or a 32-byte HS256 secret as 64 lower-case hex digits. */
export function generateKeys(algorithm: TokenAlgorithm): GeneratedKeys {
  if (algorithm === 'HS256') return { algorithm, secretHex: randomBytes(32).toString('hex') };
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    algorithm,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    kid: ecPublicJwk(publicKey).kid,
  };
}

/** A key to sign with: an ES256 private key (with its `kid`) or an HS256 secret. */
export type SigningKey = { algorithm: 'ES256'; key: KeyObject; kid: string } | { algorithm: 'HS256'; key: Uint8Array };

/** `pattern=count/unit` → [pattern, spec]; the reference's error text otherwise. */
export function parseRateArg(arg: string): [string, string] {
  const eq = arg.indexOf('=');
  const invalid = () =>
    new AtiError(
      'ATI_ERR_USAGE',
      `Invalid rate spec '${arg}': expected pattern=count/unit (e.g. tool:github:*=10/hour)`,
    );
  if (eq < 0) throw invalid();
  const pattern = arg.slice(0, eq).trim();
  const spec = arg.slice(eq + 1).trim();
  if (pattern === '' || !parseRateSpec(spec)) throw invalid();
  return [pattern, spec];
}

/** Resolves the issuing key: `--key` → `--secret` → environment (the reference's precedence). */
export function resolveSigningKey(opts: { keyFile?: string; secretHex?: string; env: NodeJS.ProcessEnv }): SigningKey {
  if (opts.keyFile) {
    const key = parseEs256PrivateKey(readPemFile(opts.keyFile, '--key'), '--key');
    return { algorithm: 'ES256', key, kid: ecPublicJwk(createPublicKey(key)).kid };
  }
  if (opts.secretHex !== undefined) return { algorithm: 'HS256', key: hexArg(opts.secretHex) };
  const settings = readJwtSettings(opts.env);
  const keys = settings ? loadJwtKeys(settings) : undefined;
  if (keys?.algorithm === 'ES256') {
    if (!keys.signingKey)
      throw new AtiError(
        'ATI_ERR_AUTH_CONFIG',
        'No encoding key configured (private key required for issuance): set ATI_JWT_PRIVATE_KEY',
      );
    return { algorithm: 'ES256', key: keys.signingKey, kid: keys.publicJwk!.kid };
  }
  if (keys?.algorithm === 'HS256') return { algorithm: 'HS256', key: settings!.secret! };
  throw new AtiError(
    'ATI_ERR_AUTH_CONFIG',
    'No signing key available. Provide --key <path>, --secret <hex>, or set ATI_JWT_PRIVATE_KEY / ATI_JWT_SECRET.',
  );
}

function hexArg(hex: string): Buffer {
  try {
    return parseHexSecret(hex, '--secret');
  } catch (err) {
    throw new AtiError('ATI_ERR_USAGE', `Invalid hex secret: ${(err as Error).message}`);
  }
}

export interface IssueOptions {
  sub: string;
  scope: string;
  ttlSeconds: number;
  aud: string;
  iss?: string;
  rate?: Record<string, string>;
  /** Unix seconds (tests). */
  now?: number;
  jti?: string;
}

/** Mints a token with the reference's claim order; ES256 tokens carry `kid`. */
export async function issueToken(key: SigningKey, o: IssueOptions): Promise<string> {
  if (!Number.isSafeInteger(o.ttlSeconds) || o.ttlSeconds <= 0)
    throw new AtiError('ATI_ERR_USAGE', `--ttl must be a positive integer (seconds), got ${o.ttlSeconds}`);
  const iat = o.now ?? Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {};
  if (o.iss !== undefined) payload['iss'] = o.iss;
  payload['sub'] = o.sub;
  payload['aud'] = o.aud;
  payload['iat'] = iat;
  payload['exp'] = iat + o.ttlSeconds;
  payload['jti'] = o.jti ?? randomUUID();
  payload['scope'] = o.scope;
  payload['ati'] = o.rate && Object.keys(o.rate).length > 0 ? { v: 1, rate: o.rate } : { v: 1 };
  const header = key.algorithm === 'ES256' ? { alg: 'ES256', typ: 'JWT', kid: key.kid } : { alg: 'HS256', typ: 'JWT' };
  return new SignJWT(payload).setProtectedHeader(header).sign(key.key);
}

function sortKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, value[k]]),
  );
}

/**
 * Decodes a token without checking signature, expiry or audience (the claims
 * schema still applies) into the reference's inspect view: keys sorted,
 * `iss`/`jti`/`ati` null when absent, `scopes` the split scope list.
 */
export function inspectToken(token: string): Record<string, unknown> {
  let payload: Record<string, unknown>;
  try {
    payload = decodeJwt(token.trim()) as Record<string, unknown>;
  } catch (err) {
    throw new AtiError('ATI_ERR_BAD_REQUEST', `Invalid token: ${(err as Error).message}`);
  }
  let caller: CallerIdentity;
  try {
    caller = callerFromClaims(payload);
  } catch (err) {
    throw new AtiError('ATI_ERR_BAD_REQUEST', `Invalid token: ${(err as Error).message}`);
  }
  const ati = payload['ati'] as Record<string, unknown> | null | undefined;
  const view: Record<string, unknown> = {
    ati: ati ? sortKeys(ati) : null,
    aud: payload['aud'],
    exp: payload['exp'],
    iat: payload['iat'],
    iss: payload['iss'] ?? null,
    jti: payload['jti'] ?? null,
    scope: payload['scope'],
    scopes: [...caller.scopes],
    sub: payload['sub'],
  };
  if (caller.jobId !== undefined) view['job_id'] = caller.jobId;
  if (caller.sandboxId !== undefined) view['sandbox_id'] = caller.sandboxId;
  return sortKeys(view);
}

/** Builds the verifier `ati token validate` uses: `--key` → `--secret` → environment. */
export function validationVerifier(opts: {
  keyFile?: string;
  secretHex?: string;
  env: NodeJS.ProcessEnv;
}): JwtVerifier {
  const audience = opts.env['ATI_JWT_AUDIENCE']?.trim() || DEFAULT_JWT_AUDIENCE;
  const issuer = opts.env['ATI_JWT_ISSUER']?.trim() || undefined;
  const settings: Pick<JwtSettings, 'audience' | 'issuer'> = issuer ? { audience, issuer } : { audience };
  let keys: JwtKeys;
  if (opts.keyFile) {
    const pub = parseEs256PublicKey(readPemFile(opts.keyFile, '--key'), '--key');
    keys = { algorithm: 'ES256', verifyKey: pub, publicJwk: ecPublicJwk(pub), fingerprint: 'cli' };
  } else if (opts.secretHex !== undefined) {
    const secret = hexArg(opts.secretHex);
    return new JwtVerifier({ settings, keys: loadJwtKeys({ audience, secret, ignored: [] }), cacheSize: 0 });
  } else {
    const env = readJwtSettings(opts.env);
    if (!env) {
      throw new AtiError(
        'ATI_ERR_AUTH_CONFIG',
        'No validation key available. Provide --key <path>, --secret <hex>, or set ATI_JWT_PUBLIC_KEY / ATI_JWT_SECRET.',
      );
    }
    const remote = env.jwksUrl ? new RemoteJwks(env.jwksUrl) : undefined;
    return new JwtVerifier({ settings: env, keys: loadJwtKeys(env), ...(remote ? { remote } : {}), cacheSize: 0 });
  }
  return new JwtVerifier({ settings, keys, cacheSize: 0 });
}

/** Validates a token; resolves with the caller or `{ kind, message }` of the rejection. */
export async function validateToken(
  verifier: JwtVerifier,
  token: string,
): Promise<{ ok: true; caller: CallerIdentity } | { ok: false; kind: string; message: string }> {
  try {
    return { ok: true, caller: await verifier.verify(token.trim()) };
  } catch (err) {
    const r = rejectionOf(err);
    return { ok: false, kind: r.kind, message: r.message };
  }
}
