-- Custom SQL migration file, put your code below! --
-- Every change to ati_keys that can make a cached key wrong (revocation by
-- DELETE, blocking, a new expiry or new grants) notifies every proxy on the
-- channel the reference already uses (ati_key_revoked, payload = token hash),
-- so a replica's cache is invalidated even when the change is made with plain
-- SQL. Usage counters (request_count, error_count, last_used_at) do not notify.
-- Postgres folds identical notifications of one transaction into one, so the
-- proxy's own pg_notify on revoke is not delivered twice.
CREATE OR REPLACE FUNCTION ati_keys_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('ati_key_revoked', OLD.token_hash);
    RETURN OLD;
  END IF;
  IF NEW.token_hash IS DISTINCT FROM OLD.token_hash
     OR NEW.blocked IS DISTINCT FROM OLD.blocked
     OR NEW.expires_at IS DISTINCT FROM OLD.expires_at
     OR NEW.user_id IS DISTINCT FROM OLD.user_id
     OR NEW.tools IS DISTINCT FROM OLD.tools
     OR NEW.providers IS DISTINCT FROM OLD.providers
     OR NEW.categories IS DISTINCT FROM OLD.categories
     OR NEW.skills IS DISTINCT FROM OLD.skills THEN
    PERFORM pg_notify('ati_key_revoked', OLD.token_hash);
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint
DROP TRIGGER IF EXISTS ati_keys_notify_change ON ati_keys;
--> statement-breakpoint
CREATE TRIGGER ati_keys_notify_change
  AFTER UPDATE OR DELETE ON ati_keys
  FOR EACH ROW EXECUTE FUNCTION ati_keys_notify_change();
