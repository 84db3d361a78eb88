/**
 * The admin bearer (`ATI_ADMIN_TOKEN`) that guards `/admin/*`: unset → 503 JSON,
 * mismatch → 401 JSON (the reference's statuses, with bodies), compared in constant time.
 * Admin routes are not sig-verified and do not use caller auth.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AtiError } from '../../kernel/errors.js';

/** Minimum length for an admin token; a shorter one is a startup error. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

export class AdminAuth {
  private readonly digest: Buffer | undefined;

  constructor(token: string | undefined) {
    const t = token?.trim();
    if (t && t.length < MIN_ADMIN_TOKEN_LENGTH) {
      throw new AtiError(
        'ATI_ERR_AUTH_CONFIG',
        `ATI_ADMIN_TOKEN is set but shorter than ${MIN_ADMIN_TOKEN_LENGTH} characters; use a long random value (e.g. \`openssl rand -hex 32\`)`,
      );
    }
    this.digest = t ? createHash('sha256').update(t).digest() : undefined;
  }

  get configured(): boolean {
    return this.digest !== undefined;
  }

  /** Throws the 503/401 AtiError unless the request carries `Authorization: Bearer <ATI_ADMIN_TOKEN>`. */
  check(request: FastifyRequest): void {
    if (!this.digest) {
      throw new AtiError('ATI_ERR_UNAVAILABLE', 'admin API disabled: set ATI_ADMIN_TOKEN to enable /admin/*');
    }
    const header = request.headers.authorization ?? '';
    const m = /^bearer\s+(.+)$/i.exec(header.trim());
    // Hash both sides so the comparison is constant-time whatever the lengths.
    const given = createHash('sha256')
      .update(m ? m[1]!.trim() : '')
      .digest();
    if (!m || !timingSafeEqual(given, this.digest)) {
      throw new AtiError('ATI_ERR_UNAUTHENTICATED', 'invalid admin token', { details: {} });
    }
  }
}
