/**
 * JWT configuration from the environment
 * (docs/auth.md#31-jwt-configuration-environment) and the key material it
 * names. Unlike the reference, every `ATI_JWT_*` variable that is set but
 * unusable is a startup error `ATI_ERR_AUTH_CONFIG`
 * (docs/reference-compat.md#fail-closed-auth-configuration): an unreadable or
 * wrong PEM, bad hex, an HS256 secret under 32 bytes, an empty value, a JWKS
 * URL that is not https (loopback http is allowed), or audience/issuer settings
 * with no key to verify against.
 *
 * | Variable | Meaning |
 * |---|---|
 * | `ATI_JWT_PUBLIC_KEY` | path of an ES256 (P-256) public key PEM (SPKI); enables ES256 and `/.well-known/jwks.json` |
 * | `ATI_JWT_PRIVATE_KEY` | path of the matching private key PEM (PKCS#8); for issuance; alone, its public half is used |
 * | `ATI_JWT_SECRET` | HS256 key as hex (≥ 32 bytes); used only when no ES256 key is set |
 * | `ATI_JWT_JWKS_URL` | remote JWKS for inbound tokens (asymmetric algorithms), besides or instead of a local key |
 * | `ATI_JWT_ISSUER` | expected `iss`; tokens must then carry it |
 * | `ATI_JWT_AUDIENCE` | expected `aud` (default `ati-proxy`) |
 *
 * Key files are read synchronously: once at startup (to fail fast) and again
 * for every generation (core/pipeline/jwt `jwtExtension`) so a reload picks up
 * rotated key files.
 */
import { createHash, createPrivateKey, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AtiError } from '../kernel/errors.js';

export const DEFAULT_JWT_AUDIENCE = 'ati-proxy';
/** Clock tolerance of validation, also added to `exp` for scope checks (one notion of expiry). */
export const JWT_LEEWAY_SECONDS = 60;
export const MIN_HS256_SECRET_BYTES = 32;

export interface JwtSettings {
  audience: string;
  issuer?: string;
  publicKeyPath?: string;
  privateKeyPath?: string;
  /** HS256 key bytes (only when no ES256 key file is set). */
  secret?: Buffer;
  jwksUrl?: URL;
  /** Variables that are valid but not used (e.g. `ATI_JWT_SECRET` when an ES256 key wins). */
  ignored: string[];
}

/** An EC public JWK as published in JWKS (RFC 7517/7518) with its RFC 7638 thumbprint as `kid`. */
export interface EcPublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
}

export interface JwtKeys {
  /** The local algorithm; undefined when only a remote JWKS verifies tokens. */
  algorithm: 'ES256' | 'HS256' | undefined;
  /** ES256 public key or HS256 secret. */
  verifyKey?: KeyObject;
  /** ES256 private key (when given) or the HS256 secret. */
  signingKey?: KeyObject;
  /** ES256 only: the public JWK (with `kid`) and the SPKI DER (legacy `x5c`). */
  publicJwk?: EcPublicJwk;
  spkiDer?: Buffer;
  /** Hash of the inputs; equal fingerprints mean the same keys. */
  fingerprint: string;
}

function configError(message: string): AtiError {
  return new AtiError('ATI_ERR_AUTH_CONFIG', message);
}

/** Strict hex → bytes (`Buffer.from(x, 'hex')` silently truncates at the first bad digit). */
export function parseHexSecret(value: string, label: string, minBytes = MIN_HS256_SECRET_BYTES): Buffer {
  const v = value.trim();
  if (v.length === 0) throw configError(`${label} is empty`);
  if (v.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(v)) {
    throw configError(
      `${label} must be hex (an even number of 0-9a-f digits), e.g. the output of \`ati token keygen --algorithm HS256\``,
    );
  }
  const bytes = Buffer.from(v, 'hex');
  if (bytes.length < minBytes) {
    throw configError(
      `${label} is ${bytes.length} bytes; at least ${minBytes} bytes (${minBytes * 2} hex digits) are required`,
    );
  }
  return bytes;
}

/** Reads a PEM file named by `label`; errors name the variable and the path, never the content. */
export function readPemFile(path: string, label: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw configError(`${label}: cannot read ${path}: ${code}`);
  }
}

function assertP256(key: KeyObject, label: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const what =
      key.asymmetricKeyType === 'ec'
        ? `EC curve ${key.asymmetricKeyDetails?.namedCurve ?? '?'}`
        : `${key.asymmetricKeyType ?? 'unknown'} key`;
    throw configError(`${label}: ES256 needs a P-256 (prime256v1) EC key, got ${what}`);
  }
}

/** Parses an ES256 public key (SPKI PEM; a private key PEM yields its public half). */
export function parseEs256PublicKey(pem: string, label: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw configError(`${label}: not a PEM public key (${(err as Error).message})`);
  }
  assertP256(key, label);
  return key;
}

/** Parses an ES256 private key PEM (PKCS#8 `PRIVATE KEY`; SEC1 `EC PRIVATE KEY` is accepted too). */
export function parseEs256PrivateKey(pem: string, label: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw configError(`${label}: not a PEM private key (${(err as Error).message})`);
  }
  assertP256(key, label);
  return key;
}

