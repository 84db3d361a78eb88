/**
 * The database schema, table for table and index for index the reference's
 * migration `20260501000001_init_persistence.sql`, so this
 * proxy can share a database the Rust proxy already uses. There are no
 * foreign keys, on purpose (as in the reference).
 *
 * Timestamps are `timestamptz` read in `string` mode: the database's own text
 * (microsecond precision) is kept and rendered as RFC 3339 `Z` by
 * core/db/timestamps.ts, instead of being cut to JavaScript's milliseconds.
 *
 * `drizzle-kit generate` turns this file into the SQL under drizzle/
 * (see drizzle.config.ts); never edit a generated migration.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  index,
  inet,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';

const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: 'string' });
const textArray = (name: string) =>
  text(name)
    .array()
    .notNull()
    .default(sql`'{}'`);

/** Live virtual keys (`Ati-Key`). Only the SHA-256 of the raw key is stored. */
export const atiKeys = pgTable(
  'ati_keys',
  {
    tokenHash: text('token_hash').primaryKey(),
    keyAlias: text('key_alias').notNull(),
    userId: text('user_id').notNull(),
    blocked: boolean('blocked').notNull().default(false),
    expiresAt: tstz('expires_at'),
    tools: textArray('tools'),
    providers: textArray('providers'),
    categories: textArray('categories'),
    skills: textArray('skills'),
    requestCount: bigint('request_count', { mode: 'number' }).notNull().default(0),
    errorCount: bigint('error_count', { mode: 'number' }).notNull().default(0),
    lastUsedAt: tstz('last_used_at'),
    metadata: jsonb('metadata')
      .notNull()
      .default(sql`'{}'::jsonb`),
    createdAt: tstz('created_at').notNull().defaultNow(),
    createdBy: text('created_by'),
  },
  (t) => [
    unique('ati_keys_user_id_key_alias_key').on(t.userId, t.keyAlias),
    index('idx_ati_keys_user').on(t.userId),
    index('idx_ati_keys_active_expiring')
      .on(t.expiresAt)
      .where(sql`blocked = FALSE AND expires_at IS NOT NULL`),
  ],
);

/** Soft-delete archive: the full `ati_keys` row (`to_jsonb`) at revocation time. */
export const atiDeletedKeys = pgTable('ati_deleted_keys', {
  tokenHash: text('token_hash').primaryKey(),
  snapshot: jsonb('snapshot').notNull(),
  deletedAt: tstz('deleted_at').notNull().defaultNow(),
  deletedBy: text('deleted_by'),
});

/** One row per `/call`, `/mcp` `tools/call` and `/help` (written by core/db/call-log-writer.ts). */
export const atiCallLog = pgTable(
  'ati_call_log',
  {
    requestId: uuid('request_id').primaryKey().defaultRandom(),
    startedAt: tstz('started_at').notNull(),
    endedAt: tstz('ended_at').notNull(),
    latencyMs: bigint('latency_ms', { mode: 'number' }).notNull(),
    tokenHash: text('token_hash'),
    userId: text('user_id'),
    sessionId: text('session_id'),
    endpoint: text('endpoint').notNull(),
    toolName: text('tool_name'),
    provider: text('provider'),
    handler: text('handler'),
    status: text('status').notNull(),
    upstreamStatus: integer('upstream_status'),
    errorClass: text('error_class'),
    errorMessage: text('error_message'),
    requestArgs: jsonb('request_args'),
    responseSize: integer('response_size'),
    requesterIp: inet('requester_ip'),
    userAgent: text('user_agent'),
  },
  (t) => [
    index('idx_call_log_started_at').on(t.startedAt.desc().nullsFirst()),
    index('idx_call_log_token').on(t.tokenHash, t.startedAt.desc().nullsFirst()),
    index('idx_call_log_tool').on(t.toolName, t.startedAt.desc().nullsFirst()),
    index('idx_call_log_failures')
      .on(t.status, t.startedAt.desc().nullsFirst())
      .where(sql`status <> 'success'`),
  ],
);

/** Admin mutations (`key.issue`, `key.revoke`, `key.bulk_revoke`, `key.block`), written in the mutation's transaction. */
export const atiAuditLog = pgTable(
  'ati_audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    happenedAt: tstz('happened_at').notNull().defaultNow(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    targetTable: text('target_table').notNull(),
    targetId: text('target_id').notNull(),
    beforeValue: jsonb('before_value'),
    afterValue: jsonb('after_value'),
  },
  (t) => [
    index('idx_audit_log_target').on(t.targetTable, t.targetId, t.happenedAt.desc().nullsFirst()),
    index('idx_audit_log_actor').on(t.actor, t.happenedAt.desc().nullsFirst()),
  ],
);

export const schema = { atiKeys, atiDeletedKeys, atiCallLog, atiAuditLog };

export type KeyRow = typeof atiKeys.$inferSelect;
export type CallLogInsert = typeof atiCallLog.$inferInsert;
