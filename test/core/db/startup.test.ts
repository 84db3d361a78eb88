/**
 * The reference's startup matrix (with or without `ATI_DB_URL`, `--migrate`, a
 * reachable database) through the real `bin/ati` (build first:
 * `npx tsc -p tsconfig.json`), and the `ati db` / `ati audit` commands, on
 * PostgreSQL and on an embedded PGlite directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CallLogWriter } from '../../../core/db/call-log-writer.js';
import { openDatabase, type Database } from '../../../core/db/client.js';
import { parseDbUrl } from '../../../core/db/db-url.js';
import { silentLogger } from '../../../kernel/logger.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { createPgDatabase, resetSchema, runScript } from '../../helpers/db.js';
import { runAti, startProxy, type ProxyProcess } from '../../helpers/proxy-process.js';

const ADMIN = 'admin-token-0123456789abcdef';
const REFERENCE_SQL = readFileSync(new URL('../../fixtures/reference-migration.sql', import.meta.url), 'utf8');

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const lastError = (stderr: string) =>
  JSON.parse(stderr.trim().split('\n').pop()!) as { error: { code: string; message: string; exit_code: number } };

describe('ati proxy startup with a database (real process)', { timeout: 120_000 }, () => {
  let dir: TempAtiDir;
  let pgdb: { name: string; url: string; drop(): Promise<void> };
  let db: Database;
  const procs: ProxyProcess[] = [];

  beforeAll(async () => {
    dir = await makeAtiDir();
    pgdb = await createPgDatabase();
    db = await openDatabase(parseDbUrl(pgdb.url)!);
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    await pgdb?.drop();
    await dir?.cleanup();
  });
  afterEach(async () => {
    for (const p of procs.splice(0)) await p.stop('SIGKILL');
    await resetSchema(db);
  });
  const start = async (env: Record<string, string>, args: string[] = []) => {
    const p = await startProxy({ atiDir: dir.dir, env, args });
    procs.push(p);
    return p;
  };
  const health = async (p: ProxyProcess) => (await (await fetch(`${p.url}/health`)).json()) as Record<string, unknown>;

  it('ATI_DB_URL unset, empty or blank: starts with db disabled; --migrate is a no-op', async () => {
    for (const env of [{}, { ATI_DB_URL: '' }, { ATI_DB_URL: '   ' }]) {
      const p = await start(env, ['--migrate']);
      expect(p.logs.find((l) => l.message === 'ATI proxy server starting')).toMatchObject({ db: 'disabled' });
      expect(await health(p)).toMatchObject({ db: 'disabled', db_reachable: null });
      await p.stop('SIGTERM');
    }
  });

  it('unreachable database: refuses to start, non-zero exit, clear message, no password shown, port never bound', async () => {
    const port = await closedPort();
    const r = await runAti(['proxy', '--port', '0', '--ati-dir', dir.dir], {
      env: { ATI_DB_URL: `postgres://ati:s3cretpw@127.0.0.1:${port}/ati` },
    });
    expect(r.code).toBe(1);
    const e = lastError(r.stderr);
    expect(e.error.code).toBe('ATI_ERR_DB');
    expect(e.error.message).toMatch(
      new RegExp(`database postgres://\\[REDACTED\\]@127\\.0\\.0\\.1:${port}/ati is unreachable: .*ECONNREFUSED`),
    );
    expect(r.stderr).not.toContain('s3cretpw');
    expect(r.stderr).not.toContain('ATI proxy server starting');
    expect(r.stderr).toContain('ati command failed');
  });

  it('an unsupported ATI_DB_URL is a configuration error', async () => {
    const r = await runAti(['proxy', '--port', '0', '--ati-dir', dir.dir], {
      env: { ATI_DB_URL: 'mysql://x@localhost/db' },
    });
    expect(r.code).toBe(2);
    expect(lastError(r.stderr).error.message).toMatch(/scheme "mysql:" is not supported/);
  });

  it('reachable, no schema, no --migrate: starts connected, warns, and admin calls say the schema is missing', async () => {
    const p = await start({ ATI_DB_URL: pgdb.url, ATI_ADMIN_TOKEN: ADMIN });
    expect(p.logs.find((l) => l.message === 'ATI proxy server starting')).toMatchObject({ db: 'connected' });
    expect(p.logs.some((l) => l.level === 'WARN' && /database has no ATI schema/.test(l.message))).toBe(true);
    expect(await health(p)).toMatchObject({ db: 'connected', db_reachable: true });
    const res = await fetch(`${p.url}/admin/keys/issue`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: 'u', alias: 'a' }),
    });
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ code: 'ATI_ERR_DB_SCHEMA' });
  });

  it('--migrate applies the migrations before binding (twice is fine); admin keys work; no admin token → WARN', async () => {
    const p = await start({ ATI_DB_URL: pgdb.url, ATI_ADMIN_TOKEN: ADMIN }, ['--migrate']);
    const applied = p.logs.find((l) => l.message === 'applied database migrations')!;
    expect(applied['applied']).toEqual(['0000_init_persistence', '0001_key_change_notify']);
    expect(p.logs.indexOf(applied)).toBeLessThan(p.logs.findIndex((l) => l.message === 'ATI proxy server starting'));
    const res = await fetch(`${p.url}/admin/keys/issue`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: 'u', alias: 'a' }),
    });
    expect(res.status).toBe(201);
    expect(await p.stop('SIGTERM')).toBe(0);

    const again = await start({ ATI_DB_URL: pgdb.url }, ['--migrate']);
    expect(again.logs.find((l) => l.message === 'applied database migrations')!['applied']).toEqual([]);
    expect(again.logs.some((l) => l.level === 'WARN' && l.message.includes('ATI_ADMIN_TOKEN unset'))).toBe(true);
    const admin = await fetch(`${again.url}/admin/keys?user_id=u`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(admin.status).toBe(503);
  });

  it('a database migrated by the reference is accepted: `ati db migrate` records the baseline, the proxy serves its keys', async () => {
    await runScript(db, REFERENCE_SQL);
    await db.orm.execute(
      sql`INSERT INTO ati_keys (token_hash, key_alias, user_id, tools) VALUES (${'d'.repeat(64)}, 'ref-key', 'u-ref', '{t1}')`,
    );
    const status = await runAti(['db', 'status'], { env: { ATI_DB_URL: pgdb.url } });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/pending \(pending: 0001_key_change_notify\)/);
    const m = await runAti(['db', 'migrate'], { env: { ATI_DB_URL: pgdb.url } });
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toContain('baseline: 0000_init_persistence');
    expect(m.stdout).toContain('applied: 0001_key_change_notify');
    const p = await start({ ATI_DB_URL: pgdb.url, ATI_ADMIN_TOKEN: ADMIN });
    expect(p.logs.some((l) => l.level === 'WARN' && /schema|migrations pending/.test(l.message))).toBe(false);
    const res = await fetch(`${p.url}/admin/keys/${'d'.repeat(64)}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(await res.json()).toMatchObject({ key_alias: 'ref-key', user_id: 'u-ref', tools: ['t1'], metadata: {} });
    const del = await fetch(`${p.url}/admin/keys/${'d'.repeat(64)}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(del.status).toBe(200);
  });

  it('`ati db migrate` without ATI_DB_URL is a usage error; `ati audit tail` reads the call log', async () => {
    const none = await runAti(['db', 'migrate']);
    expect(none.code).toBe(2);
    expect(lastError(none.stderr).error.message).toMatch(/ATI_DB_URL is not set/);

    expect((await runAti(['db', 'migrate'], { env: { ATI_DB_URL: pgdb.url } })).code).toBe(0);
    const w = new CallLogWriter(db, silentLogger());
    const old = new Date(Date.now() - 3 * 3600_000);
    w.record({
      endpoint: 'call',
      tool: 'github:old',
      status: 'success',
      durationMs: 5,
      startedAt: old,
      caller: { sub: 'a1', scopes: [], unrestricted: false },
    });
    w.record({
      endpoint: 'call',
      tool: 'github:search',
      status: 'success',
      durationMs: 7,
      caller: { sub: 'a1', scopes: [], unrestricted: false },
    });
    w.record({
      endpoint: 'mcp',
      tool: 'linear:issue',
      status: 'denied',
      durationMs: 1,
      error: "Access denied: 'linear:issue' is not in your scopes",
    });
    await w.close();

    const text = await runAti(['audit', 'tail'], { env: { ATI_DB_URL: pgdb.url } });
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\S+Z \[OK\] github:old \(5ms\) agent=a1$/);
    expect(lines[2]).toMatch(/\[ERR\] linear:issue \(1ms\) agent= Access denied/);

    const json = await runAti(['audit', 'tail', '--json', '--since', '1h', '--tool', 'github:*'], {
      env: { ATI_DB_URL: pgdb.url },
    });
    const entries = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(entries.map((e) => e['tool'])).toEqual(['github:search']);
    expect(entries[0]).toMatchObject({ endpoint: '/call', status: 'success', ok: true, agent: 'a1' });

    const bad = await runAti(['audit', 'tail', '--since', 'yesterday'], { env: { ATI_DB_URL: pgdb.url } });
    expect(bad.code).toBe(2);
  });
});

describe('ati with an embedded PGlite database (real processes)', { timeout: 400_000 }, () => {
  let dir: TempAtiDir;
  let dataDir: string;
  const procs: ProxyProcess[] = [];
  beforeAll(async () => {
    dir = await makeAtiDir();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'ati-pglite-'));
  }, 120_000);
  afterAll(async () => {
    for (const p of procs.splice(0)) await p.stop('SIGKILL');
    await dir?.cleanup();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('migrates with `ati db migrate`, serves keys from `ati proxy`, and refuses a second process on the same directory', async () => {
    const url = `pglite:${dataDir}`;
    const m = await runAti(['db', 'migrate'], { env: { ATI_DB_URL: url }, timeoutMs: 170_000 });
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toContain('applied: 0000_init_persistence');
    const p = await startProxy({
      atiDir: dir.dir,
      env: { ATI_DB_URL: url, ATI_ADMIN_TOKEN: ADMIN },
      timeoutMs: 120_000,
    });
    procs.push(p);
    expect(p.logs.find((l) => l.message === 'ATI proxy server starting')).toMatchObject({ db: 'connected' });
    const res = await fetch(`${p.url}/admin/keys/issue`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: 'u', alias: 'a' }),
    });
    expect(res.status).toBe(201);
    const second = await runAti(['proxy', '--port', '0', '--ati-dir', dir.dir], {
      env: { ATI_DB_URL: url },
      timeoutMs: 60_000,
    });
    expect(second.code).toBe(1);
    expect(lastError(second.stderr).error.message).toMatch(/in use by process \d+; PGlite serves one process only/);
    expect(await p.stop('SIGTERM')).toBe(0);
    // The lock goes with the process: the next one opens the directory and finds the key.
    const status = await runAti(['db', 'status'], { env: { ATI_DB_URL: url }, timeoutMs: 120_000 });
    expect(status.stdout).toMatch(/: current/);
  });
});
