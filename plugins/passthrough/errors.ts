/**
 * Error responses of the passthrough route: the reference's texts (ref-02
 * §1.18) as the `error` of the host's JSON error body, with a stable code from
 * the error table. Upstream failures are classified (timeout → 504, anything
 * else → 502) and their texts redacted: no query string, no URL userinfo and
 * no credential the route injects ever reaches a client or a log line
 * (PRODUCT §3.4, ref-02 §8.3).
 */
import { AtiError } from '../../sdk/plugin.js';

/** Reference texts (ref-02 §1.18). */
export const TEXT = {
  denied: 'forbidden: path denied by policy',
  requestTooLarge: 'payload too large: request exceeds max_request_bytes',
  responseTooLarge: 'bad gateway: upstream response exceeds max_response_bytes',
  upstreamError: 'bad gateway: upstream error',
  upstreamTimeout: 'gateway timeout: upstream',
} as const;

export function missingCredentialError(entry: string, usedBy: string): AtiError {
  return new AtiError(
    'ATI_ERR_MISSING_CREDENTIAL',
    `keyring entry '${entry}' is missing (needed by passthrough route ${usedBy}); add it with \`ati key set ${entry} <value>\` or the keyring tooling, then reload`,
  );
}

/** undici / node error codes that mean "the upstream took too long". */
const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);

export type UpstreamErrorKind = 'connect_timeout' | 'headers_timeout' | 'body_timeout' | 'connect' | 'send';

export function errorKind(err: unknown): UpstreamErrorKind {
  const code = (err as { code?: string } | null)?.code;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'connect_timeout';
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'headers_timeout';
    case 'UND_ERR_BODY_TIMEOUT':
      return 'body_timeout';
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'UND_ERR_SOCKET':
      return code === 'UND_ERR_SOCKET' ? 'send' : 'connect';
    default:
      return 'send';
  }
}

export function isTimeout(err: unknown): boolean {
  return TIMEOUT_CODES.has((err as { code?: string } | null)?.code ?? '');
}

/**
 * Removes what may be secret from an error text: URL query strings and
 * userinfo, and any of the given secret strings.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1')
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s?#]*)\?[^\s)]*/gi, '$1?[redacted]');
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('[redacted]');
  return out;
}

/** The client-facing error for an upstream failure before any response byte was sent. */
export function upstreamError(
  err: unknown,
  timeoutsMs: { connect: number; headers: number },
  secrets: readonly string[],
): AtiError {
  const kind = errorKind(err);
  if (kind === 'connect_timeout') {
    return new AtiError(
      'ATI_ERR_UPSTREAM_TIMEOUT',
      `${TEXT.upstreamTimeout} connect timed out after ${timeoutsMs.connect / 1000}s`,
    );
  }
  if (kind === 'headers_timeout') {
    return new AtiError(
      'ATI_ERR_UPSTREAM_TIMEOUT',
      `${TEXT.upstreamTimeout} sent no response headers within ${timeoutsMs.headers / 1000}s`,
    );
  }
  if (kind === 'body_timeout') {
    return new AtiError('ATI_ERR_UPSTREAM_TIMEOUT', `${TEXT.upstreamTimeout} stalled while sending the response`);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new AtiError('ATI_ERR_UPSTREAM', `${TEXT.upstreamError}: ${redact(message, secrets)}`);
}
