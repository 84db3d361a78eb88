/**
 * `/readyz` and `/health` while the configured PostgreSQL goes away and comes
 * back (the database is dropped with FORCE and recreated; the machine's
 * cluster keeps running): readiness fails, `db` stays `connected` (the
 * reference's fixed value), `db_reachable` turns false, then both recover.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../../core/db/client.js';
import { parseDbUrl } from '../../../core/db/db-url.js';
import { migrate } from '../../../core/db/migrate.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { adminQuery, createPgDatabase } from '../../helpers/db.js';
import { startDbHost, type DbTestHost } from '../../helpers/db-host.js';

async function until(cond: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('readiness follows the database', () => {
  let dir: TempAtiDir | undefined;
  let h: DbTestHost | undefined;
  let db: Database | undefined;
  let created: { name: string; url: string; drop(): Promise<void> } | undefined;
  afterEach(async () => {
    await h?.close();
    await db?.close().catch(() => undefined);
    await created?.drop();
    await dir?.cleanup();
  });

  it('fails /readyz and reports db_reachable:false while the database is gone, and recovers', async () => {
    dir = await makeAtiDir();
    created = await createPgDatabase();
    db = await openDatabase(parseDbUrl(created.url)!, { connectTimeoutMs: 1_000 });
    await migrate(db);
    h = await startDbHost({ atiDir: dir.dir, database: db, persistence: { probe: { ttlMs: 50, timeoutMs: 500 } } });
    const ready = async () => (await fetch(`${h!.url}/readyz`)).status;
    const health = async () => (await (await fetch(`${h!.url}/health`)).json()) as Record<string, unknown>;
    expect(await ready()).toBe(200);
    expect(await health()).toMatchObject({ db: 'connected', db_reachable: true });

    await adminQuery(`DROP DATABASE ${created.name} WITH (FORCE)`);
    await until(async () => (await ready()) === 503);
    await until(async () => (await health())['db_reachable'] === false);
    expect(await health()).toMatchObject({ db: 'connected', status: 'ok' });

    await adminQuery(`CREATE DATABASE ${created.name}`);
    await until(async () => (await ready()) === 200);
    await until(async () => (await health())['db_reachable'] === true);
  });
});
