/**
 * Applies the SQL migrations drizzle-kit generated into drizzle/ (docs/persistence.md#schema-and-migrations).
 *
 * - One Postgres advisory lock (a constant id) is held for the whole run, so
 *   replicas started together with `--migrate` run one after the other; the
 *   second finds nothing left to do.
 * - Each migration runs in its own transaction and is recorded in
 *   `public.__ati_migrations` with drizzle's layout (`id`, `hash`,
 *   `created_at` = the journal's `when`), so drizzle-kit agrees with us.
 *   Keeping the table in `public` means no `CREATE` privilege on the database
 *   is needed (drizzle's default puts it in a new `drizzle` schema).
 * - A database the reference already migrated (`_sqlx_migrations` has
 *   version 20260501000001 with success) gets our init migration recorded as
 *   applied without running it: its tables are the same.
 * - Refuses, like sqlx: a recorded migration whose file changed, a migration
 *   recorded in the database that this build does not know (a newer ati
 *   migrated it), and a failed ("dirty") reference migration.
 */
import { sha256 } from '../../kernel/hash.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import { AtiError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import type { Database } from './client.js';
import { describeDbError } from './db-errors.js';

/** Advisory lock id for migrations ("ati" + "mig" in ASCII, fits int8). */
export const MIGRATION_LOCK_ID = '6386025399093639';
/** The reference's single migration (`20260501000001_init_persistence.sql`). */
export const REFERENCE_BASELINE_VERSION = '20260501000001';
export const MIGRATIONS_TABLE = '__ati_migrations';

export interface MigrationFile {
  tag: string;
  /** The journal's `when` (ms); what drizzle records as `created_at`. */
  when: number;
  /** sha256 hex of the file, as drizzle computes it. */
  hash: string;
  statements: string[];
}

export interface MigrationReport {
  applied: string[];
  /** Recorded as applied because the reference had migrated the database. */
  baselined: string[];
  /** Migrations found already applied. */
  upToDate: string[];
}

export interface SchemaStatus {
  /** `missing`: no tables; `pending`: some migrations not applied; `current`: all applied. */
  state: 'missing' | 'pending' | 'current';
  pending: string[];
  /** The database was migrated by the reference (sqlx). */
  referenceBaseline: boolean;
}

/** drizzle/ of this package (works from core/ under vitest and from dist/core/ when built). */
export function defaultMigrationsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'drizzle', 'meta', '_journal.json');
    if (existsSync(candidate)) return path.join(dir, 'drizzle');
    dir = path.dirname(dir);
  }
  throw new AtiError('ATI_ERR_DB', 'migrations folder drizzle/ not found next to the ati installation');
}

/** Reads drizzle/meta/_journal.json and the SQL files it lists, in order. */
export function loadMigrations(dir = defaultMigrationsDir()): MigrationFile[] {
  const journal = JSON.parse(readFileSync(path.join(dir, 'meta', '_journal.json'), 'utf8')) as {
    entries: Array<{ tag: string; when: number }>;
  };
  return journal.entries.map((e) => {
    const text = readFileSync(path.join(dir, `${e.tag}.sql`), 'utf8');
    return {
      tag: e.tag,
      when: e.when,
      hash: sha256(text),
      statements: text
        .split('--> statement-breakpoint')
        .map((s) => s.trim())
        .filter((s) => s !== '' && !/^(--[^\n]*\n?\s*)*$/.test(s)),
    };
  });
}

/** One connection for the whole run (the advisory lock is per session). */
interface Session {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  transaction(fn: (q: Session['query']) => Promise<void>): Promise<void>;
}

async function withSession<T>(db: Database, fn: (s: Session) => Promise<T>): Promise<T> {
  if (db.pool) return withPgSession(db.pool, fn);
  if (db.pglite) return withPgliteSession(db.pglite, fn);
  throw new AtiError('ATI_ERR_INTERNAL', 'database has no driver');
}

