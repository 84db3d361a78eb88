/**
 * Revocation across replicas (docs/persistence.md#revocation-across-replicas). Every
 * revoke, bulk revoke or block sends `NOTIFY ati_key_revoked, '<hash>'` in its
 * transaction (and the 0001 migration's trigger does so for any change to a
 * key row, even by hand). Every proxy LISTENs and evicts that hash.
 *
 * The LISTEN connection is a dedicated `pg.Client` outside the pool: it never
 * takes a query slot, and it can bypass a transaction-pooling PgBouncer (which
 * cannot carry LISTEN). When it drops, it reconnects with backoff (first retry
 * after `initialDelayMs`, doubling up to 30 s) and, on every successful
 * subscribe, flushes the whole key cache — notifications sent while it was
 * away are lost, so nothing cached before can be trusted. A periodic
 * `SELECT 1` on it notices a connection that died silently.
 *
 * With PGlite (one process) notifications are delivered in-process.
 */
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from '../../kernel/logger.js';
import type { Database } from './client.js';
import { describeDbError } from './db-errors.js';
import { utcSessionOption } from './db-url.js';

export const REVOCATION_CHANNEL = 'ati_key_revoked';

/** What the listener invalidates: the key store. */
export interface RevocationTarget {
  evict(hash: string): void;
  flushAll(): void;
}

export interface RevocationListenerOptions {
  /** Delay before the first reconnect attempt (default 250 ms); doubles up to `maxDelayMs`. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Liveness query period on the LISTEN connection (default 30 s). */
  pingIntervalMs?: number;
  applicationName?: string;
}

export type ListenerState = 'idle' | 'connecting' | 'listening' | 'disconnected' | 'closed';

/**
 * Events: `listening` (after every successful subscribe, with the number of
 * the subscription: 1 for the first), `disconnected` (error message),
 * `notification` (hash).
 */
export class RevocationListener extends EventEmitter {
  private client: pg.Client | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private warned = false;
  private subscriptions = 0;
  private _state: ListenerState = 'idle';
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly pingIntervalMs: number;

  constructor(
    private readonly db: Database,
    private readonly target: RevocationTarget,
    private readonly logger: Logger,
    private readonly opts: RevocationListenerOptions = {},
  ) {
    super();
    this.initialDelayMs = opts.initialDelayMs ?? 250;
    this.maxDelayMs = opts.maxDelayMs ?? 30_000;
    this.pingIntervalMs = opts.pingIntervalMs ?? 30_000;
    this.delayMs = this.initialDelayMs;
  }

  get state(): ListenerState {
    return this._state;
  }

  /** Number of successful subscribes so far (reconnects = this - 1). */
  get subscribeCount(): number {
    return this.subscriptions;
  }

  /** Subscribes; resolves after the first attempt (a failure there is retried in the background). */
  async start(): Promise<void> {
    if (this._state !== 'idle') return;
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this._state === 'closed') return;
    this._state = 'connecting';
    try {
      if (this.db.pglite) {
        this.unlisten = await this.db.pglite.listen(REVOCATION_CHANNEL, (payload) => this.onNotify(payload));
      } else {
        await this.connectPg();
      }
    } catch (err) {
      this.onDrop(err);
      return;
    }
    if (this.isClosed()) {
      await this.teardown();
      return;
    }
    if (this.stateNow() === 'disconnected') return; // dropped right after subscribing: a retry is scheduled
    this._state = 'listening';
    this.subscriptions++;
    this.delayMs = this.initialDelayMs;
    // Anything cached may be stale: notifications before this point were not seen.
    this.target.flushAll();
    if (this.warned)
      this.logger.info({ channel: REVOCATION_CHANNEL }, 'revocation listener reconnected; key cache flushed');
    this.warned = false;
    this.emit('listening', this.subscriptions);
  }

  private async connectPg(): Promise<void> {
    const target = this.db.target;
    if (target.kind !== 'postgres') throw new Error('not a postgres database');
    const client = new pg.Client({
      connectionString: target.url,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
      application_name: this.opts.applicationName ?? 'ati-proxy-listen',
      ...utcSessionOption(target.url),
    });
    this.client = client;
    client.on('notification', (msg) => {
      if (msg.channel === REVOCATION_CHANNEL && msg.payload) this.onNotify(msg.payload);
    });
    client.on('error', (err) => this.onDrop(err, client));
    client.on('end', () => this.onDrop(new Error('connection ended'), client));
    await client.connect();
    await client.query(`LISTEN ${REVOCATION_CHANNEL}`);
    this.pingTimer = setInterval(() => {
      client.query('SELECT 1').catch((err: unknown) => this.onDrop(err, client));
    }, this.pingIntervalMs);
    this.pingTimer.unref();
  }

  private onNotify(hash: string): void {
    this.target.evict(hash);
    this.emit('notification', hash);
  }

  /** The connection failed or dropped: tear down, schedule a reconnect. */
  private onDrop(err: unknown, client?: pg.Client): void {
    if (client && client !== this.client) return; // an older connection's late event
    if (this._state === 'closed' || this._state === 'disconnected') return;
    this._state = 'disconnected';
    void this.teardown();
    const message = describeDbError(err);
    if (!this.warned) {
      this.warned = true;
      this.logger.warn(
        { error: message, retry_ms: this.delayMs, channel: REVOCATION_CHANNEL },
        'revocation listener disconnected; reconnecting',
      );
    } else {
      this.logger.debug({ error: message, retry_ms: this.delayMs }, 'revocation listener still disconnected');
    }
    this.emit('disconnected', message);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, this.delayMs);
    this.retryTimer.unref();
    this.delayMs = Math.min(this.delayMs * 2, this.maxDelayMs);
  }

  private async teardown(): Promise<void> {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    const client = this.client;
    this.client = undefined;
    if (client) {
      client.removeAllListeners('notification');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    if (unlisten && !this.db.pglite?.closed) await unlisten().catch(() => undefined);
  }

  /** The state read afresh (TypeScript narrows `_state` across awaits). */
  private stateNow(): ListenerState {
    return this._state;
  }

  private isClosed(): boolean {
    return this._state === 'closed';
  }

  async close(): Promise<void> {
    this._state = 'closed';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.teardown();
  }
}
