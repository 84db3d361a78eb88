/**
 * Virtual keys end to end on PostgreSQL and PGlite: issue through the admin
 * API → `Ati-Key` on a named route (scopes enforced through the real host) →
 * revoke → refused by a second replica's store within 1 s; the cache rules;
 * usage counters; the LISTEN connection killed and revocation still reaching
 * the replica after it reconnects.
 */
import net from 'node:net';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AtiError } from '../../../kernel/errors.js';
import { schema } from '../../../core/db/schema.js';
import type { AtiOrm, Database } from '../../../core/db/client.js';
import { Persistence, type OpenState } from '../../../core/db/persistence.js';
import { DbKeyStore } from '../../../core/db/key-store.js';
import { hashRawKey } from '../../../core/db/virtual-key.js';
import { silentLogger } from '../../../kernel/logger.js';
import { DRIVERS } from '../../helpers/db.js';
import { useDbHost } from '../../helpers/db-host.js';

const ADMIN = 'admin-token-0123456789abcdef';
const manifest = (name: string, category: string | null, tools: string[]) =>
  `[provider]\nname = "${name}"\ndescription = "${name}"\nhandler = "test"\n${category ? `category = "${category}"\n` : ''}\n` +
  tools.map((t) => `[[tools]]\nname = "${t}"\ndescription = "${t}"\n`).join('\n');

const FILES = {
  'manifests/alpha.toml': manifest('alpha', 'search', ['alpha_t0', 'alpha_t1']),
  'manifests/beta.toml': manifest('beta', 'mail', ['beta_t0']),
  'manifests/gamma.toml': manifest('gamma', null, ['gamma_t0', 'gamma:prefixed']),
};

