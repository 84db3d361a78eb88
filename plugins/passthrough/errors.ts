/**
 * Error responses of the passthrough route: the reference's texts (ref-02
 * §1.18) as the `error` of the host's JSON error body, with a stable code from
 * the error table. Upstream failures are classified (timeout → 504, anything
 * else → 502) and their texts redacted: no query string, no URL userinfo and
 * no credential the route injects ever reaches a client or a log line
 * (PRODUCT §3.4, ref-02 §8.3).
 */
import { AtiError, type SecretMatcher } from '../../sdk/plugin.js';

/** Reference texts (ref-02 §1.18). */
export const TEXT = {
  denied: 'forbidden: path denied by policy',
  requestTooLarge: 'payload too large: request exceeds max_request_bytes',
  responseTooLarge: 'bad gateway: upstream response exceeds max_response_bytes',
  upstreamError: 'bad gateway: upstream error',
  upstreamTimeout: 'gateway timeout: upstream',
} as const;

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

/**
 * Removes what may be secret from an error text: URL userinfo and whole query
 * strings (the upstream URL carries the caller's query and the injected query
 * credential), and every secret the route injects.
 */
export function redact(text: string, redactor: SecretMatcher): string {
  return redactor.redactText(text, { query: 'all' });
}

/** The client-facing error for an upstream failure before any response byte was sent. */
export function upstreamError(
  err: unknown,
  timeoutsMs: { connect: number; headers: number },
  redactor: SecretMatcher,
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
  return new AtiError('ATI_ERR_UPSTREAM', `${TEXT.upstreamError}: ${redact(message, redactor)}`);
}
