/**
 * Writes the call log (`ati_call_log`) asynchronously in batches (the reference
 * never wrote it; docs/reference-compat.md#call-log):
 * a multi-row INSERT every second or as soon as `batchSize` rows wait. The
 * request path only converts the record to a row (bounded work: arguments are
 * redacted and cut here, see core/db/arg-redaction.ts) and pushes it.
 *
 * A database outage never fails or slows a call: rows stay buffered while
 * writes fail and are retried; past `maxBuffered` the oldest are dropped and
 * counted (with a WARN at most once a minute). A batch the database refuses
 * for its data (not for being down) is dropped and counted rather than
 * retried for ever. Usage counters learn about failed calls from here.
 */
import { metrics } from '../metrics/metrics.js';
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { sql } from 'drizzle-orm';
import type { CallLog, CallRecord } from '../tools/call-log.js';
import type { Logger } from '../../kernel/logger.js';
import { clean, redactArgs, truncateChars } from './arg-redaction.js';
import type { Database } from './client.js';
import { describeDbError, isConnectionError } from './db-errors.js';
import { atiCallLog, type CallLogInsert } from './schema.js';
import type { UsageCounters } from './usage-counters.js';

export interface CallLogWriterOptions {
  batchSize?: number;
  intervalMs?: number;
  maxBuffered?: number;
  usage?: UsageCounters;
  now?: () => number;
}

export interface CallLogStats {
  recorded: number;
  written: number;
  dropped: number;
  failedFlushes: number;
  buffered: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INT4_MAX = 2_147_483_647;

export class CallLogWriter implements CallLog {
  private buffer: CallLogInsert[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private lastDropWarnMs = 0;
  private droppedSinceWarn = 0;
  private closed = false;
  private readonly batchSize: number;
  private readonly intervalMs: number;
  private readonly maxBuffered: number;
  private readonly now: () => number;
  private readonly counts = { recorded: 0, written: 0, dropped: 0, failedFlushes: 0 };

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    private readonly opts: CallLogWriterOptions = {},
  ) {
    this.batchSize = opts.batchSize ?? 500;
    this.intervalMs = opts.intervalMs ?? 1_000;
    this.maxBuffered = opts.maxBuffered ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  get stats(): CallLogStats {
    return { ...this.counts, buffered: this.buffer.length };
  }

  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  record(entry: CallRecord): void {
    try {
      const row = toRow(entry, this.now());
      this.counts.recorded++;
      if (entry.status !== 'success' && entry.caller?.keyHash) this.opts.usage?.recordError(entry.caller.keyHash);
      if (this.closed) {
        this.drop(1);
        return;
      }
      if (this.buffer.length >= this.maxBuffered) {
        this.buffer.shift();
        this.drop(1);
      }
      this.buffer.push(row);
      if (this.buffer.length >= this.batchSize && !this.flushing) void this.flush();
    } catch {
      // A record that cannot even be converted is dropped; the call itself is never affected.
      this.drop(1);
    }
  }

  private drop(n: number): void {
    this.counts.dropped += n;
    metrics.callLogDropped.inc(n);
    this.droppedSinceWarn += n;
    const now = this.now();
    if (now - this.lastDropWarnMs >= 60_000) {
      this.lastDropWarnMs = now;
      this.logger.warn(
        { dropped: this.droppedSinceWarn, dropped_total: this.counts.dropped, buffered: this.buffer.length },
        'call log rows dropped',
      );
      this.droppedSinceWarn = 0;
    }
  }

  /** Writes everything buffered (in batches). Never throws; concurrent calls share one run. */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.batchSize);
      try {
        await this.insert(batch);
        this.counts.written += batch.length;
      } catch (err) {
        this.counts.failedFlushes++;
        if (isConnectionError(err)) {
          // Put the batch back in front of what arrived meanwhile, within the bound, and retry later.
          const room = Math.max(0, this.maxBuffered - this.buffer.length);
          const keep = batch.slice(Math.max(0, batch.length - room));
          if (keep.length < batch.length) this.drop(batch.length - keep.length);
          this.buffer.unshift(...keep);
          if (this.counts.failedFlushes === 1 || this.counts.failedFlushes % 60 === 0) {
            this.logger.warn(
              { error: describeDbError(err), buffered: this.buffer.length },
              'call log write failed; rows kept for retry',
            );
          }
          return;
        }
        // Refused for its content (or a missing table): retrying would fail the same way. Go on with the next batch.
        this.logger.warn(
          { error: describeDbError(err), rows: batch.length },
          'call log batch refused by the database; dropped',
        );
        this.drop(batch.length);
      }
    }
  }

  /** Multi-row INSERT; a row whose id is taken (a client-chosen request id seen before) is re-inserted with a fresh id. */
  private async insert(batch: CallLogInsert[]): Promise<void> {
    const seen = new Set<string>();
    for (const row of batch) {
      if (!row.requestId || seen.has(row.requestId)) row.requestId = randomUUID();
      seen.add(row.requestId);
    }
    const inserted = await this.db.orm
      .insert(atiCallLog)
      .values(batch)
      .onConflictDoNothing({ target: atiCallLog.requestId })
      .returning({ id: atiCallLog.requestId });
    if (inserted.length === batch.length) return;
    const ok = new Set(inserted.map((r) => r.id));
    const retry = batch.filter((r) => !ok.has(r.requestId!)).map((r) => ({ ...r, requestId: randomUUID() }));
    await this.db.orm.insert(atiCallLog).values(retry);
  }

  /** Stops the timer and writes what is buffered, waiting at most `deadlineMs`. */
  async close(deadlineMs = 5_000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.flush(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, deadlineMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    this.closed = true;
    if (this.buffer.length > 0) {
      this.logger.warn({ rows: this.buffer.length }, 'call log rows not written at shutdown');
      this.drop(this.buffer.length);
      this.buffer = [];
    }
  }
}

