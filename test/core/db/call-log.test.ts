/**
 * The call-log writer on PostgreSQL and PGlite: batching by count and by
 * time, the row it writes, request-id reuse, and outages: a call never sees
 * a database error, rows are kept or dropped-and-counted, writing resumes.
 */
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CallLogWriter } from '../../../core/db/call-log-writer.js';
import { openDatabase, type Database } from '../../../core/db/client.js';
import { parseDbUrl } from '../../../core/db/db-url.js';
import { migrate } from '../../../core/db/migrate.js';
import { silentLogger } from '../../../kernel/logger.js';
import type { CallRecord } from '../../../core/tools/call-log.js';
import {
  adminQuery,
  createPgDatabase,
  createTestDatabase,
  DB_SETUP_TIMEOUT,
  DRIVERS,
  type TestDatabase,
} from '../../helpers/db.js';

const rec = (i: number, extra: Partial<CallRecord> = {}): CallRecord => ({
  endpoint: 'call',
  tool: `tool_${i}`,
  provider: 'p',
  handler: 'http',
  status: 'success',
  durationMs: 12.4,
  args: { i },
  ...extra,
});

async function until(cond: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const count = async (db: Database) =>
  (await db.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM ati_call_log`))[0]!.n;

describe.each(DRIVERS)('call log on %s', (driver) => {
  let t: TestDatabase;
  const writers: CallLogWriter[] = [];
  beforeAll(async () => {
    t = await createTestDatabase(driver);
  }, DB_SETUP_TIMEOUT);
  afterAll(async () => {
    await t?.destroy();
  });
  beforeEach(async () => {
    await t.reset();
    await migrate(t.db);
  });
  afterEach(async () => {
    for (const w of writers.splice(0)) await w.close(1_000);
  });
  const writer = (opts: ConstructorParameters<typeof CallLogWriter>[2] = {}) => {
    const w = new CallLogWriter(t.db, silentLogger(), opts);
    writers.push(w);
    w.start();
    return w;
  };

  it('writes one row per record with the reference columns, redacted arguments and bounded texts', async () => {
    const w = writer({ intervalMs: 60_000 });
    const requestId = '6f1c2d3e-4b5a-4c6d-8e7f-001122334455';
    w.record({
      endpoint: 'mcp',
      tool: 'github:search',
      provider: 'github',
      handler: 'mcp',
      caller: { sub: 'agent-7', scopes: [], unrestricted: false, keyHash: 'a'.repeat(64), jobId: 'job-9' },
      args: { q: 'x', api_key: 'sk-secret-value', long: 'é'.repeat(300) },
      status: 'upstream_error',
      durationMs: 1234.6,
      error: 'boom '.repeat(1000),
      errorClass: 'ATI_ERR_UPSTREAM',
      upstreamStatus: 502,
      requestId,
      responseSize: 321,
      requesterIp: '::ffff:127.0.0.1',
      userAgent: 'agent/1.0',
    });
    w.record(rec(2, { endpoint: 'help', tool: null, provider: null, handler: null, requesterIp: 'not-an-ip' }));
    await w.flush();
    const rows = await t.db.rows<Record<string, unknown>>(sql`
      SELECT request_id::text AS request_id, endpoint, tool_name, provider, handler, status, upstream_status, error_class, error_message,
             request_args, response_size, host(requester_ip) AS ip, user_agent, token_hash, user_id, session_id, latency_ms::int AS latency_ms,
             (extract(epoch FROM ended_at - started_at) * 1000)::int AS span_ms
        FROM ati_call_log ORDER BY endpoint DESC`);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      request_id: requestId,
      endpoint: '/mcp',
      tool_name: 'github:search',
      provider: 'github',
      handler: 'mcp',
      status: 'upstream_error',
      upstream_status: 502,
      error_class: 'ATI_ERR_UPSTREAM',
      response_size: 321,
      ip: '::ffff:127.0.0.1',
      user_agent: 'agent/1.0',
      token_hash: 'a'.repeat(64),
      user_id: 'agent-7',
      session_id: 'job-9',
      latency_ms: 1235,
      span_ms: 1235,
    });
    expect(rows[0]!['request_args']).toEqual({
      q: 'x',
      api_key: '[REDACTED]',
      long: `${'é'.repeat(200)}...[truncated]`,
    });
    expect((rows[0]!['error_message'] as string).length).toBeLessThanOrEqual(2_000 + '...[truncated]'.length);
    expect(rows[1]).toMatchObject({ endpoint: '/help', tool_name: null, ip: null, status: 'success' });
  });

  it('batches: nothing is written before the batch fills or the interval passes', async () => {
    const w = writer({ batchSize: 5, intervalMs: 60_000 });
    for (let i = 0; i < 4; i++) w.record(rec(i));
    await new Promise((r) => setTimeout(r, 100));
    expect(await count(t.db)).toBe(0);
    w.record(rec(4)); // the fifth fills the batch
    await until(async () => (await count(t.db)) === 5);

    const timed = writer({ batchSize: 500, intervalMs: 200 });
    timed.record(rec(9));
    await until(async () => (await count(t.db)) === 6, 3_000);
    expect(timed.stats).toMatchObject({ recorded: 1, written: 1, dropped: 0, buffered: 0 });
  });

  it('never loses a row to a reused request id (within a batch or across batches)', async () => {
    const w = writer({ intervalMs: 60_000 });
    const id = '11111111-2222-4333-8444-555555555555';
    w.record(rec(1, { requestId: id }));
    w.record(rec(2, { requestId: id })); // e.g. two tools/call of one /mcp request
    await w.flush();
    w.record(rec(3, { requestId: id })); // a client replaying its X-Request-Id
    w.record(rec(4, { requestId: 'not-a-uuid' }));
    await w.flush();
    expect(await count(t.db)).toBe(4);
    expect(w.stats.dropped).toBe(0);
    const ids = await t.db.rows<{ id: string }>(
      sql`SELECT request_id::text AS id FROM ati_call_log WHERE tool_name = 'tool_1'`,
    );
    expect(ids[0]!.id).toBe(id);
  });

  it('survives the table going away: records never throw, refused batches are dropped and counted, writing resumes', async () => {
    const w = writer({ batchSize: 3, intervalMs: 60_000 });
    w.record(rec(0));
    await w.flush();
    await t.db.orm.execute(sql`ALTER TABLE ati_call_log RENAME TO ati_call_log_away`);
    try {
      for (let i = 1; i <= 6; i++) expect(w.record(rec(i))).toBeUndefined();
      await w.flush();
      expect(w.stats.dropped).toBe(6);
      expect(w.stats.failedFlushes).toBeGreaterThanOrEqual(1);
    } finally {
      await t.db.orm.execute(sql`ALTER TABLE ati_call_log_away RENAME TO ati_call_log`);
    }
    w.record(rec(7));
    await w.flush();
    expect(await count(t.db)).toBe(2);
    expect(w.stats).toMatchObject({ written: 2, dropped: 6, buffered: 0 });
  });

  if (driver === 'postgres') {
    it('keeps rows while the database is gone (bounded, oldest dropped and counted) and writes them when it is back', async () => {
      const created = await createPgDatabase();
      let db: Database | undefined;
      try {
        db = await openDatabase(parseDbUrl(created.url)!, { connectTimeoutMs: 1_000 });
        await migrate(db);
        const w = new CallLogWriter(db, silentLogger(), { batchSize: 5, intervalMs: 60_000, maxBuffered: 10 });
        writers.push(w);
        w.record(rec(0));
        await w.flush();
        // The database disappears (every connection to it is terminated).
        await adminQuery(`DROP DATABASE ${created.name} WITH (FORCE)`);
        // record() is synchronous: a call never waits on the database.
        for (let i = 1; i <= 25; i++) expect(w.record(rec(i))).toBeUndefined();
        await w.flush();
        expect(w.stats.buffered).toBe(10);
        expect(w.stats.dropped).toBe(15);
        expect(w.stats.written).toBe(1);
        // It comes back (empty): the pool reconnects and the kept rows are written, newest ten.
        await adminQuery(`CREATE DATABASE ${created.name}`);
        await migrate(db);
        await w.flush();
        expect(w.stats).toMatchObject({ buffered: 0, written: 11, dropped: 15 });
        const tools = await db.rows<{ tool_name: string }>(sql`SELECT tool_name FROM ati_call_log ORDER BY tool_name`);
        expect(tools.map((r) => r.tool_name).sort()).toEqual(
          Array.from({ length: 10 }, (_, i) => `tool_${i + 16}`).sort(),
        );
      } finally {
        await db?.close().catch(() => undefined);
        await created.drop();
      }
    });
  }
});
