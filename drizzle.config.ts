/**
 * drizzle-kit configuration: `npx drizzle-kit generate` writes SQL migrations
 * for core/db/schema.ts into drizzle/. The proxy applies them itself
 * (core/db/migrate.ts: `ati db migrate`, `ati proxy --migrate`), recording
 * them in `public.__ati_migrations` (drizzle's table layout), so
 * `drizzle-kit migrate` with this file would agree with it.
 */
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './core/db/schema.ts',
  out: './drizzle',
  migrations: { table: '__ati_migrations', schema: 'public' },
  dbCredentials: { url: process.env['ATI_DB_URL'] ?? 'postgres://localhost/ati' },
});