/** Polls `cond` every 10 ms until true or `ms` passed; resolves with the elapsed time or rejects. */
async function within(ms: number, cond: () => Promise<boolean>): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await cond()) return performance.now() - t0;
    if (performance.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each(DRIVERS)('virtual keys on %s', (driver) => {
  const ctx = useDbHost(driver, FILES, ADMIN);
  let parts: OpenState;
  const extra: Array<{ close(): Promise<void> }> = [];

  beforeEach(async () => {
    parts = ctx.h.persistence!.parts;
  });
  afterEach(async () => {
    for (const c of extra.splice(0)) await c.close();
    await ctx.h.close();
  });

  const issue = async (body: Record<string, unknown>) => {
    const res = await fetch(`${ctx.h.url}/admin/keys/issue`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { raw_key: string; hash: string; alias: string; expires_at: string | null };
  };
  const toolsSeen = async (raw: string) => {
    const res = await fetch(`${ctx.h.url}/tools`, { headers: { authorization: `Ati-Key ${raw}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as Array<{ name: string }>).map((x) => x.name).sort();
  };

  /** A second replica: its own connection, store and LISTEN connection on the same database. */
  const replica = async () => {
    const db = await ctx.t.openAnother();
    const p = new Persistence(db.target, {
      logger: silentLogger(),
      migrate: false,
      generation: () => ctx.h.host.current,
      database: db,
      listener: { initialDelayMs: 100 },
    });
    extra.push(p);
    return p.open();
  };

  it('issues a key whose Ati-Key caller gets its scopes: tools, every tool of a provider, every tool of a category', async () => {
    const k = await issue({
      user_id: 'u1',
      alias: 'job-1',
      tools: ['gamma_t0'],
      providers: ['alpha'],
      categories: ['mail'],
    });
    expect(k.raw_key).toMatch(/^ati-key_[A-Za-z0-9_-]{22}$/);
    expect(k.hash).toBe(hashRawKey(k.raw_key));
    // alpha's tools are not named `alpha:…`: the reference's `tool:alpha:*` alone would miss them.
    expect(await toolsSeen(k.raw_key)).toEqual(['alpha_t0', 'alpha_t1', 'beta_t0', 'gamma_t0']);
    const hidden = await fetch(`${ctx.h.url}/tools/gamma:prefixed`, {
      headers: { authorization: `Ati-Key ${k.raw_key}` },
    });
    expect(hidden.status).toBe(404);

    const caller = await parts.store.lookup(k.raw_key);
    expect(caller).toMatchObject({ sub: 'u1', keyHash: k.hash, unrestricted: false });
    expect(caller!.scopes.slice(0, 3)).toEqual(['tool:gamma_t0', 'tool:alpha:*', 'category:mail']);
    expect(caller!.claims).toMatchObject({ sub: 'u1', aud: '', exp: 0, jti: k.hash });
  });

  it('refuses malformed keys without a query, unknown keys (cached 5 s as a miss), expired and blocked keys', async () => {
    const before = { ...parts.store.stats };
    for (const bad of ['nope', 'ati-key_short', `ati-key_${'a'.repeat(22)} `, `ATI-KEY_${'a'.repeat(22)}`]) {
      expect(await parts.store.lookup(bad)).toBeUndefined();
    }
    expect(parts.store.stats.misses).toBe(before.misses);
    expect(parts.store.stats.malformed).toBe(before.malformed + 4);

    const unknown = `ati-key_${'b'.repeat(22)}`;
    const r401 = await fetch(`${ctx.h.url}/tools`, { headers: { authorization: `Ati-Key ${unknown}` } });
    expect(r401.status).toBe(401);
    expect(await parts.store.lookup(unknown)).toBeUndefined();
    expect(parts.store.stats.negativeHits).toBeGreaterThanOrEqual(before.negativeHits + 1);

    const expired = await issue({ user_id: 'u1', alias: 'expired', tools: ['gamma_t0'], expires_in_secs: 0 });
    expect(expired.expires_at).toMatch(/Z$/);
    expect(await parts.store.lookup(expired.raw_key)).toBeUndefined();

    const k = await issue({ user_id: 'u1', alias: 'blockme', tools: ['gamma_t0'] });
    expect(await parts.store.lookup(k.raw_key)).toBeDefined();
    const res = await fetch(`${ctx.h.url}/admin/keys/${k.hash}/block?by=ops`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(res.status).toBe(200);
    expect(await parts.store.lookup(k.raw_key)).toBeUndefined();
    const unblock = await fetch(`${ctx.h.url}/admin/keys/${k.hash}/unblock`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(unblock.status).toBe(200);
    expect(await parts.store.lookup(k.raw_key)).toBeDefined();
  });

  it('checks expiry on every lookup, not only when the row is fetched', async () => {
    let now = Date.now();
    const store = new DbKeyStore(ctx.t.db, {
      generation: () => ctx.h.host.current,
      logger: silentLogger(),
      now: () => now,
    });
    const k = await issue({ user_id: 'u1', alias: 'short', tools: ['gamma_t0'], expires_in_secs: 10 });
    expect(await store.lookup(k.raw_key)).toBeDefined();
    now += 11_000; // the row is still cached (30 s), the key is not valid any more
    expect(await store.lookup(k.raw_key)).toBeUndefined();
  });

  it('collapses concurrent misses for one key into one query', async () => {
    const k = await issue({ user_id: 'u1', alias: 'sf', tools: ['gamma_t0'] });
    const store = new DbKeyStore(ctx.t.db, { generation: () => ctx.h.host.current, logger: silentLogger() });
    const results = await Promise.all(Array.from({ length: 20 }, () => store.lookup(k.raw_key)));
    expect(results.every((r) => r?.sub === 'u1')).toBe(true);
    expect(store.stats.misses).toBe(1);
    expect(store.stats.hits + store.stats.misses).toBeLessThanOrEqual(20);
  });

  it('counts usage in batches: request_count, error_count (failed calls in the call log), last_used_at', async () => {
    const k = await issue({ user_id: 'u1', alias: 'usage', tools: ['gamma_t0'] });
    for (let i = 0; i < 3; i++) expect(await toolsSeen(k.raw_key)).toEqual(['gamma_t0']);
    const caller = await parts.store.lookup(k.raw_key); // 4th request
    ctx.h.host.services.callLog.record({ endpoint: 'call', tool: 'gamma_t0', caller, status: 'denied', durationMs: 1 });
    ctx.h.host.services.callLog.record({
      endpoint: 'call',
      tool: 'gamma_t0',
      caller,
      status: 'success',
      durationMs: 1,
    });
    let row = await parts.admin.get(k.hash);
    expect(row).toMatchObject({ requestCount: 0, errorCount: 0, lastUsedAt: null }); // not written per request
    await parts.usage.flush();
    row = await parts.admin.get(k.hash);
    expect(row).toMatchObject({ requestCount: 4, errorCount: 1 });
    expect(row!.lastUsedAt).not.toBeNull();
  });

  it('answers 503 (not 401) when the key table cannot be read, and 401 again once it can', async () => {
    const k = await issue({ user_id: 'u1', alias: 'outage', tools: ['gamma_t0'] });
    parts.store.flushAll();
    await ctx.t.db.orm.execute(sql`ALTER TABLE ati_keys RENAME TO ati_keys_away`);
    try {
      const res = await fetch(`${ctx.h.url}/tools`, { headers: { authorization: `Ati-Key ${k.raw_key}` } });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { code: string }).code).toBe('ATI_ERR_UNAVAILABLE');
    } finally {
      await ctx.t.db.orm.execute(sql`ALTER TABLE ati_keys_away RENAME TO ati_keys`);
    }
    expect(await toolsSeen(k.raw_key)).toEqual(['gamma_t0']);
  });

  it('revocation on one replica is refused by another replica (warm cache) within 1 s', async () => {
    const b = await replica();
    const k = await issue({ user_id: 'u1', alias: 'rev', tools: ['gamma_t0'] });
    expect(await b.store.lookup(k.raw_key)).toBeDefined(); // B's cache is warm (30 s TTL)
    const res = await fetch(`${ctx.h.url}/admin/keys/${k.hash}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(await res.json()).toEqual({ revoked: true });
    expect(await parts.store.lookup(k.raw_key)).toBeUndefined(); // at once on A
    const ms = await within(1_000, async () => (await b.store.lookup(k.raw_key)) === undefined);
    expect(ms).toBeLessThan(1_000);
  });

  it('a block made with plain SQL reaches the replicas too (trigger NOTIFY)', async () => {
    const b = await replica();
    const k = await issue({ user_id: 'u1', alias: 'sqlblock', tools: ['gamma_t0'] });
    expect(await b.store.lookup(k.raw_key)).toBeDefined();
    await ctx.t.db.orm.execute(sql`UPDATE ati_keys SET blocked = TRUE WHERE token_hash = ${k.hash}`);
    await within(1_000, async () => (await b.store.lookup(k.raw_key)) === undefined);
  });

  it('usage counter writes do not invalidate caches', async () => {
    const b = await replica();
    const k = await issue({ user_id: 'u1', alias: 'quiet', tools: ['gamma_t0'] });
    await b.store.lookup(k.raw_key);
    const notified: string[] = [];
    b.listener.on('notification', (h: string) => notified.push(h));
    await b.store.lookup(k.raw_key);
    await b.usage.flush();
    expect((await parts.admin.get(k.hash))!.requestCount).toBe(2);
    // Barrier: a notification sent after the counter write arrives after anything the write could have sent.
    const other = await issue({ user_id: 'u1', alias: 'barrier', tools: [] });
    const barrier = new Promise<void>((r) => b.listener.on('notification', (h: string) => h === other.hash && r()));
    await parts.admin.revoke(other.hash, 'admin');
    await barrier;
    expect(notified).toEqual([other.hash]);
  });

  if (driver === 'postgres') {
    it('keeps propagating revocations after its LISTEN connection is killed, flushing the cache on reconnect', async () => {
      const b = await replica();
      expect(b.listener.subscribeCount).toBe(1);
      const k1 = await issue({ user_id: 'u1', alias: 'k1', tools: ['gamma_t0'] });
      const k2 = await issue({ user_id: 'u1', alias: 'k2', tools: ['gamma_t0'] });
      expect(await b.store.lookup(k1.raw_key)).toBeDefined();
      expect(await b.store.lookup(k2.raw_key)).toBeDefined();

      const disconnected = new Promise<void>((r) => b.listener.once('disconnected', () => r()));
      const reconnected = new Promise<number>((r) => b.listener.once('listening', (n: number) => r(n)));
      const killed = await ctx.t.db.rows<{ n: number }>(sql`
        SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'ati-proxy-listen' AND query ILIKE 'LISTEN%'`);
      expect(killed[0]!.n).toBeGreaterThanOrEqual(1);
      await disconnected;
      // Revoked while B is not listening: this NOTIFY is lost for B.
      await parts.admin.revoke(k1.hash, 'admin');
      expect(await reconnected).toBe(2);
      // The reconnect flushed B's cache, so the lost notification does not matter.
      expect(await b.store.lookup(k1.raw_key)).toBeUndefined();
      expect(b.store.stats.flushes).toBeGreaterThanOrEqual(2);
      // And notifications flow again on the new connection.
      expect(await b.store.lookup(k2.raw_key)).toBeDefined();
      await parts.admin.revoke(k2.hash, 'admin');
      await within(1_000, async () => (await b.store.lookup(k2.raw_key)) === undefined);
    });

    it('answers 503 when the database cannot be reached at all (connection refused)', async () => {
      const port = await closedPort();
      const pool = new pg.Pool({
        connectionString: `postgres://postgres@127.0.0.1:${port}/none`,
        connectionTimeoutMillis: 500,
      });
      pool.on('error', () => undefined);
      const down: Database = {
        kind: 'postgres',
        label: 'down',
        target: { kind: 'postgres', url: `postgres://postgres@127.0.0.1:${port}/none`, label: 'down' },
        orm: drizzle({ client: pool, schema }) as unknown as AtiOrm,
        pool,
        rows: async () => [],
        ping: async () => false,
        close: () => pool.end(),
      };
      extra.push(down);
      const store = new DbKeyStore(down, { generation: () => undefined, logger: silentLogger() });
      const err = await store.lookup(`ati-key_${'c'.repeat(22)}`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AtiError);
      expect((err as AtiError).status).toBe(503);
    });
  }
});

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
