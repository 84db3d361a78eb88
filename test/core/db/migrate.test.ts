/**
 * Migrations on PostgreSQL and PGlite: the generated schema
 * equals the reference's DDL, re-running is a no-op, a database the reference
 * migrated is a baseline, and the sqlx-style refusals.
 */
import { readFileSync, mkdtempSync, cpSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import {
  defaultMigrationsDir,
  loadMigrations,
  migrate,
  schemaStatus,
  MIGRATIONS_TABLE,
} from '../../../core/db/migrate.js';
import { openDatabase } from '../../../core/db/client.js';
import { parseDbUrl } from '../../../core/db/db-url.js';
import {
  createTestDatabase,
  describeSchema,
  DB_SETUP_TIMEOUT,
  DRIVERS,
  runScript,
  type TestDatabase,
} from '../../helpers/db.js';

const REFERENCE_SQL = readFileSync(new URL('../../fixtures/reference-migration.sql', import.meta.url), 'utf8');
const TAGS = loadMigrations().map((m) => m.tag);

describe.each(DRIVERS)('migrations on %s', (driver) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(driver);
  }, DB_SETUP_TIMEOUT);
  afterAll(async () => {
    await t?.destroy();
  });
  beforeEach(async () => {
    await t.reset();
  });

  it('reports a missing schema, applies every migration, and a second run changes nothing', async () => {
    expect(await schemaStatus(t.db)).toEqual({ state: 'missing', pending: TAGS, referenceBaseline: false });
    const first = await migrate(t.db);
    expect(first).toEqual({ applied: TAGS, baselined: [], upToDate: [] });
    const second = await migrate(t.db);
    expect(second).toEqual({ applied: [], baselined: [], upToDate: TAGS });
    expect(await schemaStatus(t.db)).toEqual({ state: 'current', pending: [], referenceBaseline: false });
    const recorded = await t.db.rows<{ n: number }>(sql.raw(`SELECT count(*)::int AS n FROM ${MIGRATIONS_TABLE}`));
    expect(recorded[0]!.n).toBe(TAGS.length);
  });

  it('creates exactly the reference tables, columns, constraints and the eight named secondary indexes', async () => {
    await migrate(t.db);
    const ours = await describeSchema(t.db);
    await t.reset();
    await runScript(t.db, REFERENCE_SQL);
    const reference = await describeSchema(t.db);
    expect(ours).toEqual(reference);
    const names = ours.indexes.map((d) => d.split(' ')[0]);
    for (const idx of [
      'idx_ati_keys_user',
      'idx_ati_keys_active_expiring',
      'idx_call_log_started_at',
      'idx_call_log_token',
      'idx_call_log_tool',
      'idx_call_log_failures',
      'idx_audit_log_target',
      'idx_audit_log_actor',
      'ati_keys_user_id_key_alias_key',
      'ati_keys_pkey',
    ]) {
      expect(names).toContain(idx);
    }
  });

  it('accepts a database migrated by the reference as the baseline and applies only what is ours on top', async () => {
    await runScript(t.db, REFERENCE_SQL);
    expect(await schemaStatus(t.db)).toEqual({ state: 'pending', pending: TAGS.slice(1), referenceBaseline: true });
    const report = await migrate(t.db);
    expect(report.baselined).toEqual([TAGS[0]]);
    expect(report.applied).toEqual(TAGS.slice(1));
    expect(await schemaStatus(t.db)).toMatchObject({ state: 'current', referenceBaseline: true });
    // The reference's own tracking row is left alone.
    const sqlx = await t.db.rows<{ version: string }>(sql`SELECT version::text AS version FROM _sqlx_migrations`);
    expect(sqlx).toEqual([{ version: '20260501000001' }]);
  });

  it('refuses a database whose reference migration is recorded as failed', async () => {
    await runScript(t.db, REFERENCE_SQL);
    await t.db.orm.execute(sql`UPDATE _sqlx_migrations SET success = FALSE`);
    await expect(migrate(t.db)).rejects.toThrow(/recorded as failed/);
  });

  it('refuses a recorded migration whose file changed, and a migration this build does not know', async () => {
    await migrate(t.db);
    await t.db.orm.execute(sql.raw(`UPDATE ${MIGRATIONS_TABLE} SET hash = 'deadbeef' WHERE id = 1`));
    await expect(migrate(t.db)).rejects.toThrow(/different contents/);
    await t.reset();
    await migrate(t.db);
    await t.db.orm.execute(sql.raw(`INSERT INTO ${MIGRATIONS_TABLE} (hash, created_at) VALUES ('x', 9999999999999)`));
    await expect(migrate(t.db)).rejects.toThrow(/newer version; upgrade ati/);
  });

  it('rolls back a failing migration and names it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ati-mig-'));
    try {
      cpSync(defaultMigrationsDir(), dir, { recursive: true });
      const journalFile = path.join(dir, 'meta', '_journal.json');
      const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: Array<Record<string, unknown>> };
      journal.entries.push({ idx: 99, version: '7', when: 9_000_000_000_000, tag: '9999_broken', breakpoints: true });
      writeFileSync(journalFile, JSON.stringify(journal));
      writeFileSync(
        path.join(dir, '9999_broken.sql'),
        'CREATE TABLE ati_broken_probe (a int);\n--> statement-breakpoint\nSELECT no_such_function();',
      );
      await expect(migrate(t.db, { dir })).rejects.toThrow(/migration 9999_broken failed/);
      // Earlier migrations committed; the broken one left nothing behind.
      expect(await schemaStatus(t.db)).toMatchObject({ state: 'current' });
      const probe = await t.db.rows<{ t: string | null }>(
        sql`SELECT to_regclass('public.ati_broken_probe')::text AS t`,
      );
      expect(probe[0]!.t).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  if (driver === 'postgres') {
    it('serialises concurrent runs with the advisory lock: two replicas migrating at once both succeed, once', async () => {
      const a = await openDatabase(parseDbUrl(t.url)!);
      const b = await openDatabase(parseDbUrl(t.url)!);
      try {
        const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
        expect([...ra.applied, ...rb.applied].sort()).toEqual([...TAGS].sort());
        expect(ra.applied.length === 0 || rb.applied.length === 0).toBe(true);
      } finally {
        await a.close();
        await b.close();
      }
    });
  }
});
