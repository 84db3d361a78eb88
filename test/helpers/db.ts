/**
 * Databases for the DB suites, one per test file, for both drivers:
 * - postgres: a fresh `ati_test_<random>` database on the machine's
 *   PostgreSQL (127.0.0.1:5432, trust auth), created through the `postgres`
 *   database and dropped (FORCE) afterwards. Override the server with
 *   ATI_TEST_PG_ADMIN_URL.
 * - pglite: an in-memory PGlite (its first start runs initdb, which is slow on
 *   a loaded machine: create it once per file and reset the schema between tests).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { openDatabase, type Database } from '../../core/db/client.js';
import { parseDbUrl } from '../../core/db/db-url.js';

export const PG_ADMIN_URL = process.env['ATI_TEST_PG_ADMIN_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export type DriverName = 'postgres' | 'pglite';
export const DRIVERS: DriverName[] = ['postgres', 'pglite'];

/** Slow enough for PGlite's initdb on a busy 2-core machine. */
export const DB_SETUP_TIMEOUT = 180_000;

export interface TestDatabase {
  driver: DriverName;
  /** `ATI_DB_URL` for this database (postgres only; PGlite in-memory cannot be shared across processes). */
  url: string;
  /** The first connection, opened by `createTestDatabase`. */
  db: Database;
  /** Another connection to the same database (a second replica); for PGlite, the same instance. */
  openAnother(): Promise<Database>;
  /** Drops every ATI object (tables, migration records, trigger function) so a test starts from an empty schema. */
  reset(): Promise<void>;
  /** Closes connections and drops the database. */
  destroy(): Promise<void>;
}

export async function adminQuery(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

/** Creates an empty database on the test server; returns its URL. */
export async function createPgDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `ati_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return { name, url: u.toString(), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

export async function createTestDatabase(driver: DriverName): Promise<TestDatabase> {
  if (driver === 'postgres') {
    const created = await createPgDatabase();
    const opened: Database[] = [];
    const open = async () => {
      const d = await openDatabase(parseDbUrl(created.url)!, { applicationName: 'ati-test' });
      opened.push(d);
      return d;
    };
    const db = await open();
    return {
      driver,
      url: created.url,
      db,
      openAnother: open,
      reset: () => resetSchema(db),
      destroy: async () => {
        for (const d of opened) await d.close().catch(() => undefined);
        await created.drop();
      },
    };
  }
  const db = await openDatabase({ kind: 'pglite', dir: null, label: 'pglite:memory' });
  return {
    driver,
    url: 'pglite:memory',
    db,
    openAnother: async () => db,
    reset: () => resetSchema(db),
    destroy: () => db.close(),
  };
}

export async function resetSchema(db: Database): Promise<void> {
  await db.orm.execute(
    sql.raw(
      'DROP TABLE IF EXISTS ati_keys, ati_deleted_keys, ati_call_log, ati_audit_log, __ati_migrations, _sqlx_migrations CASCADE',
    ),
  );
  await db.orm.execute(sql.raw('DROP FUNCTION IF EXISTS ati_keys_notify_change() CASCADE'));
}

/** Runs a multi-statement SQL script (a fixture) on either driver. */
export async function runScript(db: Database, text: string): Promise<void> {
  if (db.pglite) await db.pglite.exec(text);
  else await db.pool!.query(text);
}

/** Columns, constraints and index definitions of the ATI tables, normalised for comparison. */
export async function describeSchema(
  db: Database,
): Promise<{ columns: string[]; constraints: string[]; indexes: string[] }> {
  const columns = await db.rows<{ d: string }>(sql`
    SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '-') AS d
      FROM information_schema.columns
     WHERE table_schema = 'public' AND table_name IN ('ati_keys','ati_deleted_keys','ati_call_log','ati_audit_log')
     ORDER BY table_name, ordinal_position`);
  const constraints = await db.rows<{ d: string }>(sql`
    SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS d
      FROM pg_constraint
     WHERE conrelid::regclass::text IN ('ati_keys','ati_deleted_keys','ati_call_log','ati_audit_log')
     ORDER BY 1`);
  const indexes = await db.rows<{ d: string }>(sql`
    SELECT indexname || ' ' || regexp_replace(indexdef, ' ON public\\.', ' ON ') AS d
      FROM pg_indexes
     WHERE schemaname = 'public' AND tablename IN ('ati_keys','ati_deleted_keys','ati_call_log','ati_audit_log')
     ORDER BY indexname`);
  return {
    columns: columns.map((r) => r.d),
    constraints: constraints.map((r) => r.d),
    indexes: indexes.map((r) => r.d),
  };
}
