/**
 * The virtual-key store behind `Authorization: Ati-Key <raw>`, fixing what
 * breaks in the reference's with many replicas and many bogus keys:
 *
 * - a malformed key is refused before hashing, with no query and no cache entry;
 * - found rows are cached 30 s, misses 5 s in a separate smaller cache, so a
 *   flood of bogus keys cannot evict real ones;
 * - concurrent misses for one hash share one query (single flight);
 * - a row read while an invalidation arrived (NOTIFY, reconnect flush) is not
 *   cached, which closes the race where a lookup that started before a revoke
 *   committed would store the revoked row after its NOTIFY was handled;
 * - blocked and expired rows answer "no caller" (401); expiry is checked on
 *   every lookup, not only when the row is fetched;
 * - the caller's scopes are expanded against the serving generation (see
 *   core/db/key-scopes.ts) and memoised per generation.
 */
import { metrics } from '../metrics/metrics.js';
import { eq } from 'drizzle-orm';
import { AtiError } from '../../kernel/errors.js';
import type { Generation } from '../generation/generation.js';
import type { Logger } from '../../kernel/logger.js';
import type { CallerIdentity } from '../plugin/contract.js';
import type { KeyStore } from '../pipeline/key-store.js';
import type { Database } from './client.js';
import { describeDbError } from './db-errors.js';
import { keyIdentity, type KeyGrant } from './key-scopes.js';
import { atiKeys, type KeyRow } from './schema.js';
import { toEpochMs } from './timestamps.js';
import { TtlCache } from './ttl-cache.js';
import type { UsageCounters } from './usage-counters.js';
import { hashRawKey, isWellFormedRawKey } from './virtual-key.js';

export interface KeyStoreOptions {
  /** The serving generation (for provider/category grants); undefined before the first one. */
  generation: () => Generation | undefined;
  logger: Logger;
  usage?: UsageCounters;
  positiveTtlMs?: number;
  negativeTtlMs?: number;
  maxEntries?: number;
  maxNegativeEntries?: number;
  now?: () => number;
}

interface Entry {
  grant: KeyGrant;
  blocked: boolean;
  expiresMs: number | null;
  identity?: CallerIdentity;
  identityGen?: Generation | undefined;
}

export interface KeyStoreStats {
  hits: number;
  misses: number;
  negativeHits: number;
  malformed: number;
  errors: number;
  flushes: number;
}

export class DbKeyStore implements KeyStore {
  private readonly positive: TtlCache<string, Entry>;
  private readonly negative: TtlCache<string, true>;
  private readonly inflight = new Map<string, Promise<Entry | null>>();
  /** Bumped by every invalidation; a fetch that saw it change does not cache. */
  private epoch = 0;
  private lastWarnMs = 0;
  private readonly now: () => number;
  readonly stats: KeyStoreStats = { hits: 0, misses: 0, negativeHits: 0, malformed: 0, errors: 0, flushes: 0 };

  constructor(
    private readonly db: Database,
    private readonly opts: KeyStoreOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.positive = new TtlCache(opts.maxEntries ?? 50_000, opts.positiveTtlMs ?? 30_000, this.now);
    this.negative = new TtlCache(opts.maxNegativeEntries ?? 10_000, opts.negativeTtlMs ?? 5_000, this.now);
  }

  async lookup(rawKey: string): Promise<CallerIdentity | undefined> {
    if (!isWellFormedRawKey(rawKey)) {
      this.stats.malformed++;
      return undefined;
    }
    const hash = hashRawKey(rawKey);
    const entry = await this.entry(hash);
    if (!entry || entry.blocked) return undefined;
    if (entry.expiresMs !== null && entry.expiresMs <= this.now()) return undefined;
    this.opts.usage?.recordRequest(hash, this.now());
    const gen = this.opts.generation();
    if (!entry.identity || entry.identityGen !== gen) {
      entry.identity = keyIdentity(entry.grant, gen);
      entry.identityGen = gen;
    }
    return entry.identity;
  }

  /** The cached-or-fetched row state of a hash; null = no such key. Throws ATI_ERR_DB. */
  private entry(hash: string): Promise<Entry | null> | Entry | null {
    const hit = this.positive.get(hash);
    if (hit) {
      this.stats.hits++;
      metrics.keyCache.inc({ result: 'hit' });
      return hit;
    }
    if (this.negative.get(hash)) {
      this.stats.negativeHits++;
      metrics.keyCache.inc({ result: 'negative_hit' });
      return null;
    }
    const running = this.inflight.get(hash);
    if (running) return running;
    this.stats.misses++;
    metrics.keyCache.inc({ result: 'miss' });
    const p = this.fetch(hash).finally(() => this.inflight.delete(hash));
    this.inflight.set(hash, p);
    return p;
  }

  private async fetch(hash: string): Promise<Entry | null> {
    const epoch = this.epoch;
    let rows: KeyRow[];
    try {
      rows = await this.db.orm.select().from(atiKeys).where(eq(atiKeys.tokenHash, hash)).limit(1);
    } catch (err) {
      this.stats.errors++;
      const now = this.now();
      if (now - this.lastWarnMs > 10_000) {
        this.lastWarnMs = now;
        this.opts.logger.warn({ error: describeDbError(err) }, 'virtual key lookup failed');
      }
      throw new AtiError('ATI_ERR_DB', 'virtual key lookup failed: database unavailable', { cause: err });
    }
    const row = rows[0];
    const entry = row ? entryOf(row) : null;
    if (epoch === this.epoch) {
      if (entry) this.positive.set(hash, entry);
      else this.negative.set(hash, true);
    }
    return entry;
  }

  /** Caches a row just written (issue), so its first use needs no query. */
  remember(row: KeyRow): void {
    this.negative.delete(row.tokenHash);
    this.positive.set(row.tokenHash, entryOf(row));
  }

  /** Drops one hash (revoke here, or a NOTIFY from another replica). */
  evict(hash: string): void {
    this.epoch++;
    this.positive.delete(hash);
    this.negative.delete(hash);
  }

  /** Drops every cached key (the LISTEN connection (re)subscribed: notifications may have been missed). */
  flushAll(): void {
    this.epoch++;
    this.stats.flushes++;
    this.positive.clear();
    this.negative.clear();
  }

  get cachedEntries(): number {
    return this.positive.size + this.negative.size;
  }
}

function entryOf(row: KeyRow): Entry {
  return {
    grant: {
      tokenHash: row.tokenHash,
      userId: row.userId,
      tools: row.tools,
      providers: row.providers,
      categories: row.categories,
      skills: row.skills,
      expiresAt: row.expiresAt,
      createdAt: row.createdAt,
    },
    blocked: row.blocked,
    expiresMs: row.expiresAt === null ? null : toEpochMs(row.expiresAt),
  };
}
