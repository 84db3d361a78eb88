/**
 * Database failures as AtiErrors a client may see: never the SQL text or the
 * driver's message (ref-04 §8.2: the reference leaked `sqlx error: …`).
 * The driver error stays in `cause` for the log.
 */
import { AtiError } from '../errors.js';
import { isConnectionError } from './client.js';

/** The SQLSTATE of a driver error, looking through wrappers (drizzle wraps pg errors). */
export function sqlState(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function toAtiDbError(err: unknown, opts: { uniqueViolation?: string } = {}): AtiError {
  if (err instanceof AtiError) return err;
  const state = sqlState(err);
  if (state === '23505' && opts.uniqueViolation) return new AtiError('ATI_ERR_CONFLICT', opts.uniqueViolation, { cause: err });
  if (isConnectionError(err)) return new AtiError('ATI_ERR_DB', 'database unavailable', { cause: err });
  if (state === '42P01' || state === '42703' || state === '42883') {
    return new AtiError('ATI_ERR_DB_SCHEMA', 'database schema is not migrated: run `ati db migrate` or start the proxy with --migrate', { cause: err });
  }
  return new AtiError('ATI_ERR_INTERNAL', 'database error', { cause: err });
}
