/**
 * `ATI_DB_URL` parsing (ref-04 §1.1): unset, empty or whitespace-only →
 * disabled; `postgres://` / `postgresql://` → PostgreSQL; `pglite:<dir>` →
 * embedded PGlite (`pglite:memory` for tests). Free of driver imports, so a
 * proxy without a database never loads them.
 */
import path from 'node:path';
import { AtiError } from '../../kernel/errors.js';
import { redactUrl } from '../../kernel/redact.js';

/** A parsed, non-blank `ATI_DB_URL`. */
export type DbTarget =
  { kind: 'postgres'; url: string; label: string } | { kind: 'pglite'; dir: string | null; label: string };

/** `ATI_DB_URL` → target, or undefined when the database is disabled. Throws ATI_ERR_CONFIG for an unsupported URL. */
export function parseDbUrl(raw: string | undefined, cwd = process.cwd()): DbTarget | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  // The reference passes a non-blank value to the driver untrimmed; so do we (trailing spaces are the driver's problem).
  if (raw.startsWith('pglite:')) {
    const rest = raw.slice('pglite:'.length);
    if (rest === 'memory' || rest === 'memory://') return { kind: 'pglite', dir: null, label: 'pglite:memory' };
    if (rest.trim() === '')
      throw new AtiError('ATI_ERR_CONFIG', 'ATI_DB_URL=pglite: needs a directory, e.g. pglite:/var/lib/ati/db');
    const dir = path.resolve(cwd, rest.startsWith('//') ? rest.slice(2) : rest);
    return { kind: 'pglite', dir, label: `pglite:${dir}` };
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new AtiError(
      'ATI_ERR_CONFIG',
      'ATI_DB_URL is not a valid URL: use postgres://user:pass@host:5432/db or pglite:<dir>',
    );
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new AtiError(
      'ATI_ERR_CONFIG',
      `ATI_DB_URL scheme "${u.protocol}" is not supported: use postgres://… or pglite:<dir>`,
    );
  }
  return { kind: 'postgres', url: raw, label: redactDbUrl(raw) };
}

/** The URL without its credentials (userinfo and password-like parameters), as every URL the proxy shows (kernel/redact.ts). */
export function redactDbUrl(raw: string): string {
  return redactUrl(raw);
}

/**
 * Sessions run in UTC (a startup parameter, so it holds on every pooled
 * connection without an extra query). A URL that sets its own `options`
 * keeps them; PgBouncer needs `ignore_startup_parameters = options`.
 */
export function utcSessionOption(url: string): { options?: string } {
  try {
    if (new URL(url).searchParams.has('options')) return {};
  } catch {
    return {};
  }
  return { options: '-c TimeZone=UTC' };
}
