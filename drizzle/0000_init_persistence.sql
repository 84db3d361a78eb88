CREATE TABLE "ati_audit_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"happened_at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"target_table" text NOT NULL,
	"target_id" text NOT NULL,
	"before_value" jsonb,
	"after_value" jsonb
);
--> statement-breakpoint
CREATE TABLE "ati_call_log" (
	"request_id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone NOT NULL,
	"latency_ms" bigint NOT NULL,
	"token_hash" text,
	"user_id" text,
	"session_id" text,
	"endpoint" text NOT NULL,
	"tool_name" text,
	"provider" text,
	"handler" text,
	"status" text NOT NULL,
	"upstream_status" integer,
	"error_class" text,
	"error_message" text,
	"request_args" jsonb,
	"response_size" integer,
	"requester_ip" "inet",
	"user_agent" text
);
--> statement-breakpoint
CREATE TABLE "ati_deleted_keys" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"snapshot" jsonb NOT NULL,
	"deleted_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_by" text
);
--> statement-breakpoint
CREATE TABLE "ati_keys" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"key_alias" text NOT NULL,
	"user_id" text NOT NULL,
	"blocked" boolean DEFAULT false NOT NULL,
	"expires_at" timestamp with time zone,
	"tools" text[] DEFAULT '{}' NOT NULL,
	"providers" text[] DEFAULT '{}' NOT NULL,
	"categories" text[] DEFAULT '{}' NOT NULL,
	"skills" text[] DEFAULT '{}' NOT NULL,
	"request_count" bigint DEFAULT 0 NOT NULL,
	"error_count" bigint DEFAULT 0 NOT NULL,
	"last_used_at" timestamp with time zone,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_by" text,
	CONSTRAINT "ati_keys_user_id_key_alias_key" UNIQUE("user_id","key_alias")
);
--> statement-breakpoint
CREATE INDEX "idx_audit_log_target" ON "ati_audit_log" USING btree ("target_table","target_id","happened_at" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "idx_audit_log_actor" ON "ati_audit_log" USING btree ("actor","happened_at" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "idx_call_log_started_at" ON "ati_call_log" USING btree ("started_at" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "idx_call_log_token" ON "ati_call_log" USING btree ("token_hash","started_at" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "idx_call_log_tool" ON "ati_call_log" USING btree ("tool_name","started_at" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "idx_call_log_failures" ON "ati_call_log" USING btree ("status","started_at" DESC NULLS FIRST) WHERE status <> 'success';--> statement-breakpoint
CREATE INDEX "idx_ati_keys_user" ON "ati_keys" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "idx_ati_keys_active_expiring" ON "ati_keys" USING btree ("expires_at") WHERE blocked = FALSE AND expires_at IS NOT NULL;