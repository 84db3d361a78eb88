/**
 * Opens the database named by `ATI_DB_URL` (docs/persistence.md):
 *
 * - unset, empty or whitespace-only → disabled (`parseDbUrl` in core/db/db-url.ts returns undefined);
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
import type pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { AtiError } from '../../kernel/errors.js';
import { describeDbError } from './db-errors.js';
import { utcSessionOption, type DbTarget } from './db-url.js';
import { schema } from './schema.js';

export type { DbTarget } from './db-url.js';

export type DbKind = 'postgres' | 'pglite';

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

/**
 * Opens and checks the database. Throws ATI_ERR_DB (exit 1) with a clear
 * message when it cannot be reached or opened.
 */
export async function openDatabase(target: DbTarget, opts: DbOptions = {}): Promise<Database> {
  return target.kind === 'postgres' ? openPostgres(target, opts) : openPglite(target);
}

async function openPostgres(target: Extract<DbTarget, { kind: 'postgres' }>, opts: DbOptions): Promise<Database> {
  // Drivers load on first use: a proxy without a database (or with the other driver) never pays for them.
  const [{ default: pgDriver }, { drizzle: drizzlePg }] = await Promise.all([
    import('pg'),
    import('drizzle-orm/node-postgres'),
  ]);
  const pool = new pgDriver.Pool({
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
    throw new AtiError(
      'ATI_ERR_DB',
      `database ${target.label} is unreachable: ${describeDbError(err)} (check ATI_DB_URL)`,
      { cause: err },
    );
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
    ping: (timeoutMs) =>
      bounded(
        pool.query('SELECT 1').then(() => true),
        timeoutMs,
      ),
    close: async () => {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

async function openPglite(target: Extract<DbTarget, { kind: 'pglite' }>): Promise<Database> {
  const [{ PGlite }, { drizzle: drizzlePglite }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('drizzle-orm/pglite'),
  ]);
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
    throw new AtiError('ATI_ERR_DB', `cannot open embedded database ${target.label}: ${describeDbError(err)}`, {
      cause: err,
    });
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
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new AtiError('ATI_ERR_DB', `cannot lock ${dir}: ${(err as Error).message}`);
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

function bounded(p: Promise<boolean>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
    timer.unref();
  });
  return Promise.race([p.catch(() => false), timeout]).finally(() => clearTimeout(timer));
}

/** The rows of a raw `execute` result (both drivers return `{ rows }`). */
export function resultRows<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}
