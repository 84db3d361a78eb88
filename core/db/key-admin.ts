/**
 * Virtual-key administration (docs/api.md#admin-virtual-keys-adminkeys): issue, revoke,
 * bulk revoke, block, read and list. Every mutation writes its
 * `ati_audit_log` row(s) and sends its NOTIFY in the same transaction, so the
 * change, its audit and the cache invalidation of other replicas commit
 * together or not at all. The local cache is updated after commit.
 *
 * Differences from the reference, all from its "what to do better" list:
 * a duplicate alias is a 409 (not a 500 with SQL text), an omitted
 * `metadata` is stored as `{}` (not JSON null), `expires_in_secs` is bounded,
 * bulk revoke is set-based and defaults `deleted_by` to "admin" like single
 * revoke, and a key can be blocked through the API (with NOTIFY).
 */
import { and, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { AtiError } from '../../kernel/errors.js';
import { toAtiDbError } from './db-errors.js';
import { resultRows, type Database } from './client.js';
import type { DbKeyStore } from './key-store.js';
import { REVOCATION_CHANNEL } from './revocation.js';
import { atiAuditLog, atiKeys, type KeyRow } from './schema.js';
import { toRfc3339 } from './timestamps.js';
import { MAX_EXPIRES_IN_SECS } from './key-api.js';
import { generateRawKey, hashRawKey } from './virtual-key.js';

export interface IssueRequest {
  userId: string;
  alias: string;
  tools: string[];
  providers: string[];
  categories: string[];
  skills: string[];
  expiresInSecs: number | null;
  metadata: unknown;
  createdBy: string | null;
}

export interface IssuedKey {
  raw_key: string;
  hash: string;
  alias: string;
  expires_at: string | null;
}

export interface BulkRevokeFilter {
  userId?: string;
  aliasPrefix?: string;
  hashes?: string[];
  by?: string;
}

/** Escapes `%`, `_` and `\` so a prefix matches literally in `LIKE … ESCAPE '\'`. */
export function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export class KeyAdmin {
  constructor(
    private readonly db: Database,
    private readonly store?: DbKeyStore,
  ) {}

  async issue(req: IssueRequest): Promise<IssuedKey> {
    if (req.userId.trim() === '') throw new AtiError('ATI_ERR_BAD_REQUEST', 'user_id is required');
    if (req.alias.trim() === '') throw new AtiError('ATI_ERR_BAD_REQUEST', 'key_alias is required');
    if (req.expiresInSecs !== null && req.expiresInSecs > MAX_EXPIRES_IN_SECS) {
      throw new AtiError('ATI_ERR_BAD_REQUEST', `expires_in_secs must be at most ${MAX_EXPIRES_IN_SECS} (10 years)`);
    }
    const raw = generateRawKey();
    const hash = hashRawKey(raw);
    const expiresAt = req.expiresInSecs === null ? null : new Date(Date.now() + req.expiresInSecs * 1000).toISOString();
    const actor = req.createdBy ?? 'admin';
    let row: KeyRow;
    try {
      row = await this.db.orm.transaction(async (tx) => {
        const [inserted] = await tx
          .insert(atiKeys)
          .values({
            tokenHash: hash,
            keyAlias: req.alias,
            userId: req.userId,
            expiresAt,
            tools: req.tools,
            providers: req.providers,
            categories: req.categories,
            skills: req.skills,
            metadata: req.metadata === undefined ? {} : req.metadata,
            createdBy: req.createdBy,
          })
          .returning();
        await tx.insert(atiAuditLog).values({
          actor,
          action: 'key.issue',
          targetTable: 'ati_keys',
          targetId: hash,
          beforeValue: null,
          afterValue: {
            alias: req.alias,
            user_id: req.userId,
            tools: req.tools,
            providers: req.providers,
            categories: req.categories,
            skills: req.skills,
            expires_at: expiresAt === null ? null : toRfc3339(expiresAt),
          },
        });
        return inserted!;
      });
    } catch (err) {
      throw toAtiDbError(err, { uniqueViolation: 'alias already exists for user' });
    }
    this.store?.remember(row);
    return { raw_key: raw, hash, alias: req.alias, expires_at: toRfc3339(row.expiresAt) };
  }

  /** Revokes one key; false when there is no such key. */
  async revoke(hash: string, by: string): Promise<boolean> {
    const n = await this.deleteWhere(eq(atiKeys.tokenHash, hash), by, 'key.revoke');
    return n > 0;
  }

  /** Revokes every key matching all the given filters; at least one must be meaningful. */
  async bulkRevoke(f: BulkRevokeFilter): Promise<number> {
    const conds: SQL[] = [];
    if (f.userId !== undefined && f.userId.trim() !== '') conds.push(eq(atiKeys.userId, f.userId));
    if (f.aliasPrefix !== undefined && f.aliasPrefix.trim() !== '')
      conds.push(sql`${atiKeys.keyAlias} LIKE ${likePrefix(f.aliasPrefix)} ESCAPE '\\'`);
    if (f.hashes !== undefined && f.hashes.length > 0) conds.push(inArray(atiKeys.tokenHash, f.hashes));
    if (conds.length === 0) throw new AtiError('ATI_ERR_BAD_REQUEST', 'bulk_revoke requires at least one filter field');
    return this.deleteWhere(and(...conds)!, f.by ?? 'admin', 'key.bulk_revoke');
  }

  /**
   * Set-based soft delete: one statement moves the matching rows to
   * `ati_deleted_keys` (snapshot = `to_jsonb` of the row), one writes their
   * audit rows, one sends a NOTIFY per hash; all in one transaction.
   */
  private async deleteWhere(where: SQL, by: string, action: 'key.revoke' | 'key.bulk_revoke'): Promise<number> {
    let hashes: string[];
    try {
      hashes = await this.db.orm.transaction(async (tx) => {
        const result = await tx.execute(sql`
          WITH gone AS (
            DELETE FROM ati_keys WHERE ${where}
            RETURNING token_hash, to_jsonb(ati_keys.*) AS snapshot
          ), archived AS (
            INSERT INTO ati_deleted_keys (token_hash, snapshot, deleted_by)
            SELECT token_hash, snapshot, ${by}::text FROM gone
            ON CONFLICT (token_hash) DO UPDATE SET snapshot = EXCLUDED.snapshot, deleted_at = now(), deleted_by = EXCLUDED.deleted_by
          ), audited AS (
            INSERT INTO ati_audit_log (actor, action, target_table, target_id, before_value, after_value)
            SELECT ${by}::text, ${action}::text, 'ati_keys', token_hash, snapshot, NULL FROM gone
          )
          SELECT token_hash, pg_notify(${REVOCATION_CHANNEL}::text, token_hash) FROM gone`);
        return resultRows<{ token_hash: string }>(result).map((r) => r.token_hash);
      });
    } catch (err) {
      throw toAtiDbError(err);
    }
    for (const h of hashes) this.store?.evict(h);
    return hashes.length;
  }

  /** Blocks (or unblocks) a key; false when there is no such key. Blocked keys answer 401 on every replica. */
  async setBlocked(hash: string, blocked: boolean, by: string): Promise<boolean> {
    let found: boolean;
    try {
      found = await this.db.orm.transaction(async (tx) => {
        const before = await tx.execute(
          sql`SELECT to_jsonb(ati_keys.*) AS snapshot FROM ati_keys WHERE token_hash = ${hash} FOR UPDATE`,
        );
        const snapshot = resultRows<{ snapshot: unknown }>(before)[0]?.snapshot;
        if (snapshot === undefined) return false;
        const after = await tx.execute(
          sql`UPDATE ati_keys SET blocked = ${blocked} WHERE token_hash = ${hash} RETURNING to_jsonb(ati_keys.*) AS snapshot`,
        );
        await tx.insert(atiAuditLog).values({
          actor: by,
          action: blocked ? 'key.block' : 'key.unblock',
          targetTable: 'ati_keys',
          targetId: hash,
          beforeValue: snapshot,
          afterValue: resultRows<{ snapshot: unknown }>(after)[0]?.snapshot,
        });
        await tx.execute(sql`SELECT pg_notify(${REVOCATION_CHANNEL}::text, ${hash}::text)`);
        return true;
      });
    } catch (err) {
      throw toAtiDbError(err);
    }
    if (found) this.store?.evict(hash);
    return found;
  }

  /** One key row, read from the database (fresh, unlike the reference's cached read); blocked and expired included. */
  async get(hash: string): Promise<KeyRow | undefined> {
    try {
      const rows = await this.db.orm.select().from(atiKeys).where(eq(atiKeys.tokenHash, hash)).limit(1);
      return rows[0];
    } catch (err) {
      throw toAtiDbError(err);
    }
  }

  /** A user's keys, newest first, at most `limit` (default 100, as the reference). */
  async list(userId: string, limit = 100): Promise<KeyRow[]> {
    try {
      return await this.db.orm
        .select()
        .from(atiKeys)
        .where(eq(atiKeys.userId, userId))
        .orderBy(desc(atiKeys.createdAt))
        .limit(limit);
    } catch (err) {
      throw toAtiDbError(err);
    }
  }
}
