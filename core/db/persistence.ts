/**
 * The database feature as one object the composition root wires in
 * (core/compose.ts): opening and checking the database, migrations, the
 * virtual-key store, key administration, the revocation listener, usage
 * counters, the call-log writer and the liveness probe, and closing them in
 * order at shutdown.
 *
 * `keyStore` and `callLog` exist from construction (the auth stage and the
 * routes take them before the database is open): until `open()` finishes a
 * lookup answers 503 and a call record is dropped.
 */
import { AtiError } from '../../kernel/errors.js';
import type { CallLog, CallRecord } from '../tools/call-log.js';
import type { Generation } from '../generation/generation.js';
import type { Logger } from '../../kernel/logger.js';
import type { CallerIdentity } from '../plugin/contract.js';
import type { KeyStore } from '../pipeline/key-store.js';
import type { CallLogWriter, CallLogWriterOptions } from './call-log-writer.js';
import type { Database } from './client.js';
import type { DbProbe } from './db-probe.js';
import { parseDbUrl, type DbTarget } from './db-url.js';
import type { KeyAdmin } from './key-admin.js';
import type { DbKeyStore, KeyStoreOptions } from './key-store.js';
import type { SchemaStatus } from './migrate.js';
import type { RevocationListener, RevocationListenerOptions } from './revocation.js';
import type { UsageCounters, UsageCountersOptions } from './usage-counters.js';

/**
 * The database modules, loaded on `open()` only: a proxy without `ATI_DB_URL`
 * never loads drizzle or a driver.
 */
async function loadModules() {
  const [client, migrator, usage, keyStore, keyAdmin, revocation, writer, probe] = await Promise.all([
    import('./client.js'),
    import('./migrate.js'),
    import('./usage-counters.js'),
    import('./key-store.js'),
    import('./key-admin.js'),
    import('./revocation.js'),
    import('./call-log-writer.js'),
    import('./db-probe.js'),
  ]);
  return { ...client, ...migrator, ...usage, ...keyStore, ...keyAdmin, ...revocation, ...writer, ...probe };
}

export interface PersistenceOptions {
  logger: Logger;
  /** `--migrate`: apply pending migrations at open. */
  migrate: boolean;
  /** The serving generation (virtual-key provider/category grants). */
  generation: () => Generation | undefined;
  poolMax?: number;
  keyStore?: Pick<KeyStoreOptions, 'positiveTtlMs' | 'negativeTtlMs' | 'maxEntries' | 'maxNegativeEntries'>;
  listener?: RevocationListenerOptions;
  callLog?: Omit<CallLogWriterOptions, 'usage'>;
  usage?: UsageCountersOptions;
  /** Liveness probe cache and deadline (default 5 s, 500 ms). */
  probe?: { ttlMs?: number; timeoutMs?: number };
  /** Use this open database instead of opening `target` (tests, embedders); `close()` leaves it open. */
  database?: Database;
}

export interface OpenState {
  db: Database;
  store: DbKeyStore;
  admin: KeyAdmin;
  listener: RevocationListener;
  usage: UsageCounters;
  writer: CallLogWriter;
  probe: DbProbe;
  schema: SchemaStatus;
}

export class Persistence {
  private state: OpenState | undefined;
  private closing: Promise<void> | undefined;

  /** Stable facade for the auth stage: 503 until open, then the database store. */
  readonly keyStore: KeyStore = {
    lookup: (raw: string): Promise<CallerIdentity | undefined> => {
      if (!this.state) return Promise.reject(new AtiError('ATI_ERR_DB', 'database not open'));
      return this.state.store.lookup(raw);
    },
  };

  /** Stable facade for the call sites: records go to the writer once open. */
  readonly callLog: CallLog = {
    record: (entry: CallRecord) => this.state?.writer.record(entry),
  };

  constructor(
    readonly target: DbTarget,
    private readonly opts: PersistenceOptions,
  ) {}

  /**
   * `ATI_DB_URL` → a Persistence, or undefined when it is unset or blank
   * (database disabled). Throws ATI_ERR_CONFIG for an unsupported URL.
   */
  static fromEnv(env: NodeJS.ProcessEnv, opts: Omit<PersistenceOptions, 'poolMax'>): Persistence | undefined {
    const target = parseDbUrl(env['ATI_DB_URL']);
    if (!target) return undefined;
    const rawMax = env['ATI_DB_POOL_MAX']?.trim();
    let poolMax: number | undefined;
    if (rawMax) {
      poolMax = Number(rawMax);
      if (!Number.isInteger(poolMax) || poolMax < 1 || poolMax > 1000)
        throw new AtiError('ATI_ERR_CONFIG', 'ATI_DB_POOL_MAX must be an integer between 1 and 1000');
    }
    return new Persistence(target, { ...opts, poolMax });
  }

  get isOpen(): boolean {
    return this.state !== undefined;
  }

  /** The open parts; throws when not open (a bug in the caller). */
  get parts(): OpenState {
    if (!this.state) throw new AtiError('ATI_ERR_DB', 'database not open');
    return this.state;
  }

  /** Connects, checks, migrates (with `--migrate`), starts the listener and the writers. Throws ATI_ERR_DB. */
  async open(): Promise<OpenState> {
    if (this.state) return this.state;
    const { logger } = this.opts;
    const m = await loadModules();
    const injected = this.opts.database;
    const db = injected ?? (await m.openDatabase(this.target, { poolMax: this.opts.poolMax }));
    try {
      let schema: SchemaStatus;
      if (this.opts.migrate) {
        const report = await m.migrate(db, { logger });
        logger.info(
          { applied: report.applied, baselined: report.baselined, up_to_date: report.upToDate.length },
          'applied database migrations',
        );
        schema = { state: 'current', pending: [], referenceBaseline: report.baselined.length > 0 };
      } else {
        schema = await m.schemaStatus(db);
        if (schema.state === 'missing') {
          logger.warn(
            { db: db.label },
            'database has no ATI schema: Ati-Key requests will answer 503 and /admin/keys/* 500 until `ati db migrate` runs (or start with --migrate)',
          );
        } else if (schema.state === 'pending') {
          logger.warn(
            { pending: schema.pending },
            'database migrations pending: run `ati db migrate` (or start with --migrate)',
          );
        }
      }
      const usage = new m.UsageCounters(db, logger, this.opts.usage);
      const store = new m.DbKeyStore(db, { generation: this.opts.generation, logger, usage, ...this.opts.keyStore });
      const listener = new m.RevocationListener(db, store, logger, this.opts.listener);
      const writer = new m.CallLogWriter(db, logger, { ...this.opts.callLog, usage });
      const probe = new m.DbProbe(db, this.opts.probe?.ttlMs, this.opts.probe?.timeoutMs);
      probe.seed(true);
      await listener.start();
      usage.start();
      writer.start();
      this.state = { db, store, admin: new m.KeyAdmin(db, store), listener, usage, writer, probe, schema };
      return this.state;
    } catch (err) {
      if (!injected) await db.close().catch(() => undefined);
      throw err;
    }
  }

  /** Flushes the call log and usage counters, stops the listener, closes the pool. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const s = this.state;
      if (!s) return;
      await s.writer.close();
      await s.usage.close();
      await s.listener.close();
      if (!this.opts.database) await s.db.close();
    })();
    return this.closing;
  }
}
