/**
 * `/admin/keys/*` through the real host on PostgreSQL and PGlite (docs/api.md#admin-virtual-keys-adminkeys):
 * the admin auth matrix, request/response shapes and statuses, duplicate
 * alias 409, bulk revoke filters, the soft-delete archive and audit rows;
 * plus `/health`'s `db` and `db_reachable`.
 */
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { DRIVERS } from '../../helpers/db.js';
import { startDbHost, useDbHost, type DbTestHost } from '../../helpers/db-host.js';

const ADMIN = 'admin-token-0123456789abcdef';
const FILES = {
  'manifests/a.toml':
    '[provider]\nname = "a"\ndescription = "a"\nhandler = "test"\n\n[[tools]]\nname = "a_t0"\ndescription = "t"\n',
};
const ROW_KEYS = [
  'blocked',
  'categories',
  'created_at',
  'created_by',
  'error_count',
  'expires_at',
  'key_alias',
  'last_used_at',
  'metadata',
  'providers',
  'request_count',
  'skills',
  'token_hash',
  'tools',
  'user_id',
];

interface Res {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

describe('admin keys without a database', () => {
  let dir: TempAtiDir;
  let h: DbTestHost;
  afterEach(async () => {
    await h?.close();
    await dir?.cleanup();
  });

  it('answers 503 JSON naming ATI_DB_URL when the token is right, 503 before auth when no token is set; /health says disabled', async () => {
    dir = await makeAtiDir(FILES);
    h = await startDbHost({ atiDir: dir.dir, adminToken: ADMIN });
    const res = await fetch(`${h.url}/admin/keys/issue`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: 'u', alias: 'a' }),
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: 'admin endpoints require ATI_DB_URL + ATI_ADMIN_TOKEN' });
    const wrong = await fetch(`${h.url}/admin/keys?user_id=u`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const health = (await (await fetch(`${h.url}/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ db: 'disabled', db_reachable: null });
    // Ati-Key with no database: 503.
    const key = await fetch(`${h.url}/tools`, { headers: { authorization: `Ati-Key ati-key_${'a'.repeat(22)}` } });
    expect(key.status).toBe(503);
    await h.close();

    h = await startDbHost({ atiDir: dir.dir });
    for (const auth of [undefined, `Bearer ${ADMIN}`, 'Bearer x']) {
      const r = await fetch(`${h.url}/admin/keys?user_id=u`, { headers: auth ? { authorization: auth } : {} });
      expect(r.status).toBe(503);
      expect(r.headers.get('content-type')).toMatch(/application\/json/);
    }
  });
});

describe.each(DRIVERS)('admin keys on %s', (driver) => {
  const ctx = useDbHost(driver, FILES, ADMIN);

  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Res> => {
    const res = await fetch(`${ctx.h.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN}`,
        ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // not JSON; the test looks at text
    }
    return { status: res.status, body: parsed, text };
  };
  const issue = async (user: string, alias: string, extra: Record<string, unknown> = {}) => {
    const r = await call('POST', '/admin/keys/issue', { user_id: user, alias, ...extra });
    expect(r.status, r.text).toBe(201);
    return r.body as { raw_key: string; hash: string; alias: string; expires_at: string | null };
  };
  const audit = () =>
    ctx.t.db.rows<{
      actor: string;
      action: string;
      target_table: string;
      target_id: string;
      before_value: unknown;
      after_value: unknown;
    }>(sql`SELECT actor, action, target_table, target_id, before_value, after_value FROM ati_audit_log ORDER BY id`);

  it('enforces the admin bearer: no header, another scheme or a wrong token → 401 JSON; the right one passes', async () => {
    const cases: Array<[Record<string, string>, number]> = [
      [{ authorization: '' }, 401],
      [{ authorization: 'Bearer wrong-token-0123456789' }, 401],
      [{ authorization: `Basic ${Buffer.from(`admin:${ADMIN}`).toString('base64')}` }, 401],
      [{ authorization: `Ati-Key ati-key_${'a'.repeat(22)}` }, 401],
      [{ authorization: `Bearer ${ADMIN}x` }, 401],
      [{}, 200],
    ];
    for (const [headers, status] of cases) {
      const r = await call('GET', '/admin/keys?user_id=u', undefined, headers);
      expect(r.status, JSON.stringify(headers)).toBe(status);
      if (status === 401) expect(r.body).toMatchObject({ code: 'ATI_ERR_UNAUTHENTICATED' });
    }
    for (const [method, path] of [
      ['POST', '/admin/keys/issue'],
      ['POST', '/admin/keys/bulk-revoke'],
      ['GET', `/admin/keys/${'0'.repeat(64)}`],
      ['DELETE', `/admin/keys/${'0'.repeat(64)}`],
    ] as const) {
      expect(
        (await call(method, path, method === 'POST' ? {} : undefined, { authorization: 'Bearer wrong' })).status,
      ).toBe(401);
    }
  });

  it('issues a key: 201 with the reference shape; the row, its audit row, and no raw key stored anywhere', async () => {
    const r = await call('POST', '/admin/keys/issue', {
      user_id: 'u1',
      alias: 'job-1',
      tools: ['a_t0'],
      skills: ['s'],
      expires_in_secs: 3600,
      created_by: 'orchestrator',
      unknown_field: 1,
    });
    expect(r.status).toBe(201);
    expect(Object.keys(r.body).sort()).toEqual(['alias', 'expires_at', 'hash', 'raw_key']);
    const k = r.body as { raw_key: string; hash: string; alias: string; expires_at: string };
    expect(k.alias).toBe('job-1');
    expect(k.expires_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6})?Z$/);
    expect(Math.abs(Date.parse(k.expires_at) - Date.now() - 3_600_000)).toBeLessThan(60_000);

    const got = await call('GET', `/admin/keys/${k.hash}`);
    expect(got.status).toBe(200);
    expect(Object.keys(got.body).sort()).toEqual(ROW_KEYS);
    expect(got.body).toMatchObject({
      token_hash: k.hash,
      key_alias: 'job-1',
      user_id: 'u1',
      tools: ['a_t0'],
      skills: ['s'],
      providers: [],
      categories: [],
      blocked: false,
      request_count: 0,
      error_count: 0,
      last_used_at: null,
      metadata: {},
      created_by: 'orchestrator',
    });
    expect(got.body['created_at']).toMatch(/Z$/);
    expect(got.text).not.toContain(k.raw_key);

    const rows = await audit();
    expect(rows).toEqual([
      {
        actor: 'orchestrator',
        action: 'key.issue',
        target_table: 'ati_keys',
        target_id: k.hash,
        before_value: null,
        after_value: {
          alias: 'job-1',
          user_id: 'u1',
          tools: ['a_t0'],
          providers: [],
          categories: [],
          skills: ['s'],
          expires_at: k.expires_at,
        },
      },
    ]);
    const dump = await ctx.t.db.rows<{ j: string }>(sql`
      SELECT (SELECT coalesce(json_agg(k)::text, '') FROM ati_keys k) || (SELECT coalesce(json_agg(a)::text, '') FROM ati_audit_log a) AS j`);
    expect(dump[0]!.j).not.toContain(k.raw_key);
    expect(dump[0]!.j).not.toContain(k.raw_key.slice(8));
  });

  it('validates issue bodies with the reference statuses (400 blank, 422 missing/mistyped, 415, 400 bad JSON)', async () => {
    expect(await call('POST', '/admin/keys/issue', { user_id: '  ', alias: 'a' })).toMatchObject({
      status: 400,
      body: { error: 'user_id is required' },
    });
    expect(await call('POST', '/admin/keys/issue', { user_id: 'u', alias: '' })).toMatchObject({
      status: 400,
      body: { error: 'key_alias is required' },
    });
    expect((await call('POST', '/admin/keys/issue', { alias: 'a' })).status).toBe(422);
    expect((await call('POST', '/admin/keys/issue', { user_id: 'u', alias: 'a', tools: 'a_t0' })).status).toBe(422);
    expect((await call('POST', '/admin/keys/issue', { user_id: 'u', alias: 'a', expires_in_secs: -1 })).status).toBe(
      422,
    );
    expect((await call('POST', '/admin/keys/issue', { user_id: 'u', alias: 'a', expires_in_secs: 1.5 })).status).toBe(
      422,
    );
    expect(await call('POST', '/admin/keys/issue', { user_id: 'u', alias: 'a', expires_in_secs: 9e15 })).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/at most/) },
    });
    expect(
      (await call('POST', '/admin/keys/issue', '{"user_id":', { 'content-type': 'application/json' })).status,
    ).toBe(400);
    expect((await call('POST', '/admin/keys/issue', 'user_id=u', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await call('GET', '/admin/keys/issue')).status).toBe(405);
    expect((await call('DELETE', '/admin/keys/issue')).status).toBe(405);
    expect((await ctx.t.db.rows(sql`SELECT 1 FROM ati_keys`)).length).toBe(0);
  });

  it('answers 409 for a duplicate alias of the same user without creating a row; other users and revoked aliases are free', async () => {
    const first = await issue('u1', 'job');
    const dup = await call('POST', '/admin/keys/issue', { user_id: 'u1', alias: 'job' });
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual({ error: 'alias already exists for user', code: 'ATI_ERR_CONFLICT' });
    expect(dup.text).not.toMatch(/duplicate key|constraint|sql/i);
    expect((await ctx.t.db.rows(sql`SELECT 1 FROM ati_keys`)).length).toBe(1);
    expect((await audit()).length).toBe(1); // the failed issue wrote no audit row
    await issue('u2', 'job');
    expect((await call('DELETE', `/admin/keys/${first.hash}`)).status).toBe(200);
    await issue('u1', 'job');
  });

  it('revokes: 200, the row archived with a full snapshot, one audit row, `by` as actor; a second revoke is 404', async () => {
    const k = await issue('u1', 'job', { tools: ['a_t0'] });
    const r = await call('DELETE', `/admin/keys/${k.hash}?by=ops`);
    expect(r).toMatchObject({ status: 200, body: { revoked: true } });
    expect((await call('GET', `/admin/keys/${k.hash}`)).status).toBe(404);
    const archived = await ctx.t.db.rows<{ snapshot: Record<string, unknown>; deleted_by: string }>(
      sql`SELECT snapshot, deleted_by FROM ati_deleted_keys`,
    );
    expect(archived).toHaveLength(1);
    expect(archived[0]!.deleted_by).toBe('ops');
    expect(Object.keys(archived[0]!.snapshot).sort()).toEqual(ROW_KEYS);
    expect(archived[0]!.snapshot).toMatchObject({ token_hash: k.hash, key_alias: 'job', tools: ['a_t0'] });
    expect(String(archived[0]!.snapshot['created_at'])).toMatch(/\+00:00$/); // UTC session
    const rows = await audit();
    expect(rows[1]).toMatchObject({ actor: 'ops', action: 'key.revoke', target_id: k.hash, after_value: null });
    expect(rows[1]!.before_value).toEqual(archived[0]!.snapshot);
    expect(await call('DELETE', `/admin/keys/${k.hash}`)).toMatchObject({
      status: 404,
      body: { error: 'no such key' },
    });

    const k2 = await issue('u1', 'job2');
    await call('DELETE', `/admin/keys/${k2.hash}`);
    expect((await audit()).at(-1)).toMatchObject({ actor: 'admin', action: 'key.revoke' });
    expect(
      (
        await ctx.t.db.rows<{ deleted_by: string }>(
          sql`SELECT deleted_by FROM ati_deleted_keys WHERE token_hash = ${k2.hash}`,
        )
      )[0]!.deleted_by,
    ).toBe('admin');
  });

  it('bulk-revokes by user, alias prefix (LIKE-escaped) and hashes, ANDed; refuses an empty filter', async () => {
    const u1a = await issue('u1', 'job-a');
    const u1b = await issue('u1', 'job-b');
    const u1c = await issue('u1', 'other');
    const u2a = await issue('u2', 'job-a');
    const pct = await issue('u3', '%literal');

    for (const body of [{}, { user_id: ' ', alias_prefix: '' }, { hashes: [] }, { by: 'ops' }]) {
      expect(await call('POST', '/admin/keys/bulk-revoke', body)).toMatchObject({
        status: 400,
        body: { error: 'bulk_revoke requires at least one filter field' },
      });
    }
    expect((await call('POST', '/admin/keys/bulk-revoke', { user_id: 5 })).status).toBe(422);
    // `%` and `_` match literally.
    expect(await call('POST', '/admin/keys/bulk-revoke', { alias_prefix: '_' })).toMatchObject({
      status: 200,
      body: { revoked: 0 },
    });
    expect(await call('POST', '/admin/keys/bulk-revoke', { alias_prefix: '%', user_id: 'u1' })).toMatchObject({
      body: { revoked: 0 },
    });
    // AND of user and prefix.
    expect(
      await call('POST', '/admin/keys/bulk-revoke', { user_id: 'u1', alias_prefix: 'job-', by: 'cleanup' }),
    ).toMatchObject({ status: 200, body: { revoked: 2 } });
    const left = (
      await ctx.t.db.rows<{ token_hash: string }>(sql`SELECT token_hash FROM ati_keys ORDER BY key_alias`)
    ).map((r) => r.token_hash);
    expect(left.sort()).toEqual([u1c.hash, u2a.hash, pct.hash].sort());
    const bulkAudit = (await audit()).filter((r) => r.action === 'key.bulk_revoke');
    expect(bulkAudit.map((r) => r.target_id).sort()).toEqual([u1a.hash, u1b.hash].sort());
    expect(bulkAudit.every((r) => r.actor === 'cleanup' && r.before_value !== null)).toBe(true);
    // Hashes, and `%` matching an alias that literally starts with it; deleted_by defaults to "admin".
    expect(await call('POST', '/admin/keys/bulk-revoke', { hashes: [u2a.hash, 'f'.repeat(64)] })).toMatchObject({
      body: { revoked: 1 },
    });
    expect(await call('POST', '/admin/keys/bulk-revoke', { alias_prefix: '%' })).toMatchObject({
      body: { revoked: 1 },
    });
    const deletedBy = await ctx.t.db.rows<{ token_hash: string; deleted_by: string }>(
      sql`SELECT token_hash, deleted_by FROM ati_deleted_keys`,
    );
    expect(deletedBy.find((r) => r.token_hash === u2a.hash)!.deleted_by).toBe('admin');
    expect((await ctx.t.db.rows(sql`SELECT 1 FROM ati_deleted_keys`)).length).toBe(4);
  });

  it('lists a user’s keys newest first (expired and blocked included); user_id is required', async () => {
    expect(await call('GET', '/admin/keys')).toMatchObject({
      status: 400,
      body: { error: 'user_id query param required' },
    });
    expect(await call('GET', '/admin/keys?user_id=')).toMatchObject({ status: 200, body: { sessions: [] } });
    await issue('u1', 'first', { expires_in_secs: 0 });
    await new Promise((r) => setTimeout(r, 5));
    const second = await issue('u1', 'second');
    await call('POST', `/admin/keys/${second.hash}/block`);
    await issue('u2', 'other');
    const r = await call('GET', '/admin/keys?user_id=u1');
    const sessions = r.body['sessions'] as Array<Record<string, unknown>>;
    expect(sessions.map((s) => s['key_alias'])).toEqual(['second', 'first']);
    expect(sessions[0]).toMatchObject({ blocked: true });
    expect(Object.keys(sessions[0]!).sort()).toEqual(ROW_KEYS);
  });

  it('records block and unblock with before/after snapshots; unknown hashes are 404', async () => {
    const k = await issue('u1', 'b');
    expect(await call('POST', `/admin/keys/${k.hash}/block?by=sec`)).toMatchObject({
      status: 200,
      body: { blocked: true },
    });
    expect(await call('POST', `/admin/keys/${'e'.repeat(64)}/block`)).toMatchObject({ status: 404 });
    const row = (await audit()).at(-1)!;
    expect(row).toMatchObject({ actor: 'sec', action: 'key.block', target_id: k.hash });
    expect((row.before_value as { blocked: boolean }).blocked).toBe(false);
    expect((row.after_value as { blocked: boolean }).blocked).toBe(true);
  });

  it('reports db connected and db_reachable in /health, and readiness follows the database', async () => {
    const health = (await (await fetch(`${ctx.h.url}/health`)).json()) as Record<string, unknown>;
    expect(Object.keys(health).slice(0, 7)).toEqual([
      'status',
      'version',
      'tools',
      'providers',
      'skills',
      'auth',
      'db',
    ]);
    expect(health).toMatchObject({ db: 'connected', db_reachable: true });
    expect(await ctx.h.host.services.ready!()).toBe(true);
  });

  it('answers 500 with a clear, SQL-free message when the schema is missing', async () => {
    await ctx.t.reset();
    const r = await call('POST', '/admin/keys/issue', { user_id: 'u', alias: 'a' });
    expect(r.status).toBe(500);
    expect(r.body).toMatchObject({ code: 'ATI_ERR_DB_SCHEMA' });
    expect(r.text).not.toMatch(/relation|ati_keys/);
  });
});