/** A record as a row: timestamps, redacted arguments, bounded texts, values Postgres accepts. */
export function toRow(r: CallRecord, nowMs: number): CallLogInsert {
  const duration = Number.isFinite(r.durationMs) && r.durationMs >= 0 ? r.durationMs : 0;
  const started = r.startedAt ? r.startedAt.getTime() : nowMs - duration;
  const text = (s: string | null | undefined, max: number) =>
    s === null || s === undefined ? null : truncateChars(clean(s), max);
  const int4 = (n: number | null | undefined) =>
    typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= INT4_MAX ? n : null;
  const ip = r.requesterIp ? r.requesterIp.replace(/%.*$/, '') : null;
  return {
    requestId: r.requestId && UUID.test(r.requestId) ? r.requestId.toLowerCase() : undefined,
    startedAt: new Date(started).toISOString(),
    endedAt: new Date(started + duration).toISOString(),
    latencyMs: Math.round(duration),
    tokenHash: r.caller?.keyHash ?? null,
    userId: text(r.caller?.sub, 512),
    sessionId: text(r.sessionId ?? r.caller?.jobId, 512),
    endpoint: `/${r.endpoint}`,
    toolName: text(r.tool, 512),
    provider: text(r.provider, 512),
    handler: text(r.handler, 128),
    status: r.status,
    upstreamStatus: int4(r.upstreamStatus),
    errorClass: text(r.errorClass, 128),
    errorMessage: text(r.error, 2_000),
    requestArgs: r.args === undefined ? null : redactArgs(r.args),
    responseSize: int4(r.responseSize),
    requesterIp: ip && isIP(ip) ? ip : null,
    userAgent: text(r.userAgent, 512),
  };
}

/** Rows of the call log, newest first (`ati audit tail`). */
export async function readCallLog(
  db: Database,
  q: { sinceIso?: string; toolPattern?: string; limit: number },
): Promise<Array<Record<string, unknown>>> {
  const where = [sql`TRUE`];
  if (q.sinceIso) where.push(sql`started_at >= ${q.sinceIso}::timestamptz`);
  if (q.toolPattern) {
    const p = q.toolPattern;
    if (p.endsWith('*')) {
      const prefix = p.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`);
      where.push(sql`tool_name LIKE ${`${prefix}%`} ESCAPE '\\'`);
    } else where.push(sql`tool_name = ${p}`);
  }
  return db.rows(sql`
    SELECT request_id::text AS request_id, started_at::text AS started_at, latency_ms, endpoint, tool_name, provider, handler,
           status, upstream_status, error_class, error_message, request_args, user_id, token_hash, session_id,
           host(requester_ip) AS requester_ip, user_agent, response_size
      FROM ati_call_log
     WHERE ${sql.join(where, sql` AND `)}
     ORDER BY started_at DESC
     LIMIT ${q.limit}`);
}
