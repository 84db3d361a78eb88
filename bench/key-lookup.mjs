#!/usr/bin/env node
/**
 * Virtual-key numbers (docs/persistence.md): `Ati-Key` lookup latency with a
 * warm cache (PostgreSQL and PGlite), and revocation propagation between two
 * "replicas" (two stores, two LISTEN connections) on PostgreSQL.
 *
 *   npx tsc -p tsconfig.json && node bench/key-lookup.mjs   (or BENCH_ONLY=key-lookup npm run bench)
 *   [--lookups 200000] [--revocations 50] [--no-pglite]
 *
 * Needs PostgreSQL on 127.0.0.1:5432 (ATI_BENCH_PG_ADMIN_URL to change); creates and drops its own
 * database. Numbers are per process on this machine; compare runs on one machine only.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase } from '../dist/core/db/client.js';
import { parseDbUrl } from '../dist/core/db/db-url.js';
import { migrate } from '../dist/core/db/migrate.js';
import { DbKeyStore } from '../dist/core/db/key-store.js';
import { KeyAdmin } from '../dist/core/db/key-admin.js';
import { RevocationListener } from '../dist/core/db/revocation.js';
import { silentLogger } from '../dist/kernel/logger.js';
import { emit } from './lib/fixtures.mjs';

const rows = [];

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const LOOKUPS = opt('lookups', 200_000);
const REVOCATIONS = opt('revocations', 50);
const ADMIN_URL = process.env.ATI_BENCH_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const logger = silentLogger();

async function admin(sqlText) {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    await c.query(sqlText);
  } finally {
    await c.end();
  }
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const issueRequest = (alias) => ({
  userId: 'bench',
  alias,
  tools: ['t1', 't2'],
  providers: [],
  categories: [],
  skills: [],
  expiresInSecs: null,
  metadata: {},
  createdBy: null,
});

async function warmLookups(db, label) {
  await migrate(db);
  const store = new DbKeyStore(db, { generation: () => undefined, logger });
  const keys = new KeyAdmin(db, store);
  const raws = [];
  for (let i = 0; i < 100; i++) raws.push((await keys.issue(issueRequest(`bench-${label}-${i}`))).raw_key);
  store.flushAll(); // issue() cached the new rows: start cold
  const cold = [];
  for (const r of raws) {
    const t0 = process.hrtime.bigint();
    await store.lookup(r);
    cold.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  // Warm: every key is cached now. Per-lookup latency (sampled) and total throughput.
  const samples = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < LOOKUPS; i++) {
    if (i % 100 === 0) {
      const s = process.hrtime.bigint();
      await store.lookup(raws[i % raws.length]);
      samples.push(Number(process.hrtime.bigint() - s) / 1e3);
    } else {
      await store.lookup(raws[i % raws.length]);
    }
  }
  const totalMs = Number(process.hrtime.bigint() - t0) / 1e6;
  samples.sort((a, b) => a - b);
  cold.sort((a, b) => a - b);
  console.log(
    `${label.padEnd(8)} warm lookup: ${(LOOKUPS / (totalMs / 1000)).toFixed(0)} lookups/s, ` +
      `p50 ${pct(samples, 50).toFixed(1)} µs, p99 ${pct(samples, 99).toFixed(1)} µs (sha256 + cache + scopes); ` +
      `cold (database) p50 ${(pct(cold, 50) / 1000).toFixed(2)} ms, p99 ${(pct(cold, 99) / 1000).toFixed(2)} ms; hits ${store.stats.hits}, misses ${store.stats.misses}`,
  );
  rows.push({
    scenario: `Ati-Key lookup, warm cache, ${label} (p50)`,
    unit: 'µs',
    ours: +pct(samples, 50).toFixed(1),
    p95: +pct(samples, 95).toFixed(1),
  });
  rows.push({
    scenario: `Ati-Key lookup, cold (database query), ${label} (p50)`,
    unit: 'ms',
    ours: +(pct(cold, 50) / 1000).toFixed(2),
    p95: +(pct(cold, 95) / 1000).toFixed(2),
  });
}

async function revocationPropagation(url) {
  const a = await openDatabase(parseDbUrl(url));
  const b = await openDatabase(parseDbUrl(url));
  const storeA = new DbKeyStore(a, { generation: () => undefined, logger });
  const storeB = new DbKeyStore(b, { generation: () => undefined, logger });
  const listenerB = new RevocationListener(b, storeB, logger);
  await listenerB.start();
  const keysA = new KeyAdmin(a, storeA);
  const times = [];
  for (let i = 0; i < REVOCATIONS; i++) {
    const k = await keysA.issue(issueRequest(`rev-${i}`));
    await storeB.lookup(k.raw_key); // B's cache is warm
    const arrived = new Promise((resolve) => {
      const on = (h) => {
        if (h === k.hash) {
          listenerB.off('notification', on);
          resolve(process.hrtime.bigint());
        }
      };
      listenerB.on('notification', on);
    });
    const t0 = process.hrtime.bigint();
    await keysA.revoke(k.hash, 'bench');
    const committed = process.hrtime.bigint();
    const t1 = await arrived;
    if ((await storeB.lookup(k.raw_key)) !== undefined) throw new Error('replica B still accepts a revoked key');
    times.push({ total: Number(t1 - t0) / 1e6, afterCommit: Number(t1 - committed) / 1e6 });
  }
  const total = times.map((t) => t.total).sort((x, y) => x - y);
  const after = times.map((t) => Math.max(0, t.afterCommit)).sort((x, y) => x - y);
  console.log(
    `postgres revocation A→B (${REVOCATIONS} keys): revoke call start → B evicted p50 ${pct(total, 50).toFixed(2)} ms, p99 ${pct(total, 99).toFixed(2)} ms, max ${total.at(-1).toFixed(2)} ms; ` +
      `after commit p50 ${pct(after, 50).toFixed(2)} ms`,
  );
  rows.push({
    scenario: 'revocation on replica A refused by replica B (max)',
    unit: 'ms',
    ours: +total.at(-1).toFixed(1),
    p95: +pct(total, 95).toFixed(1),
    target: '< 1000 ms',
    met: total.at(-1) < 1000,
  });
  await listenerB.close();
  await a.close();
  await b.close();
}

const name = `ati_bench_${randomBytes(4).toString('hex')}`;
await admin(`CREATE DATABASE ${name}`);
const u = new URL(ADMIN_URL);
u.pathname = `/${name}`;
try {
  const db = await openDatabase(parseDbUrl(u.toString()));
  await warmLookups(db, 'postgres');
  await revocationPropagation(u.toString());
  await db.close();
  if (!args.includes('--no-pglite')) {
    const lite = await openDatabase({ kind: 'pglite', dir: null, label: 'pglite:memory' });
    await warmLookups(lite, 'pglite');
    await lite.close();
  }
  emit({ suite: 'key-lookup', rows });
} finally {
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}
