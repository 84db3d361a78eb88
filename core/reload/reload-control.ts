/**
 * Reload control: when a candidate generation is built and what becomes of it.
 *
 * One build runs at a time. A reload asked for while one runs supersedes it:
 * the running build's `signal` is aborted (plugins stop provisioning; the
 * candidate is discarded, whatever it provisioned closed again) and one more
 * reload follows that covers every request made meanwhile — all their callers
 * get its result. Shutdown aborts a running build the same way and refuses new
 * ones. Every finished attempt is logged, counted in the metrics and kept in
 * the reload status that `/health` and `/admin/config` show.
 */
import { AtiAggregateError, AtiError, toAtiError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { redactText } from '../../kernel/redact.js';
import type { ManifestCache } from '../../config/manifest-loader.js';
import { buildGeneration, type BuildInput, type BuildOutcome } from '../generation/builder.js';
import { PROVIDER_CLOSE_DEADLINE_MS, type Generation } from '../generation/generation.js';
import { metrics, triggerKind } from '../metrics/metrics.js';

export interface ReloadStatus {
  generation: number;
  loaded_at: string;
  last_error: string | null;
  last_attempt_at: string | null;
  last_result: 'applied' | 'unchanged' | 'rejected' | null;
}

export type ReloadResult =
  | {
      status: 'applied';
      generation: number;
      durationMs: number;
      changedFiles: string[];
      reused: string[];
      provisioned: string[];
    }
  | { status: 'unchanged'; generation: number; durationMs: number }
  | { status: 'rejected'; generation: number; durationMs: number; errors: AtiError[] };

export interface ReloadControlInit {
  /** What every build reads besides the per-build fields the control fills in. */
  build: Omit<BuildInput, 'id' | 'previous' | 'force' | 'signal' | 'manifestCache'>;
  /** The serving generation, or undefined before the first. */
  serving(): Generation | undefined;
  /** Makes `next` the serving generation (the host retires the old one). */
  swap(next: Generation): void;
  /** How long an abandoned build may take to wind down at shutdown, and its providers to close (default 5 s). */
  closeDeadlineMs?: number;
}

/** A reload asked for while another runs; every caller waiting for it shares `promise`. */
interface Queued {
  reason: string;
  force: boolean;
  promise: Promise<ReloadResult>;
  resolve(r: ReloadResult | Promise<ReloadResult>): void;
}

/** A build in progress: its abort handle and the end of everything it does. */
interface Building {
  controller: AbortController;
  done: Promise<unknown>;
}

const SUPERSEDED = Symbol('superseded');

export class ReloadControl {
  /** Listeners notified after every finished reload attempt (metrics, watchers, tests). */
  readonly listeners: Array<(r: ReloadResult, reason: string) => void> = [];

  private readonly init: ReloadControlInit;
  private readonly logger: Logger;
  private readonly closeDeadlineMs: number;
  private readonly manifestCache: ManifestCache = new Map();
  private readonly building = new Set<Building>();
  private nextId = 1;
  private running: AbortController | undefined;
  private queued: Queued | undefined;
  private stopped = false;
  private current: ReloadStatus = {
    generation: 0,
    loaded_at: new Date(0).toISOString(),
    last_error: null,
    last_attempt_at: null,
    last_result: null,
  };

  constructor(init: ReloadControlInit) {
    this.init = init;
    this.logger = init.build.logger;
    this.closeDeadlineMs = init.closeDeadlineMs ?? PROVIDER_CLOSE_DEADLINE_MS;
  }

  get status(): Readonly<ReloadStatus> {
    return this.current;
  }

  /** Builds and swaps in the first generation. Throws AtiAggregateError listing every problem. */
  async initial(): Promise<Generation> {
    const controller = new AbortController();
    const outcome = await this.track(controller, this.buildCandidate(true, controller.signal));
    if (outcome.status === 'built') {
      this.apply(outcome.generation);
      return outcome.generation;
    }
    if (outcome.status === 'aborted') {
      throw new AtiError('ATI_ERR_SHUTTING_DOWN', 'startup abandoned: the proxy is shutting down');
    }
    const errors = outcome.status === 'rejected' ? outcome.errors : [];
    throw new AtiAggregateError(
      errors.some((e) => e.code === 'ATI_ERR_MANIFESTS_DIR')
        ? 'ATI_ERR_MANIFESTS_DIR'
        : errors.length > 0 && errors.every((e) => e.code === 'ATI_ERR_KEYRING')
          ? 'ATI_ERR_KEYRING'
          : 'ATI_ERR_MANIFEST_INVALID',
      `configuration in ${this.init.build.options.atiDir} is invalid (${errors.length} problem${errors.length === 1 ? '' : 's'})`,
      errors,
    );
  }

  /**
   * Builds a candidate generation and swaps it in. Never throws: errors are
   * returned, logged and kept in the reload status while the current
   * generation keeps serving. A call made while a build runs supersedes it.
   */
  reload(reason: string, opts: { force?: boolean } = {}): Promise<ReloadResult> {
    const force = opts.force ?? false;
    if (this.stopped) return Promise.resolve(this.shutdownResult());
    if (!this.running) return this.run(reason, force);
    if (!this.running.signal.aborted) {
      this.running.abort(new AtiError('ATI_ERR_RELOAD', `superseded by a newer reload (${reason})`));
    }
    if (this.queued) {
      this.queued.force ||= force;
      return this.queued.promise;
    }
    let resolve!: Queued['resolve'];
    const promise = new Promise<ReloadResult>((r) => (resolve = r));
    this.queued = { reason, force, promise, resolve };
    return promise;
  }

  /** Aborts a running build and waits (up to the close deadline) until it has wound down; refuses new reloads. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    const reason = new AtiError('ATI_ERR_SHUTTING_DOWN', 'the proxy is shutting down');
    for (const b of this.building) b.controller.abort(reason);
    if (this.building.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.closeDeadlineMs);
      timer.unref();
    });
    const r = await Promise.race([Promise.all([...this.building].map((b) => b.done)), deadline]);
    clearTimeout(timer);
    if (r === 'timeout') {
      this.logger.warn({ deadline_ms: this.closeDeadlineMs }, 'abandoned reload did not wind down in time');
    }
  }

  private run(reason: string, force: boolean): Promise<ReloadResult> {
    const controller = new AbortController();
    this.running = controller;
    return this.track(controller, this.attempt(reason, force, controller.signal)).then((r) => {
      this.running = undefined;
      const next = this.queued;
      this.queued = undefined;
      if (next) next.resolve(this.stopped ? this.shutdownResult() : this.run(next.reason, next.force));
      // Only a queued reload supersedes a build, so `next` is there; its result answers this call too.
      return r === SUPERSEDED ? next!.promise : r;
    });
  }

  private track<T>(controller: AbortController, work: Promise<T>): Promise<T> {
    const b: Building = { controller, done: work.catch(() => undefined) };
    this.building.add(b);
    void b.done.then(() => this.building.delete(b));
    return work;
  }

  private buildCandidate(force: boolean, signal: AbortSignal): Promise<BuildOutcome> {
    return buildGeneration({
      ...this.init.build,
      id: this.nextId++,
      previous: this.init.serving(),
      force,
      signal,
      manifestCache: this.manifestCache,
    });
  }

  private async attempt(
    reason: string,
    force: boolean,
    signal: AbortSignal,
  ): Promise<ReloadResult | typeof SUPERSEDED> {
    const t0 = performance.now();
    this.logger.info({ trigger: reason }, 'reload started');
    let result: ReloadResult;
    try {
      const outcome = await this.buildCandidate(force, signal);
      // Checked with no await before the swap: an abandoned candidate never serves.
      if (signal.aborted) return await this.abandon(outcome, reason, t0);
      const durationMs = Math.round((performance.now() - t0) * 100) / 100;
      if (outcome.status === 'built') {
        const old = this.init.serving();
        this.apply(outcome.generation);
        const closed = old
          ? [...old.providers.keys()].filter((n) => outcome.generation.providers.get(n) !== old.providers.get(n))
          : [];
        result = {
          status: 'applied',
          generation: outcome.generation.id,
          durationMs,
          changedFiles: outcome.changedFiles,
          reused: outcome.reused,
          provisioned: outcome.provisioned,
        };
        this.logger.info(
          {
            trigger: reason,
            generation: outcome.generation.id,
            duration_ms: durationMs,
            changed_files: outcome.changedFiles,
            reused: outcome.reused,
            provisioned: outcome.provisioned,
            closed,
          },
          'reload applied',
        );
      } else if (outcome.status === 'unchanged') {
        const generation = this.init.serving()?.id ?? 0;
        result = { status: 'unchanged', generation, durationMs };
        this.logger.info({ trigger: reason, generation }, 'reload skipped: no source changed');
      } else {
        const errors = outcome.status === 'rejected' ? outcome.errors : [];
        result = { status: 'rejected', generation: this.init.serving()?.id ?? 0, durationMs, errors };
        for (const e of errors) {
          this.logger.error(
            {
              trigger: reason,
              code: e.code,
              file: e.location?.file,
              line: e.location?.line,
              field: e.location?.field,
              error: e.message,
            },
            'reload error',
          );
        }
        this.logger.error({ trigger: reason, errors: errors.length, generation: result.generation }, 'reload rejected');
      }
    } catch (err) {
      const e = toAtiError(err, 'ATI_ERR_RELOAD');
      const generation = this.init.serving()?.id ?? 0;
      result = { status: 'rejected', generation, durationMs: performance.now() - t0, errors: [e] };
      this.logger.error({ trigger: reason, error: e.message }, 'reload rejected');
    }
    this.record(result, reason);
    return result;
  }

  /** A build whose signal was aborted: its candidate is closed again and its outcome ignored. */
  private async abandon(outcome: BuildOutcome, reason: string, t0: number): Promise<ReloadResult | typeof SUPERSEDED> {
    if (outcome.status === 'built') await outcome.generation.retire(0, this.logger, this.closeDeadlineMs);
    const durationMs = Math.round((performance.now() - t0) * 100) / 100;
    if (this.stopped) {
      this.logger.info({ trigger: reason, duration_ms: durationMs }, 'reload abandoned: shutting down');
      return this.shutdownResult();
    }
    this.logger.info({ trigger: reason, duration_ms: durationMs }, 'reload superseded by a newer one');
    return SUPERSEDED;
  }

  /** Swaps in `next` and keeps the status and metrics of the serving generation. */
  private apply(next: Generation): void {
    const first = this.init.serving() === undefined;
    this.init.swap(next);
    metrics.generation.set(next.id);
    if (first) {
      metrics.configSynchronized.set(1);
      metrics.lastReloadSuccess.set(Date.now() / 1000);
    }
    this.current = { ...this.current, generation: next.id, loaded_at: next.loadedAt.toISOString(), last_error: null };
  }

  private record(result: ReloadResult, reason: string): void {
    this.current = {
      ...this.current,
      last_attempt_at: new Date().toISOString(),
      last_result: result.status,
      // `unchanged` means the files match the serving generation again, so a previous error is gone too.
      last_error: result.status === 'rejected' ? redactText(result.errors.map((e) => e.describe()).join('; ')) : null,
    };
    metrics.reloads.inc({ result: result.status, trigger: triggerKind(reason) });
    metrics.configSynchronized.set(result.status === 'rejected' ? 0 : 1);
    if (result.status !== 'rejected') metrics.lastReloadSuccess.set(Date.now() / 1000);
    for (const l of this.listeners) l(result, reason);
  }

  private shutdownResult(): ReloadResult {
    return {
      status: 'rejected',
      generation: this.init.serving()?.id ?? 0,
      durationMs: 0,
      errors: [new AtiError('ATI_ERR_SHUTTING_DOWN', 'reload abandoned: the proxy is shutting down')],
    };
  }
}
