/**
 * Opens the database named by `ATI_DB_URL` (ref-04 §1.1, §1.5; PRODUCT §4):
 *
 * - unset, empty or whitespace-only → disabled (`parseDbUrl` returns undefined);
 * - `postgres://…` / `postgresql://…` → a `pg` pool (max 10 by default, 5 s
 *   connect timeout) checked with `SELECT 1` before the proxy binds, so an
 *   unreachable database stops startup with a clear message;
 * - `pglite:<dir>` → embedded PostgreSQL (PGlite) in that directory, for one
 *   process only (a lock file refuses a second one); `pglite:memory` keeps it in
 *   memory (tests).
 *
 * Every session runs in UTC so `to_jsonb` snapshots and timestamps read the
 * same on every replica. Both drivers are exposed through one drizzle
 * `PgDatabase`, so the rest of core/db does not care which one it got.
 */
import { mkdirSync, openSync, closeSync, writeSync, readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import { sql, type SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { AtiError } from '../errors.js';
import { schema } from './schema.js';

export type DbKind = 'postgres' | 'pglite';

/** A parsed, non-blank `ATI_DB_URL`. */
export type DbTarget =
  | { kind: 'postgres'; url: string; label: string }
  | { kind: 'pglite'; dir: string | null; label: string };

/** The drizzle database both drivers are exposed as. */
export type AtiOrm = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface DbOptions {
  /** Pool size for postgres (default 10, `ATI_DB_POOL_MAX`). */
  poolMax?: number;
  /** Connect timeout (default 5000 ms). */
  connectTimeoutMs?: number;
  /** `application_name` shown in `pg_stat_activity`. */
  applicationName?: string;
}

/**
 * The open database. `orm` is for queries; `pool` / `pglite` are for the
 * pieces that need the driver itself (the LISTEN connection, the migration
 * lock session).
 */
export interface Database {
  readonly kind: DbKind;
  /** The URL with any password removed, for logs and errors. */
  readonly label: string;
  readonly orm: AtiOrm;
  readonly target: DbTarget;
  /** Set for `postgres`. */
  readonly pool?: pg.Pool;
  /** Set for `pglite`. */
  readonly pglite?: PGlite;
  /** Runs a raw statement and returns its rows. */
  rows<T = Record<string, unknown>>(query: SQL): Promise<T[]>;
  /** `SELECT 1` bounded by `timeoutMs`; never throws. */
  ping(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** `ATI_DB_URL` → target, or undefined when the database is disabled. Throws ATI_ERR_CONFIG for an unsupported URL. */
export function parseDbUrl(raw: string | undefined, cwd = process.cwd()): DbTarget | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  // The reference passes a non-blank value to the driver untrimmed; so do we (trailing spaces are the driver's problem).
  if (raw.startsWith('pglite:')) {
    const rest = raw.slice('pglite:'.length);
    if (rest === 'memory' || rest === 'memory://') return { kind: 'pglite', dir: null, label: 'pglite:memory' };
    if (rest.trim() === '') throw new AtiError('ATI_ERR_CONFIG', 'ATI_DB_URL=pglite: needs a directory, e.g. pglite:/var/lib/ati/db');
    const dir = path.resolve(cwd, rest.startsWith('//') ? rest.slice(2) : rest);
    return { kind: 'pglite', dir, label: `pglite:${dir}` };
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new AtiError('ATI_ERR_CONFIG', 'ATI_DB_URL is not a valid URL: use postgres://user:pass@host:5432/db or pglite:<dir>');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new AtiError('ATI_ERR_CONFIG', `ATI_DB_URL scheme "${u.protocol}" is not supported: use postgres://… or pglite:<dir>`);
  }
  return { kind: 'postgres', url: raw, label: redactDbUrl(raw) };
}

/** The URL without its password (and without query parameters that may carry one). */
export function redactDbUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.password) u.password = '***';
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * Opens and checks the database. Throws ATI_ERR_DB (exit 1) with a clear
 * message when it cannot be reached or opened.
 */
export async function openDatabase(target: DbTarget, opts: DbOptions = {}): Promise<Database> {
  return target.kind === 'postgres' ? openPostgres(target, opts) : openPglite(target);
}

async function openPostgres(target: Extract<DbTarget, { kind: 'postgres' }>, opts: DbOptions): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: target.url,
    max: opts.poolMax ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 600_000,
    maxLifetimeSeconds: 1_800,
    application_name: opts.applicationName ?? 'ati-proxy',
    keepAlive: true,
    ...utcSessionOption(target.url),
  });
  // A pooled connection that dies while idle must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new AtiError('ATI_ERR_DB', `database ${target.label} is unreachable: ${describeDbError(err)} (check ATI_DB_URL)`, { cause: err });
  }
  const orm = drizzlePg({ client: pool, schema }) as unknown as AtiOrm;
  let closed = false;
  return {
    kind: 'postgres',
    label: target.label,
    target,
    orm,
    pool,
    rows: async <T>(q: SQL) => resultRows<T>(await orm.execute(q)),
    ping: (timeoutMs) => bounded(pool.query('SELECT 1').then(() => true), timeoutMs),
    close: async () => {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

async function openPglite(target: Extract<DbTarget, { kind: 'pglite' }>): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  let releaseLock: (() => void) | undefined;
  if (target.dir) {
    mkdirSync(target.dir, { recursive: true });
    releaseLock = lockDataDir(target.dir);
  }
  let db: PGlite;
  try {
    db = await PGlite.create(target.dir ?? undefined);
    await db.exec("SET TIME ZONE 'UTC'");
  } catch (err) {
    releaseLock?.();
    throw new AtiError('ATI_ERR_DB', `cannot open embedded database ${target.label}: ${describeDbError(err)}`, { cause: err });
  }
  const orm = drizzlePglite({ client: db, schema }) as unknown as AtiOrm;
  return {
    kind: 'pglite',
    label: target.label,
    target,
    orm,
    pglite: db,
    rows: async <T>(q: SQL) => resultRows<T>(await orm.execute(q)),
    ping: async () => !db.closed,
    close: async () => {
      if (!db.closed) await db.close();
      releaseLock?.();
      releaseLock = undefined;
    },
  };
}

/**
 * PGlite has no server: two processes opening one data directory would
 * corrupt it. An exclusive lock file with our pid refuses the second one;
 * a lock left by a dead process is taken over.
 */
function lockDataDir(dir: string): () => void {
  const file = path.join(dir, '.ati-pglite.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(file);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new AtiError('ATI_ERR_DB', `cannot lock ${dir}: ${(err as Error).message}`);
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new AtiError(
          'ATI_ERR_DB',
          `embedded database ${dir} is in use by process ${pid}; PGlite serves one process only (use postgres:// for several replicas)`,
        );
      }
      unlinkSync(file); // stale: its owner is gone
    }
  }
  throw new AtiError('ATI_ERR_DB', `cannot lock ${dir}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
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

function bounded(p: Promise<boolean>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
    timer.unref();
  });
  return Promise.race([p.catch(() => false), timeout]).finally(() => clearTimeout(timer));
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
      if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', 'EHOSTUNREACH', 'EAI_AGAIN'].includes(code)) return true;
    }
    const msg = (e as { message?: unknown }).message;
    if (typeof msg === 'string' && /timeout exceeded when trying to connect|Connection terminated|PGlite is closed|Client has encountered a connection error/i.test(msg)) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** `SQL` for a text[] literal parameter (drizzle binds JS arrays as arrays for both drivers). */
export function textArray(values: readonly string[]): SQL {
  return sql`${values as string[]}::text[]`;
}

/** The rows of a raw `execute` result (both drivers return `{ rows }`). */
export function resultRows<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}
