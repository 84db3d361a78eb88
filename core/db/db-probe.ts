/**
 * A cached liveness probe of the database (the reference's `/health` `db` is a
 * fixed string that never notices an outage): `SELECT 1` with a
 * 500 ms deadline, at most once per 5 s. `/health` reads the last answer
 * (`db_reachable`) without waiting; `/readyz` waits for a fresh one when the
 * last is stale.
 */
import type { Database } from './client.js';

export class DbProbe {
  private last: { ok: boolean; at: number } | undefined;
  private running: Promise<boolean> | undefined;

  constructor(
    private readonly db: Database,
    private readonly ttlMs = 5_000,
    private readonly timeoutMs = 500,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a known state (the startup `SELECT 1`). */
  seed(ok: boolean): void {
    this.last = { ok, at: this.now() };
  }

  /** The last answer (undefined before any); starts a refresh in the background when stale. */
  current(): boolean | undefined {
    if (!this.last || this.now() - this.last.at >= this.ttlMs) void this.refresh();
    return this.last?.ok;
  }

  /** A fresh-enough answer, probing if the cached one is stale. */
  async check(): Promise<boolean> {
    if (this.last && this.now() - this.last.at < this.ttlMs) return this.last.ok;
    return this.refresh();
  }

  private refresh(): Promise<boolean> {
    this.running ??= this.db
      .ping(this.timeoutMs)
      .then((ok) => {
        this.last = { ok, at: this.now() };
        return ok;
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }
}
