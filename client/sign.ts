/**
 * The sandbox side of request signing (ref-02 §3): `X-Sandbox-Signature:
 * t=<unix>,s=<hex HMAC-SHA256 of "{t}.{METHOD}.{path}">`. The path is the
 * request path without the query string, exactly as sent.
 */
import { createHmac } from 'node:crypto';
import { decodeSigningSecret } from '../kernel/signing-secret.js';
import { AtiError } from '../kernel/errors.js';

export function signatureHeader(
  secret: Buffer,
  method: string,
  path: string,
  unixSeconds = Math.floor(Date.now() / 1000),
): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${method.toUpperCase()}.${path}`).digest('hex');
  return `t=${unixSeconds},s=${mac}`;
}

/** Decodes a configured secret like the proxy does (hex when valid hex, else UTF-8; ≥ 16 bytes). */
export function signingKey(raw: string, source: string): Buffer {
  const key = decodeSigningSecret(raw);
  if (!key)
    throw new AtiError(
      'ATI_ERR_CONFIG',
      `${source} is shorter than 16 bytes; use the same value as the proxy's sandbox_signing_shared_secret`,
    );
  return key;
}
