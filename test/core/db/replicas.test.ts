/**
 * Two real `ati proxy` processes sharing one PostgreSQL database (build first:
 * `npx tsc -p tsconfig.json`): a key issued on A works on B with its scopes,
 * usage counters reach the database, a revoke on A is refused by B within
 * 1 s, and after B's LISTEN connection is killed revocations still reach it.
 */
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../../core/db/client.js';
import { parseDbUrl } from '../../../core/db/db-url.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { createPgDatabase } from '../../helpers/db.js';
import { runAti, startProxy, type ProxyProcess } from '../../helpers/proxy-process.js';

const ADMIN = 'admin-token-0123456789abcdef';
/** Two CLI providers: each is one tool named after its provider (scope `tool:<name>`). */
const cliManifest = (name: string) =>
  `[provider]\nname = "${name}"\ndescription = "${name}"\nhandler = "cli"\ncli_command = "true"\n`;

async function within(ms: number, cond: () => Promise<boolean>): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await cond()) return performance.now() - t0;
    if (performance.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('two proxy processes sharing PostgreSQL', { timeout: 120_000 }, () => {
  let dir: TempAtiDir;
  let pgdb: { url: string; drop(): Promise<void> };
  let db: Database;
  const procs: ProxyProcess[] = [];
  beforeAll(async () => {
    dir = await makeAtiDir({
      'manifests/svc_read.toml': cliManifest('svc_read'),
      'manifests/svc_write.toml': cliManifest('svc_write'),
    });
    pgdb = await createPgDatabase();
    db = await openDatabase(parseDbUrl(pgdb.url)!);
    const m = await runAti(['db', 'migrate'], { env: { ATI_DB_URL: pgdb.url } });
    expect(m.code, m.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    await pgdb?.drop();
    await dir?.cleanup();
  });
  afterEach(async () => {
    for (const p of procs.splice(0)) await p.stop('SIGKILL');
  });

  it('issue on A → Ati-Key on B with its scopes → counters → revoke on A refused by B within 1 s, also after B’s LISTEN connection was killed', async () => {
    const env = { ATI_DB_URL: pgdb.url, ATI_ADMIN_TOKEN: ADMIN };
    const [a, b] = await Promise.all([startProxy({ atiDir: dir.dir, env }), startProxy({ atiDir: dir.dir, env })]);
    procs.push(a, b);
    const issue = async (alias: string) => {
      const res = await fetch(`${a.url}/admin/keys/issue`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ user_id: 'agent-1', alias, tools: ['svc_read'] }),
      });
      expect(res.status).toBe(201);
      return (await res.json()) as { raw_key: string; hash: string };
    };
    const onB = (raw: string) => fetch(`${b.url}/tools`, { headers: { authorization: `Ati-Key ${raw}` } });

    const k = await issue('job-1');
    const listed = await onB(k.raw_key);
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as Array<{ name: string }>).map((t) => t.name)).toEqual(['svc_read']);
    expect(
      (await fetch(`${b.url}/tools/svc_write`, { headers: { authorization: `Ati-Key ${k.raw_key}` } })).status,
    ).toBe(404);
    expect((await onB(`ati-key_${'x'.repeat(22)}`)).status).toBe(401);

    const del = await fetch(`${a.url}/admin/keys/${k.hash}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(del.status).toBe(200);
    const ms = await within(1_000, async () => (await onB(k.raw_key)).status === 401);
    expect(ms).toBeLessThan(1_000);

    // Kill B's LISTEN connection; B reconnects (and flushes its cache), revocations reach it again.
    const k2 = await issue('job-2');
    expect((await onB(k2.raw_key)).status).toBe(200);
    const killed = await db.rows<{ n: number }>(sql`
      SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = 'ati-proxy-listen' AND query ILIKE 'LISTEN%'`);
    expect(killed[0]!.n).toBe(2); // A's and B's
    await b.waitForLog((l) => l.message === 'revocation listener reconnected; key cache flushed', 10_000);
    await a.waitForLog((l) => l.message === 'revocation listener reconnected; key cache flushed', 10_000);
    expect((await onB(k2.raw_key)).status).toBe(200);
    await fetch(`${a.url}/admin/keys/${k2.hash}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });
    await within(1_000, async () => (await onB(k2.raw_key)).status === 401);

    // Usage counters: B counted k2's requests in memory and writes them at the latest when it stops.
    const k3 = await issue('job-3');
    for (let i = 0; i < 3; i++) expect((await onB(k3.raw_key)).status).toBe(200);
    expect(await b.stop('SIGTERM')).toBe(0);
    const row = await fetch(`${a.url}/admin/keys/${k3.hash}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(await row.json()).toMatchObject({
      request_count: 3,
      error_count: 0,
      last_used_at: expect.stringMatching(/Z$/),
    });
  });
});