async function withPgSession<T>(pool: pg.Pool, fn: (s: Session) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const query = async <R>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as R[];
  try {
    return await fn({
      query,
      async transaction(body) {
        await client.query('BEGIN');
        try {
          await body(query);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      },
    });
  } finally {
    client.release();
  }
}

function withPgliteSession<T>(db: PGlite, fn: (s: Session) => Promise<T>): Promise<T> {
  const query = async <R>(text: string, params?: unknown[]) => (await db.query<R>(text, params)).rows;
  return fn({
    query,
    transaction: (body) =>
      db.transaction(async (tx: Transaction) => {
        await body(async <R>(text: string, params?: unknown[]) => (await tx.query<R>(text, params)).rows);
      }),
  });
}

interface Applied {
  hash: string;
  created_at: string | number;
}

async function readApplied(q: Session['query']): Promise<Applied[] | undefined> {
  const [t] = await q<{ t: string | null }>(`SELECT to_regclass('public.${MIGRATIONS_TABLE}')::text AS t`);
  if (!t?.t) return undefined;
  return q<Applied>(`SELECT hash, created_at FROM public.${MIGRATIONS_TABLE} ORDER BY created_at`);
}

async function referenceState(q: Session['query']): Promise<'none' | 'applied' | 'dirty'> {
  const [t] = await q<{ t: string | null }>(`SELECT to_regclass('public._sqlx_migrations')::text AS t`);
  if (!t?.t) return 'none';
  const rows = await q<{ success: boolean }>(`SELECT success FROM public._sqlx_migrations WHERE version = $1`, [
    REFERENCE_BASELINE_VERSION,
  ]);
  if (rows.length === 0) return 'none';
  return rows[0]!.success ? 'applied' : 'dirty';
}

/** Checks recorded migrations against the files; returns the ones not applied yet. */
function compare(files: MigrationFile[], applied: Applied[]): MigrationFile[] {
  const byWhen = new Map(files.map((f) => [f.when, f]));
  const done = new Set<number>();
  for (const a of applied) {
    const when = Number(a.created_at);
    const f = byWhen.get(when);
    if (!f) {
      throw new AtiError(
        'ATI_ERR_DB',
        `the database has a migration (created_at ${when}) that this ati does not know: it was migrated by a newer version; upgrade ati`,
      );
    }
    if (f.hash !== a.hash) {
      throw new AtiError(
        'ATI_ERR_DB',
        `migration ${f.tag} was applied with different contents (hash mismatch); the file must not change after release`,
      );
    }
    done.add(when);
  }
  return files.filter((f) => !done.has(f.when));
}

/**
 * Applies every pending migration under the advisory lock. Throws ATI_ERR_DB
 * (startup fails) when one fails; the failed migration's transaction is rolled back.
 */
export async function migrate(db: Database, opts: { logger?: Logger; dir?: string } = {}): Promise<MigrationReport> {
  const files = loadMigrations(opts.dir);
  const report: MigrationReport = { applied: [], baselined: [], upToDate: [] };
  return withSession(db, async (s) => {
    await s.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK_ID})`);
    try {
      await s.query(
        `CREATE TABLE IF NOT EXISTS public.${MIGRATIONS_TABLE} (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`,
      );
      let pending = compare(files, (await readApplied(s.query)) ?? []);
      report.upToDate = files.filter((f) => !pending.includes(f)).map((f) => f.tag);

      const first = files[0];
      if (first && pending[0] === first) {
        const ref = await referenceState(s.query);
        if (ref === 'dirty') {
          throw new AtiError(
            'ATI_ERR_DB',
            `the reference's migration ${REFERENCE_BASELINE_VERSION} is recorded as failed in _sqlx_migrations; repair the database first`,
          );
        }
        if (ref === 'applied') {
          await s.query(`INSERT INTO public.${MIGRATIONS_TABLE} (hash, created_at) VALUES ($1, $2)`, [
            first.hash,
            first.when,
          ]);
          report.baselined.push(first.tag);
          opts.logger?.info(
            { migration: first.tag, sqlx_version: REFERENCE_BASELINE_VERSION },
            'database was migrated by the reference; recorded as baseline',
          );
          pending = pending.slice(1);
        }
      }

      for (const m of pending) {
        const t0 = performance.now();
        try {
          await s.transaction(async (q) => {
            for (const stmt of m.statements) await q(stmt);
            await q(`INSERT INTO public.${MIGRATIONS_TABLE} (hash, created_at) VALUES ($1, $2)`, [m.hash, m.when]);
          });
        } catch (err) {
          throw new AtiError('ATI_ERR_DB', `migration ${m.tag} failed: ${describeDbError(err)}`, { cause: err });
        }
        report.applied.push(m.tag);
        opts.logger?.info({ migration: m.tag, duration_ms: Math.round(performance.now() - t0) }, 'applied migration');
      }
    } finally {
      await s.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK_ID})`).catch(() => undefined);
    }
    return report;
  });
}

/** What `migrate` would do, without changing anything (startup check without `--migrate`, `ati db status`). */
export async function schemaStatus(db: Database, opts: { dir?: string } = {}): Promise<SchemaStatus> {
  const files = loadMigrations(opts.dir);
  return withSession(db, async (s) => {
    const applied = await readApplied(s.query);
    let pending = compare(files, applied ?? []);
    const ref = await referenceState(s.query);
    if (ref === 'applied' && pending[0] === files[0]) pending = pending.slice(1);
    const [keys] = await s.query<{ t: string | null }>(`SELECT to_regclass('public.ati_keys')::text AS t`);
    const state = !keys?.t && ref !== 'applied' ? 'missing' : pending.length > 0 ? 'pending' : 'current';
    return { state, pending: pending.map((p) => p.tag), referenceBaseline: ref === 'applied' };
  });
}