/** RFC 7638 thumbprint (sha256, base64url) of an EC public JWK. */
export function ecThumbprint(jwk: { crv: string; kty: string; x: string; y: string }): string {
  const canonical = `{"crv":"${jwk.crv}","kty":"${jwk.kty}","x":"${jwk.x}","y":"${jwk.y}"}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

/** The public JWK of a P-256 key, `kid` = its thumbprint. */
export function ecPublicJwk(publicKey: KeyObject): EcPublicJwk {
  const jwk = publicKey.export({ format: 'jwk' }) as { crv: string; x: string; y: string };
  const base = { kty: 'EC' as const, crv: 'P-256' as const, x: jwk.x, y: jwk.y };
  return { ...base, kid: ecThumbprint(base) };
}

function nonEmpty(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  if (v === undefined) return undefined;
  if (v.trim() === '') throw configError(`${name} is set but empty; unset it or give it a value`);
  return v.trim();
}

function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * Reads `ATI_JWT_*`. Undefined = no JWT configured (dev mode). Throws
 * ATI_ERR_AUTH_CONFIG for anything set but unusable (key files are only
 * checked for presence here; `loadJwtKeys` parses them).
 */
export function readJwtSettings(env: NodeJS.ProcessEnv): JwtSettings | undefined {
  const publicKeyPath = nonEmpty(env, 'ATI_JWT_PUBLIC_KEY');
  const privateKeyPath = nonEmpty(env, 'ATI_JWT_PRIVATE_KEY');
  const secretHex = env['ATI_JWT_SECRET'];
  const jwksRaw = nonEmpty(env, 'ATI_JWT_JWKS_URL');
  const issuer = nonEmpty(env, 'ATI_JWT_ISSUER');
  const audience = nonEmpty(env, 'ATI_JWT_AUDIENCE');
  const ignored: string[] = [];

  let secret: Buffer | undefined;
  if (secretHex !== undefined) {
    secret = parseHexSecret(secretHex, 'ATI_JWT_SECRET');
    if (publicKeyPath || privateKeyPath) {
      ignored.push('ATI_JWT_SECRET');
      secret = undefined;
    }
  }
  let jwksUrl: URL | undefined;
  if (jwksRaw !== undefined) {
    try {
      jwksUrl = new URL(jwksRaw);
    } catch {
      throw configError(`ATI_JWT_JWKS_URL is not a URL: ${JSON.stringify(jwksRaw)}`);
    }
    if (jwksUrl.protocol !== 'https:' && !(jwksUrl.protocol === 'http:' && isLoopbackHost(jwksUrl.hostname))) {
      throw configError(
        `ATI_JWT_JWKS_URL must use https (plain http only for loopback hosts), got ${jwksUrl.protocol}//${jwksUrl.host}`,
      );
    }
    if (jwksUrl.username || jwksUrl.password) throw configError('ATI_JWT_JWKS_URL must not carry credentials');
  }
  if (!publicKeyPath && !privateKeyPath && !secret && !jwksUrl) {
    const stray = ['ATI_JWT_ISSUER', 'ATI_JWT_AUDIENCE'].filter((n) => env[n] !== undefined);
    if (stray.length > 0) {
      throw configError(
        `${stray.join(' and ')} ${stray.length > 1 ? 'are' : 'is'} set but no key is configured (ATI_JWT_PUBLIC_KEY, ATI_JWT_SECRET or ATI_JWT_JWKS_URL)`,
      );
    }
    return undefined;
  }
  const settings: JwtSettings = { audience: audience ?? DEFAULT_JWT_AUDIENCE, ignored };
  if (issuer !== undefined) settings.issuer = issuer;
  if (publicKeyPath) settings.publicKeyPath = publicKeyPath;
  if (privateKeyPath) settings.privateKeyPath = privateKeyPath;
  if (secret) settings.secret = secret;
  if (jwksUrl) settings.jwksUrl = jwksUrl;
  return settings;
}

/** Reads and parses the key material the settings name. Throws ATI_ERR_AUTH_CONFIG. */
export function loadJwtKeys(settings: JwtSettings): JwtKeys {
  const h = createHash('sha256');
  if (settings.publicKeyPath || settings.privateKeyPath) {
    let publicKey: KeyObject | undefined;
    let privateKey: KeyObject | undefined;
    if (settings.publicKeyPath) {
      const pem = readPemFile(settings.publicKeyPath, 'ATI_JWT_PUBLIC_KEY');
      publicKey = parseEs256PublicKey(pem, 'ATI_JWT_PUBLIC_KEY');
      h.update('pub\0').update(pem);
    }
    if (settings.privateKeyPath) {
      const pem = readPemFile(settings.privateKeyPath, 'ATI_JWT_PRIVATE_KEY');
      privateKey = parseEs256PrivateKey(pem, 'ATI_JWT_PRIVATE_KEY');
      h.update('priv\0').update(pem);
      const derived = createPublicKey(privateKey);
      if (publicKey && !publicKey.equals(derived)) {
        throw configError('ATI_JWT_PRIVATE_KEY does not belong to ATI_JWT_PUBLIC_KEY (their public points differ)');
      }
      publicKey ??= derived;
    }
    const verifyKey = publicKey!;
    const keys: JwtKeys = {
      algorithm: 'ES256',
      verifyKey,
      publicJwk: ecPublicJwk(verifyKey),
      spkiDer: verifyKey.export({ type: 'spki', format: 'der' }),
      fingerprint: h.digest('hex'),
    };
    if (privateKey) keys.signingKey = privateKey;
    return keys;
  }
  if (settings.secret) {
    const key = createSecretKey(settings.secret);
    return {
      algorithm: 'HS256',
      verifyKey: key,
      signingKey: key,
      fingerprint: h.update('hs\0').update(settings.secret).digest('hex'),
    };
  }
  return { algorithm: undefined, fingerprint: 'remote-only' };
}

/** Paths whose content is part of a generation's change detection. */
export function jwtKeyFiles(settings: JwtSettings | undefined): string[] {
  return [settings?.publicKeyPath, settings?.privateKeyPath].filter((p): p is string => p !== undefined);
}
