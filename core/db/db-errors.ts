/**
 * Database failures as AtiErrors a client may see: never the SQL text or the
 * driver's message (the reference leaked `sqlx error: …`).
 * The driver error stays in `cause` for the log.
 */
import { AtiError } from '../../kernel/errors.js';

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
  if (state === '23505' && opts.uniqueViolation)
    return new AtiError('ATI_ERR_CONFLICT', opts.uniqueViolation, { cause: err });
  if (isConnectionError(err)) return new AtiError('ATI_ERR_DB', 'database unavailable', { cause: err });
  if (state === '42P01' || state === '42703' || state === '42883') {
    return new AtiError(
      'ATI_ERR_DB_SCHEMA',
      'database schema is not migrated: run `ati db migrate` or start the proxy with --migrate',
      { cause: err },
    );
  }
  return new AtiError('ATI_ERR_INTERNAL', 'database error', { cause: err });
}

/**
 * A driver error as one line without SQL text or parameters (which may
 * carry data): the code and the driver's message.
 */
export function describeDbError(err: unknown): string {
  const e = err as { code?: string; message?: string; errors?: unknown[] };
  // AggregateError from a dual-stack connect: the first member says enough.
  if (!e.message && Array.isArray(e.errors) && e.errors.length > 0) return describeDbError(e.errors[0]);
  const msg = (e.message ?? String(err)).split('\n')[0]!;
  return e.code && !msg.includes(e.code) ? `${e.code}: ${msg}` : msg;
}

/** SQLSTATE / errno codes that mean "the database is not there" rather than "the statement failed". */
export function isConnectionError(err: unknown): boolean {
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e && typeof e === 'object' && !seen.has(e)) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (/^(08|57P0|53300|3D000)/.test(code)) return true;
      if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', 'EHOSTUNREACH', 'EAI_AGAIN'].includes(code))
        return true;
    }
    const msg = (e as { message?: unknown }).message;
    if (
      typeof msg === 'string' &&
      /timeout exceeded when trying to connect|Connection terminated|PGlite is closed|Client has encountered a connection error/i.test(
        msg,
      )
    ) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
