/**
 * Key usage counters (`request_count`, `error_count`, `last_used_at`) counted
 * in memory and written in one batched UPDATE every few seconds (the reference never wrote them):
 * one UPDATE per request would make each key row a lock hotspot, worse with
 * several replicas. A failed flush keeps its counts for the next one, up to a
 * bound on distinct keys; counts past the bound are dropped and counted.
 */
import { sql } from 'drizzle-orm';
import type { Logger } from '../../kernel/logger.js';
import type { Database } from './client.js';
import { describeDbError } from './db-errors.js';

interface Pending {
  requests: number;
  errors: number;
  lastUsedMs: number;
}

export interface UsageCountersOptions {
  /** Flush period (default 5 s). */
  intervalMs?: number;
  /** Distinct keys kept between flushes (default 100,000). */
  maxKeys?: number;
}

export class UsageCounters {
  private pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly maxKeys: number;
  private readonly intervalMs: number;
  /** Increments lost because the bound was reached. */
  dropped = 0;
  /** Rows updated by successful flushes. */
  flushedRows = 0;

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    opts: UsageCountersOptions = {},
  ) {
    this.maxKeys = opts.maxKeys ?? 100_000;
    this.intervalMs = opts.intervalMs ?? 5_000;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  /** One authenticated request with the key `hash`. */
  recordRequest(hash: string, atMs = Date.now()): void {
    const p = this.entry(hash);
    if (!p) return;
    p.requests++;
    if (atMs > p.lastUsedMs) p.lastUsedMs = atMs;
  }

  /** One failed call (anything but `success` in the call log) with the key `hash`. */
  recordError(hash: string): void {
    const p = this.entry(hash);
    if (p) p.errors++;
  }

  private entry(hash: string): Pending | undefined {
    let p = this.pending.get(hash);
    if (!p) {
      if (this.pending.size >= this.maxKeys) {
        this.dropped++;
        return undefined;
      }
      p = { requests: 0, errors: 0, lastUsedMs: 0 };
      this.pending.set(hash, p);
    }
    return p;
  }

  /** Writes the counts gathered so far; never throws. Concurrent calls share one write. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const entries = [...batch];
    let i = 0;
    try {
      for (; i < entries.length; i += 1_000) {
        const chunk = entries.slice(i, i + 1_000);
        const values = sql.join(
          chunk.map(
            ([hash, p]) =>
              sql`(${hash}::text, ${p.requests}::bigint, ${p.errors}::bigint, ${p.lastUsedMs > 0 ? new Date(p.lastUsedMs).toISOString() : null}::timestamptz)`,
          ),
          sql`, `,
        );
        await this.db.orm.execute(sql`
          UPDATE ati_keys AS k
             SET request_count = k.request_count + v.n,
                 error_count = k.error_count + v.e,
                 last_used_at = GREATEST(k.last_used_at, v.t)
            FROM (VALUES ${values}) AS v(hash, n, e, t)
           WHERE k.token_hash = v.hash`);
        this.flushedRows += chunk.length;
      }
    } catch (err) {
      this.logger.warn(
        { error: describeDbError(err), keys: entries.length - i },
        'key usage counters not written; will retry',
      );
      // Put back the counts of the chunks not written, merged with what arrived meanwhile.
      for (const [hash, p] of entries.slice(i)) {
        const q = this.entry(hash);
        if (!q) continue;
        q.requests += p.requests;
        q.errors += p.errors;
        q.lastUsedMs = Math.max(q.lastUsedMs, p.lastUsedMs);
      }
    }
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
