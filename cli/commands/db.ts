/**
 * `ati db migrate` applies the database migrations (drizzle/) to `ATI_DB_URL`
 * under the migration advisory lock — the "one migration job before deploy"
 * of docs/persistence.md#replica-setup-several-proxies-one-postgresql, after
 * which replicas start without `--migrate`.
 * `ati db status` shows what is applied and what is pending, changing nothing.
 */
import type { Command } from 'commander';
import { AtiError } from '../../kernel/errors.js';
import { createLogger } from '../../kernel/logger.js';
import type { Database } from '../../core/db/client.js';
import { parseDbUrl } from '../../core/db/db-url.js';
import type { GlobalOptions } from '../main.js';
import { reportFatal } from '../output.js';

/** Opens `ATI_DB_URL` for a one-shot command; a clear error when it is unset. */
export async function openFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Database> {
  const target = parseDbUrl(env['ATI_DB_URL']);
  if (!target)
    throw new AtiError(
      'ATI_ERR_USAGE',
      'ATI_DB_URL is not set: set it to postgres://user:pass@host:5432/db or pglite:<dir>',
    );
  // Loaded here, not at the top: every `ati` command module is imported at startup.
  const { openDatabase } = await import('../../core/db/client.js');
  return openDatabase(target, { poolMax: 2, applicationName: 'ati-cli' });
}

export function register(program: Command, globals: () => GlobalOptions): void {
  const db = program.command('db').description('Database maintenance (ATI_DB_URL)');

  db.command('migrate')
    .description('Apply pending database migrations (safe to run from several hosts at once)')
    .action(async () => {
      const g = globals();
      const logger = createLogger({ level: g.verbose ? 'debug' : 'warn' });
      let conn: Database | undefined;
      try {
        conn = await openFromEnv();
        const { migrate } = await import('../../core/db/migrate.js');
        const report = await migrate(conn, { logger });
        if (g.outputExplicit && g.output === 'json') {
          process.stdout.write(
            `${JSON.stringify({ database: conn.label, applied: report.applied, baselined: report.baselined, up_to_date: report.upToDate })}\n`,
          );
        } else {
          for (const b of report.baselined)
            process.stdout.write(`baseline: ${b} (the database was migrated by the reference)\n`);
          for (const a of report.applied) process.stdout.write(`applied: ${a}\n`);
          process.stdout.write(
            report.applied.length === 0
              ? `${conn.label}: up to date\n`
              : `${conn.label}: applied ${report.applied.length} migration(s)\n`,
          );
        }
        await conn.close();
      } catch (err) {
        await conn?.close().catch(() => undefined);
        process.exit(reportFatal(err, g.output, logger));
      }
    });

  db.command('status')
    .description('Show applied and pending migrations without changing anything')
    .action(async () => {
      const g = globals();
      let conn: Database | undefined;
      try {
        conn = await openFromEnv();
        const { schemaStatus } = await import('../../core/db/migrate.js');
        const s = await schemaStatus(conn);
        if (g.outputExplicit && g.output === 'json') {
          process.stdout.write(
            `${JSON.stringify({ database: conn.label, state: s.state, pending: s.pending, reference_baseline: s.referenceBaseline })}\n`,
          );
        } else {
          process.stdout.write(
            `${conn.label}: ${s.state}${s.pending.length ? ` (pending: ${s.pending.join(', ')})` : ''}\n`,
          );
        }
        await conn.close();
      } catch (err) {
        await conn?.close().catch(() => undefined);
        process.exit(reportFatal(err, g.output));
      }
    });
}
